//! `riverwatch bench sqlite-load`: a readings CSV (the `detect` contract, e.g. from `riverwatch
//! simulate`) written into an embedded SQLite reading store through the store's own batched
//! writes — how the replay memory benchmark (`scripts/bench-replay-memory.sh`) builds its
//! year-long windows. Prints one JSON line: readings stored, lines skipped, seconds.

use anyhow::{Context, Result};
use riverwatch_engine::csv::LineReader;
use riverwatch_live::store::{ReadingStore, SqliteStore};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

/// `bench sqlite-load` options.
#[derive(clap::Args)]
pub struct Args {
    /// Readings CSV (`time,station,parameter,value[,flag]`).
    #[arg(long)]
    input: PathBuf,
    /// SQLite reading store (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Readings per write transaction.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
}

/// Loads the CSV into the store.
pub async fn run(args: Args) -> Result<()> {
    let store =
        SqliteStore::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let started = Instant::now();
    let mut parser = LineReader::default();
    let (mut batch, mut stored, mut skipped) = (Vec::with_capacity(args.batch), 0, 0u64);
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", args.input.display()))?;
        if line.is_empty() || (i == 0 && LineReader::is_header(&line)) {
            continue;
        }
        match parser.parse(&line) {
            Ok(r) => batch.push(r),
            Err(_) => skipped += 1,
        }
        if batch.len() >= args.batch.max(1) {
            stored += store.write(&batch).await?.stored;
            batch.clear();
        }
    }
    stored += store.write(&batch).await?.stored;
    println!(
        "{}",
        serde_json::json!({
            "readings": stored,
            "skipped": skipped,
            "secs": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

//! `riverwatch bench sqlite-load` and `bench influx-load`: a readings CSV (the `detect`
//! contract, e.g. from `riverwatch simulate`) written into an embedded SQLite reading store or
//! an InfluxDB database through the store's own batched writes — how the replay memory
//! benchmark (`scripts/bench-replay-memory.sh`) builds its year-long windows. Prints one JSON
//! line: readings stored, lines skipped, seconds.

use anyhow::{Context, Result};
use riverwatch_engine::csv::LineReader;
use riverwatch_live::store::{InfluxOpts, InfluxStore, ReadingStore, SqliteStore};
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

/// `bench influx-load` options.
#[derive(clap::Args)]
pub struct InfluxArgs {
    /// Readings CSV (`time,station,parameter,value[,flag]`).
    #[arg(long)]
    input: PathBuf,
    /// InfluxDB base URL.
    #[arg(long)]
    url: reqwest::Url,
    /// Database (must exist).
    #[arg(long)]
    db: String,
    /// Readings per write request.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
}

/// Loads the CSV into the SQLite store.
pub async fn run(args: Args) -> Result<()> {
    let store =
        SqliteStore::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    load(&store, &args.input, args.batch).await
}

/// Loads the CSV into the InfluxDB database.
pub async fn run_influx(args: InfluxArgs) -> Result<()> {
    let store = InfluxStore::new(InfluxOpts {
        max_lines: args.batch.max(1),
        ..InfluxOpts::new(args.url, &args.db)
    })?;
    load(&store, &args.input, args.batch).await
}

/// Writes the readings of CSV `input` to `store`, `batch` at a time.
async fn load<S: ReadingStore>(
    store: &S,
    input: &std::path::Path,
    batch_size: usize,
) -> Result<()> {
    let file =
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let started = Instant::now();
    let mut parser = LineReader::default();
    let (mut batch, mut stored, mut skipped) = (Vec::with_capacity(batch_size), 0, 0u64);
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", input.display()))?;
        if line.is_empty() || (i == 0 && LineReader::is_header(&line)) {
            continue;
        }
        match parser.parse(&line) {
            Ok(r) => batch.push(r),
            Err(_) => skipped += 1,
        }
        if batch.len() >= batch_size.max(1) {
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

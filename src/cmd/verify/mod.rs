//! `riverwatch verify ledger|lead ID|export ID --out DIR`: evidence integrity from the shell
//! (issue 7). Works on the files, offline: the ledger and the reading store named by
//! `--ledger`/`--store`, or by the `riverwatch.toml` in `--config DIR` (which can name an
//! InfluxDB store). `--config DIR` is also the config a lead's config hash is checked
//! against. Exit status 0 means every check passed; 1 that one failed (the output names what
//! changed) or that verification could not run (an `error:` line says why).

use anyhow::{bail, Context as _, Result};
use riverwatch_engine::config::Config;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::time::parse_duration;
use riverwatch_live::config::StoreKind;
use riverwatch_live::seal::bundle::Bundle;
use riverwatch_live::seal::verify::{verify_lead, LeadVerification, VerifyOptions};
use riverwatch_live::seal::PublicKey;
use riverwatch_live::store::{AnyStore, InfluxStore, SqliteStore};
use riverwatch_live::{Ledger, ServiceConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct Args {
    /// Ledger file (default: `ledger` of DIR/riverwatch.toml).
    #[arg(long, global = true)]
    ledger: Option<PathBuf>,
    /// SQLite reading store (default: the store of DIR/riverwatch.toml).
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    /// Config directory: the config to check leads against, and its riverwatch.toml names the
    /// ledger and store when --ledger/--store are not given.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Public key every checked entry must be signed with: 64 hex digits, PEM, or a file
    /// holding either (see `riverwatch keys show`).
    #[arg(long, global = true)]
    key: Option<String>,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Walk the ledger's hash chain; report the first break, if any.
    Ledger,
    /// Check one lead: chain, signature, config, evidence digest, and a replay of the engine.
    Lead {
        /// Lead id.
        id: String,
        #[command(flatten)]
        lead: LeadArgs,
    },
    /// Verify a lead and write its evidence bundle (checkable with `sha256sum -c`).
    Export {
        /// Lead id.
        id: String,
        /// Directory to write (created; must be empty if it exists).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        lead: LeadArgs,
    },
}

/// Options of `verify lead` and `verify export`.
#[derive(clap::Args)]
struct LeadArgs {
    /// Revision (default: the latest).
    #[arg(long)]
    revision: Option<u32>,
    /// History replayed before the evidence window for the detectors' baselines (default:
    /// from where the live engine's state began, as sealed).
    #[arg(long)]
    warmup: Option<String>,
    /// Skip the replay check.
    #[arg(long)]
    no_replay: bool,
    /// Directory of the trained model files the lead was made with (its model versions say
    /// which); unreadable files are reported and skipped.
    #[arg(long)]
    models: Option<PathBuf>,
}

/// Runs `verify`.
pub fn run(args: Args) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let key = args.key.as_deref().map(read_key).transpose()?;
        let service = match &args.config {
            Some(dir) if dir.join("riverwatch.toml").is_file() => {
                Some(ServiceConfig::load(&dir.join("riverwatch.toml"))?)
            }
            _ => None,
        };
        let ledger = open_ledger(args.ledger.as_deref(), service.as_ref())?;
        match args.action {
            Action::Ledger => verify_ledger(&ledger, key).await,
            Action::Lead { id, lead } => {
                let store = open_store(args.store.as_deref(), service.as_ref())?;
                let v =
                    check_lead(&ledger, &store, &id, &lead, args.config.as_deref(), key).await?;
                print_verification(&v);
                Ok(exit(v.ok))
            }
            Action::Export { id, out, lead } => {
                let store = open_store(args.store.as_deref(), service.as_ref())?;
                let v =
                    check_lead(&ledger, &store, &id, &lead, args.config.as_deref(), key).await?;
                print_verification(&v);
                Bundle::assemble(&ledger, &store, &v)
                    .await?
                    .write_dir(&out)?;
                println!(
                    "evidence bundle written to {} (check: cd {} && sha256sum -c SHA256SUMS)",
                    out.display(),
                    out.display()
                );
                Ok(exit(v.ok))
            }
        }
    })
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A public key from the argument text or the file it names.
fn read_key(arg: &str) -> Result<PublicKey> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("reading {arg}"))?
    } else {
        arg.to_string()
    };
    Ok(PublicKey::parse(&text)?)
}

fn open_ledger(path: Option<&Path>, service: Option<&ServiceConfig>) -> Result<Ledger> {
    let path = match (path, service) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(s)) => s.ledger_path.clone(),
        (None, None) => {
            bail!("which ledger? give --ledger FILE or --config DIR with a riverwatch.toml")
        }
    };
    if !path.is_file() {
        bail!("no ledger at {}", path.display());
    }
    Ledger::open(&path).with_context(|| format!("opening {}", path.display()))
}

fn open_store(path: Option<&Path>, service: Option<&ServiceConfig>) -> Result<AnyStore> {
    match (path, service) {
        (Some(p), _) => {
            if !p.is_file() {
                bail!("no reading store at {}", p.display());
            }
            Ok(AnyStore::Sqlite(SqliteStore::open(p)?))
        }
        (None, Some(s)) => Ok(match &s.store.kind {
            StoreKind::Sqlite(p) => AnyStore::Sqlite(SqliteStore::open(p)?),
            StoreKind::Influx(i) => AnyStore::Influx(InfluxStore::new(i.opts(s.store.batch_size))?),
        }),
        (None, None) => {
            bail!("which reading store? give --store FILE or --config DIR with a riverwatch.toml")
        }
    }
}

async fn verify_ledger(ledger: &Ledger, key: Option<PublicKey>) -> Result<ExitCode> {
    let r = ledger.verify_chain(key).await?;
    println!(
        "{} entries: {} lead revisions, {} configs, {} analyst decisions, {} ingest checkpoints, {} dead-letter checkpoints; {} signed",
        r.entries, r.leads, r.configs, r.decisions, r.ingest_checkpoints, r.dead_letter_checkpoints, r.signed
    );
    if r.unsealed_revisions > 0 {
        println!(
            "{} lead revisions were recorded before sealing began and are not covered",
            r.unsealed_revisions
        );
    }
    if r.unsealed_decisions > 0 {
        println!(
            "{} analyst decisions were recorded before decisions were sealed and are not covered",
            r.unsealed_decisions
        );
    }
    println!("head {}", r.head);
    match r.breaks.first() {
        None => {
            println!("ledger ok: the chain is whole");
            Ok(ExitCode::SUCCESS)
        }
        Some(first) => {
            println!("ledger BROKEN: {} problems; first:", r.breaks.len());
            for b in &r.breaks {
                let at = if b.seq > 0 {
                    format!("entry #{}", b.seq)
                } else {
                    "no entry".to_string()
                };
                println!("  {at} ({} {}): {}", b.kind, b.subject, b.reason);
                if b == first && r.breaks.len() > 1 {
                    println!("  then:");
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}

async fn check_lead(
    ledger: &Ledger,
    store: &AnyStore,
    id: &str,
    args: &LeadArgs,
    config: Option<&Path>,
    key: Option<PublicKey>,
) -> Result<LeadVerification> {
    let warmup = args
        .warmup
        .as_deref()
        .map(|w| {
            parse_duration(w)
                .with_context(|| format!("--warmup `{w}` is not a duration such as 2d or 36h"))
        })
        .transpose()?;
    let config = config.map(Config::load_dir).transpose()?;
    let models = match &args.models {
        Some(dir) => {
            let (models, unreadable) = MultivariateModel::load_dir(dir)?;
            for e in unreadable {
                eprintln!("warning: {e}; the replay runs without it");
            }
            models
        }
        None => Vec::new(),
    };
    // The replay `riverwatch replay` runs, with the window's end left open as it was live.
    let opts = VerifyOptions {
        revision: args.revision,
        key,
        config,
        warmup,
        models,
        replay: (!args.no_replay).then_some(&riverwatch_batch::replay::revisions),
    };
    Ok(verify_lead(ledger, store, id, opts).await?)
}

fn print_verification(v: &LeadVerification) {
    println!(
        "lead {} revision {} (ledger entry #{}, {})",
        v.lead, v.revision, v.entry, v.digest
    );
    for c in &v.checks {
        println!(
            "  {:<9} {}  {}",
            c.name,
            if c.ok { "ok  " } else { "FAIL" },
            c.detail
        );
    }
    if v.ok {
        println!("verified: yes");
    } else {
        let failed: Vec<&str> = v.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        println!("verified: NO ({} failed)", failed.join(", "));
    }
}

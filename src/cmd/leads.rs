//! `riverwatch leads list|show|ack|confirm|dismiss|export`: the analysts' lead queue from the
//! shell, through a running service's HTTP API or, with `--ledger`, straight from the ledger
//! file (offline: no service, no token — whoever can write the file already holds the data).
//!
//! Filters are parsed by the API's own parser (`riverwatch_live::api::lead_filter`), so the
//! shell accepts exactly what the API accepts, and the same words fail the same way.

use anyhow::{bail, Context as _, Result};
use riverwatch_engine::leads::{Lead, Status};
use riverwatch_engine::time::{Millis, Rfc3339};
use riverwatch_live::api::{lead_filter, lead_query};
use riverwatch_live::config::ENV_API_TOKEN;
use riverwatch_live::{LeadFilter, Ledger, ServiceConfig};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `leads`.
#[derive(clap::Args)]
pub struct Args {
    /// Base URL of a running service (default: `http.listen` of `--config`, else
    /// http://127.0.0.1:8080). The token for status changes comes from RIVERWATCH_API_TOKEN.
    #[arg(long, global = true, conflicts_with = "ledger")]
    url: Option<String>,
    /// Work on this ledger file directly instead of a running service.
    #[arg(long, global = true)]
    ledger: Option<PathBuf>,
    /// Config directory whose riverwatch.toml names the service's listen address.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Print a table of leads, newest window first.
    List {
        #[command(flatten)]
        filter: Filter,
        /// Leads per page (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Leads to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Print one lead as pretty JSON (with its notes and status history).
    Show {
        /// Lead id.
        id: String,
    },
    /// Mark a lead acknowledged (under review).
    Ack(Decision),
    /// Mark a lead confirmed.
    Confirm(Decision),
    /// Mark a lead dismissed.
    Dismiss(Decision),
    /// Write every matching lead as JSON lines (or CSV).
    Export {
        #[command(flatten)]
        filter: Filter,
        /// `jsonl` or `csv`.
        #[arg(long, default_value = "jsonl")]
        format: Format,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Which leads: the filters of `GET /api/leads`.
#[derive(clap::Args)]
struct Filter {
    /// new, acknowledged, confirmed or dismissed.
    #[arg(long)]
    status: Option<String>,
    /// suspected_discharge, standard_exceedance or monitoring_anomaly.
    #[arg(long)]
    category: Option<String>,
    /// Station id.
    #[arg(long)]
    station: Option<String>,
    /// Leads whose window ends at or after this RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Leads whose window starts before this RFC 3339 time.
    #[arg(long)]
    to: Option<String>,
}

impl Filter {
    fn parse(&self, limit: u32, offset: u64) -> Result<LeadFilter> {
        let mut pairs = vec![
            ("limit".to_string(), limit.to_string()),
            ("offset".to_string(), offset.to_string()),
        ];
        for (k, v) in [
            ("status", &self.status),
            ("category", &self.category),
            ("station", &self.station),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                pairs.push((k.to_string(), v.clone()));
            }
        }
        // The API names the query parameter; here it is the option of the same name.
        lead_filter(&pairs)
            .map_err(|e| anyhow::anyhow!("{}", e.message.replace("parameter `", "option `--")))
    }
}

/// An analyst's decision on a lead.
#[derive(clap::Args)]
struct Decision {
    /// Lead id.
    id: String,
    /// Who decides.
    #[arg(long)]
    analyst: String,
    /// Why.
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Jsonl,
    Csv,
}

/// Runs `leads`.
pub fn run(args: Args) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let backend = Backend::new(&args)?;
        match args.action {
            Action::List {
                filter,
                limit,
                offset,
            } => {
                let (leads, total) = backend.list(filter.parse(limit, offset)?).await?;
                print_table(&leads, total, offset)?;
            }
            Action::Show { id } => {
                let lead = backend.show(&id).await?;
                println!("{}", serde_json::to_string_pretty(&lead)?);
            }
            Action::Ack(d) => decide(&backend, d, Status::Acknowledged).await?,
            Action::Confirm(d) => decide(&backend, d, Status::Confirmed).await?,
            Action::Dismiss(d) => decide(&backend, d, Status::Dismissed).await?,
            Action::Export {
                filter,
                format,
                out,
            } => export(&backend, &filter, format, out).await?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn decide(backend: &Backend, d: Decision, status: Status) -> Result<()> {
    let lead = backend
        .set_status(&d.id, status, &d.analyst, &d.note)
        .await?;
    println!(
        "{} is now {} ({} notes)",
        lead.id,
        name(&lead.status),
        lead.notes.len()
    );
    Ok(())
}

/// Where leads come from: a service over HTTP or the ledger file.
enum Backend {
    Http {
        client: reqwest::Client,
        base: String,
        token: Option<String>,
    },
    Ledger(Ledger),
}

impl Backend {
    fn new(args: &Args) -> Result<Self> {
        if let Some(path) = &args.ledger {
            if !path.is_file() {
                bail!("no ledger at {}", path.display());
            }
            let ledger =
                Ledger::open(path).with_context(|| format!("opening {}", path.display()))?;
            return Ok(Self::Ledger(ledger));
        }
        let base = match (&args.url, &args.config) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(dir)) => {
                let cfg = ServiceConfig::load(&dir.join("riverwatch.toml"))?;
                let mut addr = cfg.http.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            }
            (None, None) => "http://127.0.0.1:8080".to_string(),
        };
        Ok(Self::Http {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .context("building the HTTP client")?,
            base,
            token: std::env::var(ENV_API_TOKEN).ok().filter(|t| !t.is_empty()),
        })
    }

    async fn list(&self, filter: LeadFilter) -> Result<(Vec<Lead>, u64)> {
        match self {
            Self::Ledger(l) => Ok(l.list(filter).await?),
            Self::Http { client, base, .. } => {
                let req = client
                    .get(format!("{base}/api/leads"))
                    .query(&lead_query(&filter));
                let mut page = answer(req, base).await?;
                let total = page["total"].as_u64().context("answer without `total`")?;
                let leads = serde_json::from_value(page["leads"].take())
                    .context("answer's `leads` are not leads")?;
                Ok((leads, total))
            }
        }
    }

    async fn show(&self, id: &str) -> Result<Lead> {
        match self {
            Self::Ledger(l) => l
                .get(id)
                .await?
                .with_context(|| format!("lead {id} not found")),
            Self::Http { client, base, .. } => {
                let req = client.get(format!("{base}/api/leads/{}", path_segment(id)));
                lead_of(answer(req, base).await?)
            }
        }
    }

    async fn set_status(
        &self,
        id: &str,
        status: Status,
        analyst: &str,
        note: &str,
    ) -> Result<Lead> {
        match self {
            Self::Ledger(l) => Ok(l.set_status(id, status, analyst, note, now()).await?),
            Self::Http {
                client,
                base,
                token,
            } => {
                let mut req = client
                    .post(format!("{base}/api/leads/{}/status", path_segment(id)))
                    .json(
                        &serde_json::json!({ "status": status, "analyst": analyst, "note": note }),
                    );
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                } else {
                    eprintln!(
                        "note: {ENV_API_TOKEN} is not set; the service will refuse the change"
                    );
                }
                lead_of(answer(req, base).await?)
            }
        }
    }
}

/// Sends `req`; the JSON answer, or an error with the service's own reason.
async fn answer(req: reqwest::RequestBuilder, base: &str) -> Result<Value> {
    let resp = req.send().await.with_context(|| {
        format!("cannot reach riverwatch at {base} (is the service running? --ledger PATH works offline)")
    })?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("{base} answered HTTP {status} without JSON"))?;
    if !status.is_success() {
        let reason = body["error"].as_str().unwrap_or("no reason given");
        bail!("HTTP {}: {reason}", status.as_u16());
    }
    Ok(body)
}

fn lead_of(mut detail: Value) -> Result<Lead> {
    serde_json::from_value(detail["lead"].take()).context("answer's `lead` is not a lead")
}

/// `id` escaped for use as one URL path segment (ids are hex digests, but input is input).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// The snake_case name serde gives a unit enum variant.
fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn print_table(leads: &[Lead], total: u64, offset: u64) -> Result<()> {
    let header = [
        "ID", "REV", "CATEGORY", "STATION", "WINDOW", "SEVERITY", "STATUS",
    ];
    let rows: Vec<[String; 7]> = leads
        .iter()
        .map(|l| {
            [
                l.id.clone(),
                l.revision.to_string(),
                name(&l.category),
                l.station.to_string(),
                format!("{} .. {}", Rfc3339(l.window.start), Rfc3339(l.window.end)),
                name(&l.severity),
                name(&l.status),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |out: &mut dyn Write, cells: &[&str]| -> std::io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(&mut out, &header)?;
    for row in &rows {
        line(&mut out, &row.each_ref().map(String::as_str))?;
    }
    let shown = rows.len() as u64;
    if shown == 0 {
        writeln!(out, "no leads ({total} match)")?;
    } else {
        writeln!(out, "leads {}-{} of {total}", offset + 1, offset + shown)?;
    }
    Ok(())
}

/// Columns of `export --format csv`.
const CSV_HEADER: &str =
    "id,revision,category,station,stations,window_start,window_end,severity,confidence,status,open,summary";

async fn export(
    backend: &Backend,
    filter: &Filter,
    format: Format,
    out: Option<PathBuf>,
) -> Result<()> {
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    if matches!(format, Format::Csv) {
        writeln!(sink, "{CSV_HEADER}")?;
    }
    let mut offset = 0u64;
    loop {
        let (page, total) = backend
            .list(filter.parse(LeadFilter::MAX_LIMIT, offset)?)
            .await?;
        for lead in &page {
            match format {
                Format::Jsonl => writeln!(sink, "{}", serde_json::to_string(lead)?)?,
                Format::Csv => writeln!(sink, "{}", csv_row(lead))?,
            }
        }
        offset += page.len() as u64;
        if page.is_empty() || offset >= total {
            break;
        }
    }
    sink.flush()?;
    if let Some(p) = out {
        eprintln!("{offset} leads written to {}", p.display());
    }
    Ok(())
}

fn csv_row(l: &Lead) -> String {
    let stations: Vec<&str> = l.stations.iter().map(|s| s.as_str()).collect();
    [
        l.id.clone(),
        l.revision.to_string(),
        name(&l.category),
        l.station.to_string(),
        stations.join(" "),
        Rfc3339(l.window.start).to_string(),
        Rfc3339(l.window.end).to_string(),
        name(&l.severity),
        l.confidence.to_string(),
        name(&l.status),
        l.open.to_string(),
        l.summary.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
}

/// RFC 4180 quoting: fields holding a comma, quote or line break are quoted, quotes doubled.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

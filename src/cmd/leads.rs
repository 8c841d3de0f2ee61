//! `riverwatch leads list|show|ack|confirm|dismiss|dossier|export`: the analysts' lead queue
//! from the shell, through a running service's HTTP API or, with `--ledger`, straight from the
//! ledger file (offline: no service, no token — whoever can write the file already holds the
//! data; `--store` names the readings file the evidence comes from).
//!
//! The dossier and the intake sheet are rendered by `riverwatch_live::report`: over HTTP the
//! service renders them (`/api/leads/{id}/dossier`, `/api/leads/export`), offline this command
//! calls the same functions, so both give the same file.
//!
//! Filters are parsed by the API's own parser (`riverwatch_live::api::lead_filter`), so the
//! shell accepts exactly what the API accepts, and the same words fail the same way.

use anyhow::{bail, Context as _, Result};
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::{Lead, Status};
use riverwatch_engine::time::{Millis, Rfc3339};
use riverwatch_live::api::{lead_filter, lead_query};
use riverwatch_live::config::ENV_API_TOKEN;
use riverwatch_live::report::{self, Lang, SheetFormat};
use riverwatch_live::seal::Signer;
use riverwatch_live::store::SqliteStore;
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
    /// Config directory whose riverwatch.toml names the service's listen address (offline: its
    /// stations.toml and gb3838.toml name stations and limits; the shipped ones otherwise).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// With `--ledger`: the SQLite readings file the evidence of dossiers and sheets comes from.
    #[arg(long, global = true, requires = "ledger")]
    store: Option<PathBuf>,
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
    /// Render one lead as a printable case dossier (one self-contained HTML file).
    Dossier {
        /// Lead id.
        id: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Language of every label: zh (default) or en.
        #[arg(long, default_value = "zh", value_parser = parse_lang)]
        lang: Lang,
        /// Also print it to this PDF file with Debian's chromium (headless), or the browser
        /// named by RIVERWATCH_CHROMIUM.
        #[arg(long)]
        pdf: Option<PathBuf>,
    },
    /// Write every matching lead as JSON lines, or as a case-intake sheet (CSV or xlsx).
    Export {
        #[command(flatten)]
        filter: Filter,
        /// `jsonl` (the lead JSON), `csv` (intake sheet, UTF-8 with BOM) or `xlsx` (intake sheet).
        #[arg(long, default_value = "jsonl")]
        format: Format,
        /// Language of the intake sheet: zh (default) or en.
        #[arg(long, default_value = "zh", value_parser = parse_lang)]
        lang: Lang,
        /// Output file (default: stdout; required for xlsx).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse()
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
    Xlsx,
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
            Action::Dossier { id, out, lang, pdf } => {
                let html = backend.dossier(&id, lang).await?;
                write_out(out.as_deref(), html.as_bytes())?;
                if let Some(pdf) = pdf {
                    print_pdf(&html, &pdf)?;
                }
            }
            Action::Export {
                filter,
                format,
                lang,
                out,
            } => match format {
                Format::Jsonl => export(&backend, &filter, out).await?,
                Format::Csv | Format::Xlsx => {
                    let sheet = match format {
                        Format::Xlsx if out.is_none() => {
                            bail!("--format xlsx writes a binary workbook: name the file with --out")
                        }
                        Format::Xlsx => SheetFormat::Xlsx,
                        _ => SheetFormat::Csv,
                    };
                    let bytes = backend.sheet(filter.parse(0, 0)?, sheet, lang).await?;
                    write_out(out.as_deref(), &bytes)?;
                }
            },
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

/// Where leads come from: a service over HTTP or the ledger file (with the readings file and
/// the config that dossiers and sheets need offline).
enum Backend {
    Http {
        client: reqwest::Client,
        base: String,
        token: Option<String>,
    },
    Ledger {
        ledger: Ledger,
        store: Option<SqliteStore>,
        config: Box<Config>,
    },
}

impl Backend {
    fn new(args: &Args) -> Result<Self> {
        if let Some(path) = &args.ledger {
            if !path.is_file() {
                bail!("no ledger at {}", path.display());
            }
            // Decisions are chain entries: signed with the service's key when it is set here too.
            let ledger = Ledger::open(path)
                .with_context(|| format!("opening {}", path.display()))?
                .with_signer(Signer::from_env()?);
            let store = match &args.store {
                Some(p) if !p.is_file() => bail!("no readings file at {}", p.display()),
                Some(p) => {
                    Some(SqliteStore::open(p).with_context(|| format!("opening {}", p.display()))?)
                }
                None => None,
            };
            let config = match &args.config {
                Some(dir) => Config::load_dir(dir)?,
                None => Config::embedded(),
            };
            return Ok(Self::Ledger {
                ledger,
                store,
                config: Box::new(config),
            });
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
            Self::Ledger { ledger, .. } => Ok(ledger.list(filter).await?),
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
            Self::Ledger { ledger, .. } => ledger
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
            Self::Ledger { ledger, .. } => {
                Ok(ledger.set_status(id, status, analyst, note, now()).await?)
            }
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

    /// The dossier of lead `id`.
    async fn dossier(&self, id: &str, lang: Lang) -> Result<String> {
        match self {
            Self::Ledger {
                ledger,
                store,
                config,
            } => Ok(report::dossier(ledger, store.as_ref(), config, id, lang).await?),
            Self::Http { client, base, .. } => {
                let req = client
                    .get(format!("{base}/api/leads/{}/dossier", path_segment(id)))
                    .query(&[("lang", lang_code(lang))]);
                String::from_utf8(download(req, base).await?)
                    .context("the service's dossier is not UTF-8")
            }
        }
    }

    /// The intake sheet of every lead matching `filter`.
    async fn sheet(&self, filter: LeadFilter, format: SheetFormat, lang: Lang) -> Result<Vec<u8>> {
        match self {
            Self::Ledger {
                ledger,
                store,
                config,
            } => Ok(
                report::intake_sheet(ledger, store.as_ref(), config, filter, format, lang).await?,
            ),
            Self::Http { client, base, .. } => {
                let mut query: Vec<(String, String)> = lead_query(&filter)
                    .into_iter()
                    .filter(|(k, _)| k != "limit" && k != "offset")
                    .collect();
                query.push(("format".into(), format.extension().into()));
                query.push(("lang".into(), lang_code(lang).into()));
                let req = client.get(format!("{base}/api/leads/export")).query(&query);
                download(req, base).await
            }
        }
    }
}

fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    }
}

/// Sends `req`; the body of a successful answer, or an error with the service's own reason.
async fn download(req: reqwest::RequestBuilder, base: &str) -> Result<Vec<u8>> {
    let resp = req.send().await.with_context(|| {
        format!("cannot reach riverwatch at {base} (is the service running? --ledger PATH works offline)")
    })?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {base}"))?;
    if !status.is_success() {
        let reason = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| "no reason given".into());
        bail!("HTTP {}: {reason}", status.as_u16());
    }
    Ok(body.to_vec())
}

/// Writes `bytes` to `out`, or to stdout.
fn write_out(out: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("{} bytes written to {}", bytes.len(), p.display());
        }
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(bytes)?;
            o.flush()?;
        }
    }
    Ok(())
}

/// The browser that prints PDFs: RIVERWATCH_CHROMIUM, else `chromium` on the PATH.
const ENV_CHROMIUM: &str = "RIVERWATCH_CHROMIUM";

/// Prints `html` to `pdf` with headless chromium (A4, from the dossier's own @page rules).
fn print_pdf(html: &str, pdf: &std::path::Path) -> Result<()> {
    let browser = std::env::var(ENV_CHROMIUM).unwrap_or_else(|_| "chromium".into());
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let page = dir.path().join("dossier.html");
    std::fs::write(&page, html)?;
    let target =
        std::path::absolute(pdf).with_context(|| format!("resolving {}", pdf.display()))?;
    let out = std::process::Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"])
        .arg(format!("--print-to-pdf={}", target.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .with_context(|| {
            format!("cannot run `{browser}` to print the PDF (install Debian's chromium, or set {ENV_CHROMIUM}); the HTML dossier is complete without it")
        })?;
    if !out.status.success() || !target.is_file() {
        bail!(
            "`{browser}` did not print {}: {}",
            pdf.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    eprintln!("PDF written to {}", pdf.display());
    Ok(())
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

/// Writes every matching lead as one JSON line.
async fn export(backend: &Backend, filter: &Filter, out: Option<PathBuf>) -> Result<()> {
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut offset = 0u64;
    loop {
        let (page, total) = backend
            .list(filter.parse(LeadFilter::MAX_LIMIT, offset)?)
            .await?;
        for lead in &page {
            writeln!(sink, "{}", serde_json::to_string(lead)?)?;
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

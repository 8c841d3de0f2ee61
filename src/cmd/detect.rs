//! `riverwatch detect`: the offline contract — a long CSV in, events (and optionally scores and
//! leads) out, through the same engine as the live service.

use anyhow::{Context as _, Result};
use riverwatch_engine::csv::LineReader;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::time::Rfc3339;
use riverwatch_engine::{Engine, Output};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `detect`.
#[derive(clap::Args)]
pub struct Args {
    /// Long CSV `time,station,parameter,value[,flag]`, time-ordered across stations (`-` = stdin).
    #[arg(long)]
    input: PathBuf,
    /// Config directory (default: the shipped config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Events, one JSON object per line.
    #[arg(long)]
    output: PathBuf,
    /// Per-reading scores `time,station,parameter,score`.
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Lead revisions, one JSON object per line (the last revision of an id is current).
    #[arg(long)]
    leads: Option<PathBuf>,
    /// Every finding, one JSON object per line (large: for diagnosing thresholds).
    #[arg(long)]
    findings: Option<PathBuf>,
    /// Directory of trained model files (`riverwatch train`); unusable files are reported and
    /// skipped.
    #[arg(long)]
    models: Option<PathBuf>,
}

/// Loads the model files of `dir` into `engine`; files that cannot be used are reported on
/// stderr and skipped, the rest of detection runs either way.
pub fn load_models(engine: &mut Engine, dir: &std::path::Path) -> Result<()> {
    let (models, unreadable) = MultivariateModel::load_dir(dir)?;
    let total = models.len() + unreadable.len();
    let refused = engine.set_models(models);
    let used = total - unreadable.len() - refused.len();
    for e in unreadable.iter().chain(&refused) {
        eprintln!("warning: {e}; detection runs without it");
    }
    eprintln!("{used} of {total} model files in {} in use", dir.display());
    Ok(())
}

struct Sinks {
    events: BufWriter<File>,
    scores: Option<BufWriter<File>>,
    leads: Option<BufWriter<File>>,
    findings: Option<BufWriter<File>>,
    counts: [u64; 2],
}

impl Sinks {
    fn drain(&mut self, out: &mut Output) -> Result<()> {
        for e in out.events.drain(..) {
            serde_json::to_writer(&mut self.events, &e)?;
            self.events.write_all(b"\n")?;
            self.counts[0] += 1;
        }
        for l in out.leads.drain(..) {
            self.counts[1] += 1;
            if let Some(w) = self.leads.as_mut() {
                serde_json::to_writer(&mut *w, &l)?;
                w.write_all(b"\n")?;
            }
        }
        for f in out.findings.drain(..) {
            if let Some(w) = self.findings.as_mut() {
                serde_json::to_writer(&mut *w, &f)?;
                w.write_all(b"\n")?;
            }
        }
        if let Some(w) = self.scores.as_mut() {
            for s in out.scores.drain(..) {
                writeln!(
                    w,
                    "{},{},{},{:.4}",
                    Rfc3339(s.time),
                    s.station,
                    s.parameter,
                    s.score
                )?;
            }
        }
        Ok(())
    }
}

fn create(p: &PathBuf) -> Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
    ))
}

/// Runs `detect`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = Arc::new(super::config::load(args.config.as_ref())?);
    let mut input: Box<dyn BufRead> = if args.input.as_os_str() == "-" {
        Box::new(BufReader::with_capacity(1 << 20, std::io::stdin().lock()))
    } else {
        let f = File::open(&args.input)
            .with_context(|| format!("cannot open {}", args.input.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let mut sinks = Sinks {
        events: create(&args.output)?,
        scores: args.scores.as_ref().map(create).transpose()?,
        leads: args.leads.as_ref().map(create).transpose()?,
        findings: args.findings.as_ref().map(create).transpose()?,
        counts: [0; 2],
    };
    if let Some(w) = sinks.scores.as_mut() {
        writeln!(w, "time,station,parameter,score")?;
    }
    let mut engine = Engine::new(cfg)
        .keep_scores(sinks.scores.is_some())
        .keep_findings(sinks.findings.is_some());
    if let Some(dir) = &args.models {
        load_models(&mut engine, dir)?;
    }
    let mut out = Output::default();
    let mut reader = LineReader::default();
    let (mut line, mut n, mut bad) = (Vec::with_capacity(256), 0u64, 0u64);
    let started = std::time::Instant::now();
    for lineno in 1.. {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading input")?
            == 0
        {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.is_empty() || (lineno == 1 && LineReader::is_header(&String::from_utf8_lossy(text)))
        {
            continue;
        }
        match reader.parse_bytes(text) {
            Ok(r) => {
                n += 1;
                engine.push(&r, &mut out);
                if !out.events.is_empty()
                    || !out.leads.is_empty()
                    || out.scores.len() + out.findings.len() > 4096
                {
                    sinks.drain(&mut out)?;
                }
            }
            Err(e) => {
                bad += 1;
                if bad <= 10 {
                    eprintln!("line {lineno}: skipped: {e}");
                }
            }
        }
    }
    engine.finish(&mut out);
    sinks.drain(&mut out)?;
    for w in [
        Some(&mut sinks.events),
        sinks.scores.as_mut(),
        sinks.leads.as_mut(),
        sinks.findings.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        w.flush()?;
    }
    let secs = started.elapsed().as_secs_f64();
    let st = engine.stats();
    eprintln!(
        "{n} readings ({bad} bad lines skipped, {} duplicates, {} late) in {secs:.2} s ({:.0} readings/s): {} events, {} lead revisions",
        st.duplicates,
        st.late,
        n as f64 / secs.max(1e-9),
        sinks.counts[0],
        sinks.counts[1]
    );
    if st.without_history > 0 {
        eprintln!(
            "note: {} readings came before their stream had enough history for the baseline detectors (judged by range, flags and GB 3838 only)",
            st.without_history
        );
    }
    Ok(ExitCode::SUCCESS)
}

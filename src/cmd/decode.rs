//! `riverwatch decode`: runs the payload decoders over stdin, one payload per line, and prints
//! what each line became as JSON lines — for checking a station's output by hand and for
//! scripting. Every line gets an answer and a bad line never stops the run.

use anyhow::{Context, Result};
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::time::{parse_duration, parse_rfc3339, Millis, Rfc3339};
use serde::Serialize;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// `decode` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Payload format: auto (from the topic, else the content), json, senml or hj212.
    #[arg(long, default_value = "auto")]
    format: Format,
    /// Config directory (default: the shipped config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// MQTT topic the payloads arrived on (names the station, e.g. riverwatch/readings/DL03).
    #[arg(long)]
    topic: Option<String>,
    /// Receive time (RFC 3339) for relative SenML times and the future bound (default: now).
    #[arg(long)]
    received: Option<String>,
    /// How far past the receive time a reading may lie.
    #[arg(long, default_value = "10m")]
    max_future_skew: String,
    /// Reject stations and MNs missing from the station config.
    #[arg(long)]
    strict: bool,
}

/// Runs `decode`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = super::config::load(args.config.as_ref())?;
    let received = match &args.received {
        Some(s) => parse_rfc3339(s).with_context(|| format!("--received `{s}` is not RFC 3339"))?,
        None => now(),
    };
    let max_future_skew = parse_duration(&args.max_future_skew).with_context(|| {
        format!(
            "--max-future-skew `{}` is not a duration (e.g. 10m)",
            args.max_future_skew
        )
    })?;
    let ctx = DecodeContext {
        stations: &cfg.stations,
        received,
        max_future_skew,
        accept_unknown_stations: !args.strict,
    };
    let topic = args.topic.as_deref();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (n, bytes) in std::io::stdin().lock().split(b'\n').enumerate() {
        let bytes = bytes.context("reading stdin")?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = n + 1;
        match decode(&bytes, topic, args.format, &ctx) {
            Ok(d) => {
                for r in &d.readings {
                    let time = Rfc3339(r.time).to_string();
                    let (station, parameter) = (r.station.as_str(), r.parameter.as_str());
                    let flag = r.flag.letter();
                    print_row(
                        &mut out,
                        &Row::Reading {
                            line,
                            station,
                            parameter,
                            time,
                            value: r.value,
                            flag,
                        },
                    )?;
                }
                for item_error in &d.item_errors {
                    print_row(&mut out, &Row::ItemError { line, item_error })?;
                }
            }
            Err(e) => print_row(
                &mut out,
                &Row::Rejected {
                    line,
                    rejected: e.reason.as_str(),
                    detail: &e.detail,
                },
            )?,
        }
        out.flush()?; // answer each line as it comes: stdin may be a live feed (mosquitto_sub)
    }
    Ok(ExitCode::SUCCESS)
}

/// One output line; fields print in this order.
#[derive(Serialize)]
#[serde(untagged)]
enum Row<'a> {
    Reading {
        line: usize,
        station: &'a str,
        parameter: &'a str,
        time: String,
        value: f64,
        flag: char,
    },
    ItemError {
        line: usize,
        item_error: &'a str,
    },
    Rejected {
        line: usize,
        rejected: &'a str,
        detail: &'a str,
    },
}

fn print_row(out: &mut impl Write, row: &Row) -> Result<()> {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The wall clock, in the engine's terms (the engine itself never reads it).
fn now() -> Millis {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

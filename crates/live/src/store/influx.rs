//! [`InfluxStore`]: readings to and from InfluxDB through the v1-compatible HTTP API, the one
//! path that InfluxDB 1.x serves natively, 2.x through its DBRP mapping and 3.x Core for
//! compatibility (DESIGN.md, "InfluxDB").
//!
//! Writes: line protocol ([`super::line_protocol`]) POSTed to `/write?db=…&precision=ms`, gzip
//! compressed unless [`InfluxOpts::gzip`] is off, at most `max_lines` lines per request; transient failures are retried a few
//! times with exponential backoff, then reported (the spool takes over). A 400 `partial write`
//! is not retried: InfluxDB stored the valid lines (`shared/reference/infra.md` §1.3), so the
//! refused ones are reported for the dead-letter record and the rest counts as stored.
//!
//! Auth: HTTP Basic for user/password (1.6.7 refuses `Authorization: Token`; Basic keeps the
//! password out of URLs and logs, unlike `?u=&p=`), `Authorization: Token …` for 2.x/3.x.

use super::error::StoreError;
use super::influx_query::InfluxChunks;
use super::line_protocol::{self, MEASUREMENT};
use super::{ReadingStore, Rejected, WriteReport};
use crate::backoff::Backoff;
use crate::config::Secret;
use flate2::write::GzEncoder;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::{RequestBuilder, Url};
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Reading, StationId};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// How to authenticate to InfluxDB.
#[derive(Debug, Clone, Default)]
pub enum InfluxAuth {
    /// Auth disabled on the server.
    #[default]
    None,
    /// InfluxDB 1.x user and password, sent as HTTP Basic.
    Basic {
        /// User.
        user: String,
        /// Password.
        password: Secret,
    },
    /// InfluxDB 2.x/3.x API token, sent as `Authorization: Token …`.
    Token(Secret),
}

/// Connection and batching settings.
#[derive(Debug, Clone)]
pub struct InfluxOpts {
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: Url,
    /// Database (2.x: a DBRP-mapped bucket name).
    pub db: String,
    /// Credentials.
    pub auth: InfluxAuth,
    /// Most lines per write request (InfluxDB's default body limit is 25 MB; ~100 bytes a line).
    pub max_lines: usize,
    /// Total time a write request may take; also the longest wait for the next bytes of a
    /// query's answer (a query as a whole has no deadline).
    pub timeout: Duration,
    /// Attempts per write request before the error is reported (at least 1).
    pub attempts: u32,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    /// Gzip the write bodies and ask for gzipped query answers: a tenth of the bytes, for CPU
    /// on both ends (worth it over a network, not over loopback).
    pub gzip: bool,
}

impl InfluxOpts {
    /// Settings with the defaults of `config/riverwatch.toml` for everything but URL and database.
    pub fn new(url: Url, db: &str) -> Self {
        Self {
            url,
            db: db.to_string(),
            auth: InfluxAuth::None,
            max_lines: 5_000,
            timeout: Duration::from_secs(10),
            attempts: 3,
            retry_base: Duration::from_millis(200),
            gzip: true,
        }
    }
}

/// An InfluxDB reading store. Cheap to clone (clones share the HTTP client).
#[derive(Debug, Clone)]
pub struct InfluxStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    opts: InfluxOpts,
    write_url: Url,
    query_url: Url,
    ping_url: Url,
}

impl InfluxStore {
    /// A client for `opts`; nothing is sent yet.
    pub fn new(opts: InfluxOpts) -> Result<Self, StoreError> {
        // No total timeout on the client: a chunked query over a big window may stream for
        // minutes. Each read must make progress within `timeout`; writes get a total timeout.
        let http = reqwest::Client::builder()
            .read_timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(5)))
            .gzip(opts.gzip)
            .build()
            .map_err(|source| StoreError::Unreachable {
                url: opts.url.to_string(),
                source,
            })?;
        let mut write_url = endpoint(&opts.url, "write")?;
        write_url
            .query_pairs_mut()
            .append_pair("db", &opts.db)
            .append_pair("precision", "ms");
        let query_url = endpoint(&opts.url, "query")?;
        let ping_url = endpoint(&opts.url, "ping")?;
        let shared = Shared {
            http,
            opts,
            write_url,
            query_url,
            ping_url,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The settings this store was built with.
    pub fn opts(&self) -> &InfluxOpts {
        &self.shared.opts
    }

    pub(crate) fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.shared.opts.auth {
            InfluxAuth::None => req,
            InfluxAuth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
            InfluxAuth::Token(t) => req.header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", t.expose()),
            ),
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    pub(crate) fn query_url(&self) -> &Url {
        &self.shared.query_url
    }

    pub(crate) fn db(&self) -> &str {
        &self.shared.opts.db
    }

    /// Writes one request's worth of lines, retrying transient failures.
    async fn write_lines(
        &self,
        lines: &[(usize, String)],
        batch: &[Reading],
    ) -> Result<WriteReport, StoreError> {
        let mut body = String::with_capacity(lines.iter().map(|(_, l)| l.len() + 1).sum());
        for (_, l) in lines {
            body.push_str(l);
            body.push('\n');
        }
        let body = if self.shared.opts.gzip {
            gzip(body.as_bytes())
        } else {
            body.into_bytes()
        };
        let mut backoff = Backoff::new(
            self.shared.opts.retry_base,
            self.shared.opts.retry_base * 16,
        );
        let mut attempt = 1;
        loop {
            match self.post_write(body.clone()).await {
                Ok(()) => {
                    return Ok(WriteReport {
                        stored: lines.len(),
                        rejected: Vec::new(),
                    })
                }
                Err(StoreError::Rejected {
                    status: 400, body, ..
                }) if body.contains("partial write") || body.contains("unable to parse") => {
                    // Without valid lines InfluxDB says "unable to parse" without "partial
                    // write"; either way the refused lines are named and nothing is retried.
                    return Ok(partial_write(&body, lines, batch));
                }
                Err(e) if e.is_transient() && attempt < self.shared.opts.attempts.max(1) => {
                    let delay = backoff.next_delay();
                    warn!(error = %e, attempt, delay_ms = delay.as_millis() as u64, "influxdb write failed, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn post_write(&self, body: Vec<u8>) -> Result<(), StoreError> {
        let mut req = self
            .shared
            .http
            .post(self.shared.write_url.clone())
            .header(CONTENT_TYPE, "text/plain; charset=utf-8");
        if self.shared.opts.gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        let req = req.body(body);
        self.expect_success(req, &self.shared.write_url).await
    }

    /// Sends `req` (authorized, with the request timeout); an error unless the answer is 2xx.
    async fn expect_success(&self, req: RequestBuilder, url: &Url) -> Result<(), StoreError> {
        self.send_ok(req, url).await.map(|_| ())
    }

    /// Like [`Self::expect_success`], handing back the 2xx answer to read.
    async fn send_ok(
        &self,
        req: RequestBuilder,
        url: &Url,
    ) -> Result<reqwest::Response, StoreError> {
        let resp = self
            .authorize(req.timeout(self.shared.opts.timeout))
            .send()
            .await
            .map_err(|source| StoreError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        Err(StoreError::Rejected {
            url: url.to_string(),
            status: status.as_u16(),
            body: error_text(resp).await,
        })
    }
}

impl ReadingStore for InfluxStore {
    type Chunks = InfluxChunks;

    async fn write(&self, batch: &[Reading]) -> Result<WriteReport, StoreError> {
        let mut report = WriteReport::default();
        let mut lines = Vec::with_capacity(batch.len().min(self.shared.opts.max_lines));
        for (i, r) in batch.iter().enumerate() {
            let mut line = String::with_capacity(96);
            match line_protocol::encode(r, &mut line) {
                Ok(()) => lines.push((i, line)),
                Err(reason) => report.rejected.push(Rejected {
                    reading: Some(r.clone()),
                    reason,
                }),
            }
        }
        // A failure after some requests succeeded fails the whole call; writing the stored part
        // again later is harmless because points are idempotent.
        for part in lines.chunks(self.shared.opts.max_lines.max(1)) {
            report.merge(self.write_lines(part, batch).await?);
        }
        Ok(report)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let url = &self.shared.ping_url;
        self.expect_success(self.shared.http.get(url.clone()), url)
            .await
    }

    async fn newest_time(&self) -> Result<Option<Millis>, StoreError> {
        let q = format!("SELECT LAST(\"value\") FROM \"{MEASUREMENT}\"");
        let params = [("db", self.db()), ("q", &q), ("epoch", "ms")];
        let url = &self.shared.query_url;
        let req = self.shared.http.get(url.clone()).query(&params);
        let resp = self.send_ok(req, url).await?;
        let answer: serde_json::Value =
            resp.json()
                .await
                .map_err(|source| StoreError::Unreachable {
                    url: url.to_string(),
                    source,
                })?;
        newest_of(&answer)
    }

    async fn query_chunks(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> Result<InfluxChunks, StoreError> {
        InfluxChunks::start(self, stations, from, to, chunk_size).await
    }
}

/// The time of `SELECT LAST(value)`'s one row; `None` for an answer without rows (no readings).
fn newest_of(answer: &serde_json::Value) -> Result<Option<Millis>, StoreError> {
    let result = &answer["results"][0];
    if let Some(e) = result["error"].as_str() {
        return Err(StoreError::Query {
            reason: format!("newest reading time: {e}"),
        });
    }
    match &result["series"][0]["values"][0][0] {
        serde_json::Value::Null => Ok(None),
        t => t.as_i64().map(Some).ok_or_else(|| StoreError::Query {
            reason: format!("newest reading time: not a time in ms: {t}"),
        }),
    }
}

fn endpoint(base: &Url, path: &str) -> Result<Url, StoreError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base.join(path).map_err(|e| StoreError::Query {
        reason: format!("bad InfluxDB url {base}: {e}"),
    })
}

/// `data` gzipped at the fast level, as write bodies are sent.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// InfluxDB's error text: the JSON `error` member, else the `X-Influxdb-Error` header, else the body.
pub(crate) async fn error_text(resp: reqwest::Response) -> String {
    let header = resp
        .headers()
        .get("x-influxdb-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await.unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct ErrBody {
        error: String,
    }
    match serde_json::from_str::<ErrBody>(&body) {
        Ok(e) => e.error,
        Err(_) => header.unwrap_or(body),
    }
}

/// Reads a 400 `partial write` (or `unable to parse`) answer: lines InfluxDB could not parse are quoted in the text
/// (`unable to parse '<line>': <why>`); points dropped for other reasons (field type
/// conflicts) are only counted (`dropped=N`). Everything else was stored.
fn partial_write(text: &str, lines: &[(usize, String)], batch: &[Reading]) -> WriteReport {
    let mut report = WriteReport::default();
    for (i, line) in lines {
        let quoted = format!("'{line}'");
        if let Some(pos) = text.find(&quoted) {
            let rest = &text[pos + quoted.len()..];
            let why = rest.trim_start_matches(':').trim();
            let why = why.split(['\n', ';']).next().unwrap_or(why);
            report.rejected.push(Rejected {
                reading: batch.get(*i).cloned(),
                reason: format!("influxdb: {why}"),
            });
        }
    }
    let dropped: usize = text
        .rsplit("dropped=")
        .next()
        .filter(|_| text.contains("dropped="))
        .and_then(|d| d.trim().split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let dropped = dropped.min(lines.len() - report.rejected.len());
    for _ in 0..dropped {
        report.rejected.push(Rejected {
            reading: None,
            reason: format!("influxdb dropped a point: {text}"),
        });
    }
    report.stored = lines.len() - report.rejected.len();
    warn!(rejected = report.rejected.len(), stored = report.stored, error = %text, "influxdb partial write");
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(batch: &[Reading]) -> Vec<(usize, String)> {
        batch
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut l = String::new();
                line_protocol::encode(r, &mut l).unwrap();
                (i, l)
            })
            .collect()
    }

    fn r(station: &str, t: Millis) -> Reading {
        Reading {
            station: station.into(),
            parameter: "ph".into(),
            time: t,
            value: 7.0,
            flag: Default::default(),
        }
    }

    #[test]
    fn partial_write_names_the_unparsable_lines() {
        let batch = [r("A", 1), r("B", 2), r("C", 3)];
        let lines = lines_of(&batch);
        let text = format!(
            "partial write: unable to parse '{}': bad timestamp dropped=0",
            lines[1].1
        );
        let rep = partial_write(&text, &lines, &batch);
        assert_eq!(rep.stored, 2);
        assert_eq!(rep.rejected.len(), 1);
        assert_eq!(
            rep.rejected[0].reading.as_ref().unwrap().station.as_str(),
            "B"
        );
        assert!(
            rep.rejected[0].reason.contains("bad timestamp"),
            "{}",
            rep.rejected[0].reason
        );
    }

    #[test]
    fn all_lines_unparsable_names_each_one() {
        // 1.6.7's text when no line parses: no "partial write", one line per failure.
        let batch = [r("A", 1), r("B", 2)];
        let lines = lines_of(&batch);
        let text = format!(
            "unable to parse '{}': missing field value\nunable to parse '{}': invalid boolean",
            lines[0].1, lines[1].1
        );
        let rep = partial_write(&text, &lines, &batch);
        assert_eq!(rep.stored, 0);
        let reasons: Vec<&str> = rep.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["influxdb: missing field value", "influxdb: invalid boolean"]
        );
    }

    #[test]
    fn partial_write_counts_anonymous_drops() {
        let batch = [r("A", 1), r("B", 2)];
        let lines = lines_of(&batch);
        let text = "partial write: field type conflict: input field \"value\" on measurement \"water\" is type float, already exists as type string dropped=1";
        let rep = partial_write(text, &lines, &batch);
        assert_eq!((rep.stored, rep.rejected.len()), (1, 1));
        assert!(rep.rejected[0].reading.is_none());
    }

    #[test]
    fn endpoints_keep_a_base_path() {
        let u = endpoint(&Url::parse("http://h:8086/influx").unwrap(), "write").unwrap();
        assert_eq!(u.as_str(), "http://h:8086/influx/write");
        let u = endpoint(&Url::parse("http://h:8086").unwrap(), "query").unwrap();
        assert_eq!(u.as_str(), "http://h:8086/query");
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gzip(b"water value=1 1")[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "water value=1 1");
    }
}

//! Reading a window back from InfluxDB with InfluxQL, chunk by chunk.
//!
//! `SELECT value, flag, station, parameter FROM water WHERE time … AND (station = … OR …)`
//! with `epoch=ms&chunked=true&chunk_size=N`: with no `GROUP BY`, InfluxDB merges all series
//! into one time-ordered stream and answers with one JSON object per line, each holding at most
//! N rows. Lines are parsed as they arrive, so memory holds one line, not the window.
//!
//! Rows sharing a timestamp come back in no useful order and may straddle two chunks
//! (`shared/reference/infra.md` §1.3). To give the same total order as every other store
//! ([`super::reading_order`]), the rows at a chunk's last timestamp are held back and released,
//! sorted, with the next chunk.

use super::error::StoreError;
use super::influx::{error_text, InfluxStore};
use super::line_protocol::{influxql_string, MEASUREMENT};
use super::{reading_order, ReadingChunks};
use riverwatch_engine::time::Millis;
use riverwatch_engine::{DataFlag, Reading, StationId};
use serde::Deserialize;
use serde_json::Value;
use tracing::warn;

/// A chunked InfluxDB answer being read.
pub struct InfluxChunks {
    resp: Option<reqwest::Response>,
    url: String,
    buf: Vec<u8>,
    carry: Vec<Reading>,
    skipped: u64,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Series {
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

/// The InfluxQL for a window; `stations` empty selects all.
pub(crate) fn select(stations: &[StationId], from: Millis, to: Millis) -> String {
    let mut q = format!(
        "SELECT \"value\", \"flag\", \"station\", \"parameter\" FROM \"{MEASUREMENT}\" WHERE time >= {from}ms AND time < {to}ms"
    );
    if !stations.is_empty() {
        let any: Vec<String> = stations
            .iter()
            .map(|s| format!("\"station\" = {}", influxql_string(s.as_str())))
            .collect();
        q.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    q
}

impl InfluxChunks {
    pub(crate) async fn start(
        store: &InfluxStore,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> Result<Self, StoreError> {
        let url = store.query_url().to_string();
        let chunk = chunk_size.max(1).to_string();
        let q = select(stations, from, to);
        let params = [
            ("db", store.db()),
            ("q", &q),
            ("epoch", "ms"),
            ("chunked", "true"),
            ("chunk_size", &chunk),
        ];
        let req = store.authorize(store.http().get(store.query_url().clone()).query(&params));
        let resp = req.send().await.map_err(|source| StoreError::Unreachable {
            url: url.clone(),
            source,
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(StoreError::Rejected {
                url,
                status: status.as_u16(),
                body: error_text(resp).await,
            });
        }
        Ok(Self {
            resp: Some(resp),
            url,
            buf: Vec::new(),
            carry: Vec::new(),
            skipped: 0,
        })
    }

    /// Parses one JSON line into readings.
    fn parse_line(&mut self, line: &[u8]) -> Result<Vec<Reading>, StoreError> {
        let answer: Answer = serde_json::from_slice(line).map_err(|e| StoreError::Query {
            reason: format!(
                "unreadable answer from {}: {e}: {}",
                self.url,
                String::from_utf8_lossy(&line[..line.len().min(200)])
            ),
        })?;
        if let Some(error) = answer.error {
            return Err(StoreError::Query { reason: error });
        }
        let mut rows = Vec::new();
        for result in answer.results {
            if let Some(error) = result.error {
                return Err(StoreError::Query { reason: error });
            }
            for series in result.series {
                let col = |name: &str| series.columns.iter().position(|c| c == name);
                let cols = (
                    col("time"),
                    col("value"),
                    col("flag"),
                    col("station"),
                    col("parameter"),
                );
                let (Some(t), Some(v), Some(f), Some(s), Some(p)) = cols else {
                    return Err(StoreError::Query {
                        reason: format!("unexpected columns {:?}", series.columns),
                    });
                };
                for row in &series.values {
                    match to_reading(row, [t, v, f, s, p]) {
                        Some(r) => rows.push(r),
                        None => self.skipped += 1,
                    }
                }
            }
        }
        Ok(rows)
    }

    /// Sorts a chunk (with the rows held back from the last one) and holds back its last
    /// timestamp's rows unless this is the end.
    fn release(&mut self, rows: Vec<Reading>, end: bool) -> Vec<Reading> {
        let mut out = std::mem::take(&mut self.carry);
        out.extend(rows);
        out.sort_by(reading_order);
        if !end {
            if let Some(last) = out.last().map(|r| r.time) {
                let cut = out.partition_point(|r| r.time < last);
                self.carry = out.split_off(cut);
            }
        }
        out
    }
}

/// A row `[time, value, flag, station, parameter]` as a reading; `None` for rows this service
/// did not write (no value, no tags).
fn to_reading(row: &[Value], [t, v, f, s, p]: [usize; 5]) -> Option<Reading> {
    let flag = match row.get(f)? {
        Value::String(s) => DataFlag::from_letter(s.chars().next()?),
        _ => DataFlag::N,
    };
    Some(Reading {
        time: row.get(t)?.as_i64()?,
        value: row.get(v)?.as_f64()?,
        station: row.get(s)?.as_str()?.into(),
        parameter: row.get(p)?.as_str()?.into(),
        flag,
    })
}

impl ReadingChunks for InfluxChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<Reading>>, StoreError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let rows = self.parse_line(&line)?;
                let out = self.release(rows, false);
                if !out.is_empty() {
                    return Ok(Some(out));
                }
                continue;
            }
            let Some(resp) = self.resp.as_mut() else {
                if self.skipped > 0 {
                    warn!(
                        rows = self.skipped,
                        "influxdb rows without value or tags skipped"
                    );
                    self.skipped = 0;
                }
                let out = self.release(Vec::new(), true);
                return Ok((!out.is_empty()).then_some(out));
            };
            match resp.chunk().await {
                Ok(Some(bytes)) => self.buf.extend_from_slice(&bytes),
                Ok(None) => {
                    self.resp = None;
                    if !self.buf.is_empty() {
                        // The last line may lack its newline.
                        self.buf.push(b'\n');
                    }
                }
                Err(source) => {
                    return Err(StoreError::Unreachable {
                        url: self.url.clone(),
                        source,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_a_window_for_some_stations() {
        let q = select(&["DL01".into(), "O'Brien".into()], 1000, 2000);
        assert_eq!(
            q,
            "SELECT \"value\", \"flag\", \"station\", \"parameter\" FROM \"water\" WHERE time >= 1000ms AND time < 2000ms AND (\"station\" = 'DL01' OR \"station\" = 'O\\'Brien')"
        );
        assert!(!select(&[], 0, 1).contains("station\" ="));
    }

    #[test]
    fn rows_become_readings() {
        let row: Vec<Value> =
            serde_json::from_str(r#"[1764460800000, 7.21, "T", "DL01", "ph"]"#).unwrap();
        let r = to_reading(&row, [0, 1, 2, 3, 4]).unwrap();
        assert_eq!(
            (r.time, r.value, r.flag, r.station.as_str()),
            (1_764_460_800_000, 7.21, DataFlag::T, "DL01")
        );
        let no_value: Vec<Value> = serde_json::from_str(r#"[1, null, "N", "DL01", "ph"]"#).unwrap();
        assert!(to_reading(&no_value, [0, 1, 2, 3, 4]).is_none());
    }
}

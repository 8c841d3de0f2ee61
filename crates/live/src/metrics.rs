//! The service's Prometheus metrics: what came in, what was refused and why, what was stored or
//! spooled, what the engine found, and how long a reading takes to become a lead.
//!
//! One [`Metrics`] value is shared (behind an `Arc`) by the stages that count and by the HTTP
//! API that renders it; the counters are atomics inside `prometheus-client`, so counting never
//! takes a lock that a scrape could hold. Names follow Prometheus conventions (`_total` for
//! counters, base units: seconds and bytes).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Label set of a per-reason counter.
type ByReason = Family<Vec<(&'static str, String)>, Counter>;
/// Label set of a per-source counter.
type BySource = Family<Vec<(&'static str, &'static str)>, Counter>;
/// Label set of a per-queue gauge.
type ByQueue = Family<Vec<(&'static str, &'static str)>, Gauge>;
/// Label set of a per-part latency histogram.
type ByPart = Family<Vec<(&'static str, &'static str)>, Histogram, fn() -> Histogram>;

/// Bucket bounds (seconds) of the latency histograms: fine around the 200 ms target of the
/// ingest→lead latency, coarse beyond a second.
const LATENCY_BUCKETS: [f64; 20] = [
    0.002, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.6,
    1.0, 2.5, 10.0, 60.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.into_iter())
}

/// Where a lead revision's end-to-end time went, in pipeline order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LeadLatency {
    /// From receiving the message until the engine made the revision: decoding, the store
    /// write that made the readings durable, the queues in between.
    pub durable: Duration,
    /// Waiting in the leads queue and behind earlier revisions.
    pub queued: Duration,
    /// Sealing the evidence: taking its readings from the engine stage's cache and digesting
    /// them, or, for a revision the cache did not cover, reading them from the store first.
    pub evidence: Duration,
    /// The ledger transaction that recorded it.
    pub ledger: Duration,
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// MQTT messages received.
    pub received: Counter,
    /// Messages (or readings, for the store's refusals) dead-lettered, by reason.
    rejected: ByReason,
    /// Readings stored in the store.
    pub stored: Counter,
    /// Readings written to the disk spool instead.
    pub spooled: Counter,
    /// Batches waiting in the spool.
    pub spool_batches: Gauge,
    /// Bytes waiting in the spool.
    pub spool_bytes: Gauge,
    /// Seconds a store write took (store or spool).
    pub store_latency: Histogram,
    /// Batch writes started and not yet handed back (at most `store.writes_in_flight`).
    pub writes_in_flight: Gauge,
    /// Findings the engine made.
    pub findings: Counter,
    /// Events the engine closed.
    pub events: Counter,
    /// Lead revisions recorded in the ledger.
    pub lead_revisions: Counter,
    /// Lead revisions the broker acknowledged.
    pub published: Counter,
    /// Seconds from receiving a message to recording the lead revision it produced.
    pub end_to_end: Histogram,
    /// The same time split into its parts (see [`LeadLatency`]).
    lead_latency: ByPart,
    /// Items waiting in each pipeline queue, as last sampled.
    queued: ByQueue,
    /// Model files (or the models directory) that could not be used, counted at each load.
    pub model_errors: Counter,
    /// Trained models the engine uses now.
    pub models_loaded: Gauge,
    /// Readings the engine stage holds in memory to seal evidence from.
    pub evidence_cache: Gauge,
    /// Lead revisions whose evidence was sealed, by where it came from (`memory`, `store`).
    evidence_seals: BySource,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all zero, registered under the `riverwatch_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("riverwatch");
        let m = Self {
            received: Counter::default(),
            rejected: ByReason::default(),
            stored: Counter::default(),
            spooled: Counter::default(),
            spool_batches: Gauge::default(),
            spool_bytes: Gauge::default(),
            // 1 ms .. ~33 s
            store_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            writes_in_flight: Gauge::default(),
            findings: Counter::default(),
            events: Counter::default(),
            lead_revisions: Counter::default(),
            published: Counter::default(),
            end_to_end: latency_histogram(),
            lead_latency: ByPart::new_with_constructor(latency_histogram),
            queued: ByQueue::default(),
            model_errors: Counter::default(),
            models_loaded: Gauge::default(),
            evidence_cache: Gauge::default(),
            evidence_seals: BySource::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "messages_received",
            "MQTT messages received",
            m.received.clone(),
        );
        r.register(
            "rejected",
            "Messages and readings dead-lettered, by reason",
            m.rejected.clone(),
        );
        r.register(
            "readings_stored",
            "Readings written to the store",
            m.stored.clone(),
        );
        r.register(
            "readings_spooled",
            "Readings written to the disk spool while the store was unavailable",
            m.spooled.clone(),
        );
        r.register(
            "spool_batches",
            "Batches waiting in the spool",
            m.spool_batches.clone(),
        );
        r.register(
            "spool_bytes",
            "Bytes waiting in the spool",
            m.spool_bytes.clone(),
        );
        r.register(
            "store_write_seconds",
            "Time to make a batch durable (store or spool)",
            m.store_latency.clone(),
        );
        r.register(
            "store_writes_in_flight",
            "Batch writes started and not yet handed back, at most store.writes_in_flight",
            m.writes_in_flight.clone(),
        );
        r.register("findings", "Detector findings", m.findings.clone());
        r.register("events", "Events closed", m.events.clone());
        r.register(
            "lead_revisions",
            "Lead revisions recorded in the ledger",
            m.lead_revisions.clone(),
        );
        r.register(
            "leads_published",
            "Lead revisions acknowledged by the broker",
            m.published.clone(),
        );
        r.register(
            "end_to_end_seconds",
            "Time from receiving a message to recording the lead revision it produced",
            m.end_to_end.clone(),
        );
        r.register(
            "lead_latency_seconds",
            "The end-to-end time by part: durable (receipt until the engine made the revision), queued (waiting for the leads stage), evidence (sealing it: from memory, or read from the store), ledger (the transaction)",
            m.lead_latency.clone(),
        );
        r.register(
            "queue_depth",
            "Items waiting in each pipeline queue (sampled)",
            m.queued.clone(),
        );
        r.register(
            "model_errors",
            "Model files (or the models directory) that could not be used, counted at each load",
            m.model_errors.clone(),
        );
        r.register(
            "models_loaded",
            "Trained models the engine uses",
            m.models_loaded.clone(),
        );
        r.register(
            "evidence_cache_readings",
            "Readings held in memory to seal lead evidence from",
            m.evidence_cache.clone(),
        );
        r.register(
            "evidence_seals",
            "Lead revisions whose evidence was sealed, by source: memory (the engine stage's cache of durable readings) or store (read back)",
            m.evidence_seals.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts one dead letter with its reason (a decoder's `RejectReason` name, or `store`).
    pub fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&vec![("reason", reason.to_string())])
            .inc();
    }

    /// Dead letters counted so far with `reason`.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejected
            .get_or_create(&vec![("reason", reason.to_string())])
            .get()
    }

    /// Counts one revision's evidence sealed from `source` (`memory` or `store`).
    pub fn evidence_sealed(&self, source: &'static str) {
        self.evidence_seals
            .get_or_create(&vec![("source", source)])
            .inc();
    }

    /// Sets how many items wait in pipeline queue `queue`.
    pub fn set_queued(&self, queue: &'static str, n: usize) {
        self.queued
            .get_or_create(&vec![("queue", queue)])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Records one lead revision's end-to-end time and its parts.
    pub fn observe_lead(&self, parts: &LeadLatency) {
        let total = parts.durable + parts.queued + parts.evidence + parts.ledger;
        self.end_to_end.observe(total.as_secs_f64());
        for (part, took) in [
            ("durable", parts.durable),
            ("queued", parts.queued),
            ("evidence", parts.evidence),
            ("ledger", parts.ledger),
        ] {
            self.lead_latency
                .get_or_create(&vec![("part", part)])
                .observe(took.as_secs_f64());
        }
    }

    /// Records the duration of one store write.
    pub fn observe_store(&self, took: Duration) {
        self.store_latency.observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition (`/metrics`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_by_reason_and_histograms() {
        let m = Metrics::new();
        m.received.inc_by(3);
        m.reject("bad_crc");
        m.reject("bad_crc");
        m.reject("malformed");
        m.observe_store(Duration::from_millis(3));
        m.set_queued("raw", 7);
        m.observe_lead(&LeadLatency {
            durable: Duration::from_millis(50),
            queued: Duration::ZERO,
            evidence: Duration::from_millis(10),
            ledger: Duration::from_millis(5),
        });
        let text = m.render();
        // 65 ms in all: above the 60 ms bound, within the 80 ms one.
        for (line, count) in [
            ("riverwatch_end_to_end_seconds_bucket{le=\"0.06\"}", 0),
            ("riverwatch_end_to_end_seconds_bucket{le=\"0.08\"}", 1),
            ("riverwatch_lead_latency_seconds_count{part=\"ledger\"}", 1),
            ("riverwatch_lead_latency_seconds_count{part=\"queued\"}", 1),
        ] {
            assert!(
                text.contains(&format!("{line} {count}\n")),
                "{line}: {text}"
            );
        }
        assert!(
            text.contains("riverwatch_messages_received_total 3"),
            "{text}"
        );
        assert!(
            text.contains("riverwatch_rejected_total{reason=\"bad_crc\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("riverwatch_store_write_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("riverwatch_queue_depth{queue=\"raw\"} 7"),
            "{text}"
        );
        assert_eq!(m.rejected("bad_crc"), 2);
        assert_eq!(m.rejected("unknown_station"), 0);
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}

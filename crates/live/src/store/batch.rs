//! [`Batcher`]: gathers readings into write batches, flushed when full or when the oldest
//! pending reading has waited `interval` — whichever comes first. Few large requests are what
//! InfluxDB and SQLite write fastest; the interval bounds how long an MQTT ack waits.
//!
//! The store stage also writes a batch early, when no further message is waiting — but only
//! once its oldest reading has waited `linger` ([`Batcher::has_lingered`]): a few milliseconds
//! that gather the messages about to arrive into the same request instead of one request per
//! lull in the stream (at 24,000 messages/s, 10 ms made the requests 8 times fewer and larger,
//! and InfluxDB used 40 % less CPU; BENCHMARKS.md).
//!
//! It holds no timer: the store stage sleeps until [`Batcher::next_change`] (time is an
//! argument, so tests need no clock).

use riverwatch_engine::Reading;
use std::time::Duration;
use tokio::time::Instant;

/// Pending readings with a size and an age limit.
#[derive(Debug)]
pub struct Batcher {
    pending: Vec<Reading>,
    max: usize,
    interval: Duration,
    linger: Duration,
    since: Option<Instant>,
}

impl Batcher {
    /// Flush at `max` readings (at least 1) or `interval` after the first pending one; an
    /// early flush waits until `linger` after it.
    pub fn new(max: usize, interval: Duration, linger: Duration) -> Self {
        let max = max.max(1);
        Self {
            pending: Vec::with_capacity(max),
            max,
            interval,
            linger: linger.min(interval),
            since: None,
        }
    }

    /// Adds readings received at `now`; true when the batch is full and should be flushed.
    pub fn push(&mut self, readings: impl IntoIterator<Item = Reading>, now: Instant) -> bool {
        let before = self.pending.len();
        self.pending.extend(readings);
        if before == 0 && !self.pending.is_empty() {
            self.since = Some(now);
        }
        self.is_full()
    }

    /// Whether the size limit is reached.
    pub fn is_full(&self) -> bool {
        self.pending.len() >= self.max
    }

    /// When the pending batch must be flushed at the latest; `None` when nothing is pending.
    fn deadline(&self) -> Option<Instant> {
        self.since.map(|t| t + self.interval)
    }

    /// Whether the oldest pending reading has waited `linger` at `now`: the batch may be written
    /// before it is due.
    pub fn has_lingered(&self, now: Instant) -> bool {
        self.since.is_some_and(|t| now >= t + self.linger)
    }

    /// When the batch next changes state: the end of its linger, then its deadline; `None`
    /// when nothing is pending.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let t = self.since?;
        Some(if now < t + self.linger {
            t + self.linger
        } else {
            t + self.interval
        })
    }

    /// Whether the batch is full or its deadline has passed at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.is_full() || self.deadline().is_some_and(|d| now >= d)
    }

    /// Takes the pending readings (possibly more than `max`: pushes are not split).
    pub fn take(&mut self) -> Vec<Reading> {
        self.since = None;
        std::mem::replace(&mut self.pending, Vec::with_capacity(self.max))
    }

    /// The pending readings, oldest first.
    pub fn readings(&self) -> &[Reading] {
        &self.pending
    }

    /// Readings pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: i64) -> Reading {
        Reading {
            station: "S".into(),
            parameter: "ph".into(),
            time: t,
            value: 7.0,
            flag: Default::default(),
        }
    }

    #[test]
    fn flushes_by_size() {
        let now = Instant::now();
        let mut b = Batcher::new(3, Duration::from_secs(60), Duration::ZERO);
        assert!(!b.push([r(1), r(2)], now));
        assert!(b.push([r(3)], now));
        assert!(b.is_due(now));
        assert_eq!(b.take().len(), 3);
        assert!(b.is_empty() && b.deadline().is_none());
    }

    #[test]
    fn flushes_by_age_of_the_oldest_reading() {
        let t0 = Instant::now();
        let mut b = Batcher::new(100, Duration::from_secs(1), Duration::ZERO);
        assert!(b.deadline().is_none());
        b.push([r(1)], t0);
        b.push([r(2)], t0 + Duration::from_millis(900));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(!b.is_due(t0 + Duration::from_millis(999)));
        assert!(b.is_due(t0 + Duration::from_secs(1)));
        b.take();
        b.push([r(3)], t0 + Duration::from_secs(5));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_secs(6)));
    }

    #[test]
    fn an_early_flush_waits_out_the_linger() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Batcher::new(100, Duration::from_secs(1), ms(10));
        assert!(!b.has_lingered(t0) && b.next_change(t0).is_none());
        b.push([r(1)], t0);
        assert!(!b.has_lingered(t0 + ms(9)));
        assert_eq!(b.next_change(t0 + ms(9)), Some(t0 + ms(10)));
        assert!(b.has_lingered(t0 + ms(10)));
        assert_eq!(b.next_change(t0 + ms(10)), Some(t0 + ms(1000)));
        assert!(!b.is_due(t0 + ms(10)), "lingered is not due");
        b.take();
        assert!(!b.has_lingered(t0 + ms(20)));
        let capped = Batcher::new(100, ms(5), ms(10));
        assert_eq!(capped.linger, ms(5), "never longer than the interval");
    }
}

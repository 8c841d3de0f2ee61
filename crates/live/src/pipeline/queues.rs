//! Queue depths: how many items wait in each channel between the stages, sampled into the
//! `queue_depth` gauge. The channels are bounded, so a slow stage fills the queue in front of
//! it and empties the ones after it; the gauges say which stage holds the line back.
//!
//! The sampler holds only weak senders: it never keeps a channel open at shutdown.

use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often the depths are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// One queue's name and how to read its depth.
type Depth = (&'static str, Box<dyn Fn() -> usize + Send>);

/// The pipeline queues to sample.
#[derive(Default)]
pub(crate) struct Queues(Vec<Depth>);

impl Queues {
    /// Adds the channel `tx` sends into, under `name`.
    pub fn watch<T: Send + 'static>(&mut self, name: &'static str, tx: &mpsc::Sender<T>) {
        let weak = tx.downgrade();
        let depth = move || {
            weak.upgrade()
                .map_or(0, |s| s.max_capacity().saturating_sub(s.capacity()))
        };
        self.0.push((name, Box::new(depth)));
    }

    /// Samples every queue into `metrics` until cancelled.
    pub async fn run(self, metrics: Arc<Metrics>, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    for (name, depth) in &self.0 {
                        metrics.set_queued(name, depth());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_depths_without_keeping_channels_open() {
        let metrics = Arc::new(Metrics::new());
        let (tx, mut rx) = mpsc::channel::<u8>(8);
        let mut queues = Queues::default();
        queues.watch("raw", &tx);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let cancel = CancellationToken::new();
        let sampler = tokio::spawn(queues.run(Arc::clone(&metrics), cancel.clone()));
        tokio::time::sleep(SAMPLE_EVERY * 2).await;
        let text = metrics.render();
        assert!(
            text.contains("riverwatch_queue_depth{queue=\"raw\"} 2"),
            "{text}"
        );
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(
            rx.recv().await,
            None,
            "the sampler must not hold the channel open"
        );
        cancel.cancel();
        sampler.await.unwrap();
    }
}

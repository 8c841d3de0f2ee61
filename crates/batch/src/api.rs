//! The replay the live service's HTTP API runs (`POST /api/replay`): the window read from the
//! service's own store, replayed off the async threads with [`Ending::Open`] and compared with
//! the ledger — what `riverwatch replay --diff` does, answered as JSON instead of a report. The
//! replay check of a lead's verification gets the same loop, [`revisions`].
//!
//! The API crate cannot depend on this one (this one depends on it), so the binary builds the
//! closure here and hands it to the API's state.

use crate::frames::{self, FrameError, Window, CHUNK};
use crate::recorded;
use crate::replay::{diff, replay, revisions, Ending};
use riverwatch_engine::Engine;
use riverwatch_live::api::{
    ApiError, ChangedLead, ReplayDiff, ReplayFuture, ReplayJob, ReplayOutcome, ReplaySide,
};
use riverwatch_live::store::ReadingStore;
use riverwatch_live::Ledger;
use std::sync::Arc;

/// The API's replays: of a window over `store` (the window's readings) and `ledger` (the
/// recorded leads), and the engine re-run of a lead's verification.
pub fn replay_fn<S: ReadingStore + 'static>(store: Arc<S>, ledger: Ledger) -> ReplaySide {
    ReplaySide {
        window: Arc::new(move |job| -> ReplayFuture {
            let (store, ledger) = (Arc::clone(&store), ledger.clone());
            Box::pin(async move { run(&*store, &ledger, job).await })
        }),
        engine: Arc::new(revisions),
    }
}

async fn run<S: ReadingStore>(
    store: &S,
    ledger: &Ledger,
    job: ReplayJob,
) -> Result<ReplayOutcome, ApiError> {
    let window = Window {
        from: job.from,
        to: job.to,
        stations: job.stations,
    };
    let df = frames::load_store(store, &window, CHUNK)
        .await
        .map_err(frame_error)?;
    let recorded = recorded::for_window(ledger, &window).await?;
    let config = job.config;
    tokio::task::spawn_blocking(move || {
        let readings = frames::readings(&df).map_err(frame_error)?;
        let replayed = replay(Engine::new(config), &readings, Ending::Open, &mut |_| {});
        let d = diff(&replayed.leads, &recorded);
        Ok(ReplayOutcome {
            readings: readings.len() as u64,
            leads: replayed.leads,
            diff: ReplayDiff {
                new: d.new,
                missing: d.missing,
                changed: d
                    .changed
                    .into_iter()
                    .map(|(id, what)| ChangedLead { id, what })
                    .collect(),
                same: d.same,
            },
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("the replay stopped: {e}")))?
}

fn frame_error(e: FrameError) -> ApiError {
    match e {
        FrameError::Store(e) => e.into(),
        e => ApiError::internal(e.to_string()),
    }
}

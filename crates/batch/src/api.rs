//! The replay the live service's HTTP API runs (`POST /api/replay`): the window read from the
//! service's own store and replayed with [`Ending::Open`] through an engine that has the
//! service's trained models, then compared with the ledger — what `riverwatch replay --models
//! DIR --diff LEDGER` does, answered as JSON instead of a report. It reads the way that command
//! does, a slice at a time with the next slice read ahead ([`read_ahead`]), and feeds the
//! engine on a blocking thread, so a month-long window never sits in memory whole and the
//! async threads never run the engine. The replay check of a lead's verification gets the same
//! loop, [`revisions`].
//!
//! The API crate cannot depend on this one (this one depends on it), so the binary builds the
//! closure here ([`for_service`]) and hands it to the API's state.

use crate::frames::{FrameError, Window, CHUNK};
use crate::read_ahead;
use crate::recorded;
use crate::replay::{diff, revisions, Ending, Replayed, Replayer};
use crate::source::SLICE;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::Engine;
use riverwatch_live::api::{
    ApiError, ChangedLead, ReplayDiff, ReplayFuture, ReplayJob, ReplayOutcome, ReplaySide,
};
use riverwatch_live::store::ReadingStore;
use riverwatch_live::{Ledger, ServiceHandle};
use std::sync::Arc;

/// The trained models a replay runs with, asked for when the replay starts.
pub type ModelsFn = Arc<dyn Fn() -> Arc<Vec<MultivariateModel>> + Send + Sync>;

/// The API's replays for a running service: its store, its ledger and the models its engine
/// has in force at the time of each request (reloads included).
pub fn for_service(service: &ServiceHandle) -> ReplaySide {
    let models = service.clone();
    replay_fn(
        Arc::new(service.store.inner().clone()),
        service.ledger.clone(),
        Arc::new(move || models.models()),
    )
}

/// The API's replays: of a window over `store` (the window's readings), `ledger` (the recorded
/// leads) and `models` (the trained models), and the engine re-run of a lead's verification.
pub fn replay_fn<S: ReadingStore + 'static>(
    store: Arc<S>,
    ledger: Ledger,
    models: ModelsFn,
) -> ReplaySide {
    ReplaySide {
        window: Arc::new(move |job| -> ReplayFuture {
            let (store, ledger, models) = (Arc::clone(&store), ledger.clone(), models());
            Box::pin(async move { run(&*store, &ledger, &models, job).await })
        }),
        engine: Arc::new(revisions),
    }
}

async fn run<S: ReadingStore>(
    store: &S,
    ledger: &Ledger,
    models: &[MultivariateModel],
    job: ReplayJob,
) -> Result<ReplayOutcome, ApiError> {
    let window = Window {
        from: job.from,
        to: job.to,
        stations: job.stations,
    };
    let mut engine = Engine::new(job.config);
    // Files the engine refuses were refused (logged, counted) when the service loaded them;
    // the engine leaves them out here as it does live.
    let _refused = engine.set_models(models.to_vec());
    let (replayed, readings) = replay_store(store, &window, Replayer::new(engine)).await?;
    let recorded = recorded::for_window(ledger, &window).await?;
    let d = diff(&replayed.leads, &recorded);
    Ok(ReplayOutcome {
        readings,
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
}

/// Feeds `window` of `store` to `replayer` on a blocking thread, slice by slice as
/// [`read_ahead::read_slices`] reads them here; the window's end left open.
async fn replay_store<S: ReadingStore>(
    store: &S,
    window: &Window,
    mut replayer: Replayer,
) -> Result<(Replayed, u64), ApiError> {
    let (tx, mut rx) = read_ahead::channel();
    let engine = tokio::task::spawn_blocking(move || {
        while let Some(slice) = rx.blocking_recv() {
            replayer.feed(&slice);
        }
        replayer.finish(Ending::Open)
    });
    // A failed read closes the channel: the engine stops at what it got, the error is returned.
    let read = read_ahead::read_slices(store, window, CHUNK, SLICE, tx).await;
    let replayed = engine
        .await
        .map_err(|e| ApiError::internal(format!("the replay stopped: {e}")))?;
    let readings = read.map_err(frame_error)?;
    Ok((replayed, readings))
}

fn frame_error(e: FrameError) -> ApiError {
    match e {
        FrameError::Store(e) => e.into(),
        e => ApiError::internal(e.to_string()),
    }
}

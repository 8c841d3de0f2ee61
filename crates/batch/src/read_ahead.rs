//! Read-ahead for sliced replays of a store window (issue 5): while the engine works through
//! one slice, the next is already being read. The reader — a future on the runtime that owns
//! the store client — sends each slice, as engine readings in event-time order, into a channel
//! of one slot; the engine's side takes them in order on its own thread. `riverwatch replay`
//! ([`crate::source::Reader::for_each_slice`]) and the HTTP API's replay ([`crate::api`]) both
//! read this way, so they feed the engine the same slices.
//!
//! Memory holds two slices, not three: the reader reserves the slot *before* it reads a slice,
//! so it starts reading slice N+1 only once the engine has taken slice N (having dropped slice
//! N-1). At any time the slice being replayed and the slice being read are all there is.

use crate::frames::{self, FrameError, Slices, Window};
use riverwatch_engine::Reading;
use riverwatch_live::store::ReadingStore;
use tokio::sync::mpsc;

/// A channel of one slice between the reader and the engine.
pub fn channel() -> (mpsc::Sender<Vec<Reading>>, mpsc::Receiver<Vec<Reading>>) {
    mpsc::channel(1)
}

/// Reads `window` of `store` as slices of about `slice` readings (store round trips of at most
/// `chunk`), each sent to `tx` once the previous one was taken; returns how many readings were
/// read. Stops early, without an error, when the receiving side is gone.
pub async fn read_slices<S: ReadingStore>(
    store: &S,
    window: &Window,
    chunk: usize,
    slice: usize,
    tx: mpsc::Sender<Vec<Reading>>,
) -> Result<u64, FrameError> {
    let mut slices = Slices::open(store, window, chunk, slice).await?;
    let mut n = 0;
    loop {
        let Ok(slot) = tx.reserve().await else {
            return Ok(n);
        };
        let Some(df) = slices.next_frame().await? else {
            return Ok(n);
        };
        let readings = frames::readings(&df)?;
        drop(df);
        n += readings.len() as u64;
        slot.send(readings);
    }
}

//! A replay fed the window a slice at a time from the store equals the replay of the whole
//! window at once: same events, same leads, same revisions, whatever the slice size, even when
//! the slices cut through events.

use crate::{config, load, simulate};
use riverwatch_batch::frames::Window;
use riverwatch_batch::replay::{replay, Ending, Replayer};
use riverwatch_batch::source::{self, Reader, Source};
use riverwatch_engine::sim::Scenario;
use riverwatch_engine::{Engine, Event, Reading, StationId};
use riverwatch_live::store::{ReadingStore, SqliteStore};
use std::sync::Arc;

fn events_json(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect()
}

#[test]
fn sliced_replay_from_sqlite_equals_the_whole_window() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(config(4, 7));
    let w = simulate(dir.path(), "typical", &cfg, Scenario::Typical, 7, 12, true);
    let db = dir.path().join("readings.sqlite");
    let store = SqliteStore::open(&db).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for batch in load(&w).chunks(20_000) {
        rt.block_on(store.write(batch)).unwrap();
    }
    let window = Window {
        from: w.from,
        to: w.to,
        stations: vec![],
    };
    let sqlite = Source::Sqlite(db.clone());
    let (df, _) = source::load(&sqlite, &window, None).unwrap();
    let whole_readings = riverwatch_batch::frames::readings(&df).unwrap();
    assert_eq!(whole_readings.len(), w.readings);
    let reader = Reader::open(&sqlite, &window, None).unwrap();

    for ending in [Ending::Flush, Ending::Open] {
        let whole = replay(
            Engine::new(cfg.clone()),
            &whole_readings,
            ending,
            &mut |_| {},
        );
        assert!(whole.leads.len() >= 3, "{} leads", whole.leads.len());
        for slice in [997, 7_919, source::SLICE] {
            let mut replayer = Replayer::new(Engine::new(cfg.clone()));
            let mut cuts: Vec<i64> = Vec::new();
            let n = reader
                .for_each_slice(slice, &mut |s: &[Reading]| {
                    assert!(s.len() <= slice, "a slice of {} > {slice}", s.len());
                    cuts.extend(s.first().map(|r| r.time));
                    replayer.feed(s);
                })
                .unwrap();
            assert_eq!(n as usize, w.readings);
            let sliced = replayer.finish(ending);
            if slice < 10_000 {
                // The slices really cut through events: some event spans a slice boundary.
                let cut_through = whole
                    .events
                    .iter()
                    .any(|e| cuts.iter().any(|&c| e.start < c && c <= e.end));
                assert!(cut_through, "slice {slice}: no event spans a cut");
            }
            assert_eq!(events_json(&sliced.events), events_json(&whole.events));
            assert_eq!(sliced.leads, whole.leads, "slice {slice}");
            let revs = |h: &[riverwatch_engine::Lead]| -> Vec<(String, u32)> {
                h.iter().map(|l| (l.id.clone(), l.revision)).collect()
            };
            assert_eq!(revs(&sliced.history), revs(&whole.history));
            assert_eq!(sliced.stats.judged, whole.stats.judged);
        }
    }

    // A chart's look-up is one query: the same readings as filtering the whole window.
    let a: StationId = whole_readings[0].station.clone();
    let b = whole_readings
        .iter()
        .map(|r| &r.station)
        .find(|s| **s != a)
        .unwrap()
        .clone();
    let (from, to) = (w.from + 36 * 3_600_000, w.from + 60 * 3_600_000);
    let got = reader.readings(&[a.clone(), b.clone()], from, to).unwrap();
    let want: Vec<Reading> = whole_readings
        .iter()
        .filter(|r| r.time >= from && r.time < to && (r.station == a || r.station == b))
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(reader.readings(&[], from, to).unwrap().is_empty());
}

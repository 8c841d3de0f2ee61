//! Replay: a historical window through the very same [`Engine`] the live service runs, in event
//! time order, and the comparison of what it produced with what the live service recorded.
//!
//! The engine is deterministic in (config, readings in order), so a replay of the window the
//! live service saw gives the same events and lead ids; a replay with another config shows what
//! that config would have done. Nothing here publishes: results go to files (see `report`).
//! `verify lead` re-runs the engine through [`revisions`], this same loop, so a lead that
//! verifies is one `riverwatch replay` reproduces too. [`Replayer`] is the loop itself, fed a
//! slice at a time so a year-long window never has to be in memory at once (`source`).

use riverwatch_engine::detect::Stats;
use riverwatch_engine::{Engine, Event, Lead, Output, Reading};
use std::collections::HashMap;

/// Readings pushed between two progress callbacks.
const PROGRESS_EVERY: usize = 1 << 16;

/// What a replay produced.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// Closed (and, at the window's end, flushed) events in the order the engine emitted them.
    pub events: Vec<Event>,
    /// The last revision of every lead, in the order their ids first appeared.
    pub leads: Vec<Lead>,
    /// Every lead revision emitted, all ids, in the order emitted.
    pub history: Vec<Lead>,
    /// Engine counters.
    pub stats: Stats,
}

/// What happens at the end of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The stream ends with the window: open events are closed and their leads flushed.
    Flush,
    /// The stream goes on past the window, as it did for the live service: open events stay
    /// open, so the leads are exactly those the live service had recorded at that point.
    Open,
}

/// A replay in progress: readings go in slice by slice ([`Replayer::feed`]), results come out
/// once ([`Replayer::finish`]). Memory holds the engine's state and the results, never the
/// window, so a window can be read from the store a slice at a time.
pub struct Replayer {
    engine: Engine,
    out: Output,
    acc: Accumulator,
    pushed: u64,
}

impl Replayer {
    /// A replay through `engine` (fresh, with its config and models set).
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            out: Output::default(),
            acc: Accumulator::default(),
            pushed: 0,
        }
    }

    /// Pushes the next `readings`, which continue the event-time order of those fed before.
    pub fn feed(&mut self, readings: &[Reading]) {
        for r in readings {
            self.engine.push(r, &mut self.out);
            if !self.out.events.is_empty() || !self.out.leads.is_empty() {
                self.acc.take(&mut self.out);
            }
        }
        self.pushed += readings.len() as u64;
    }

    /// Readings fed so far.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Ends the replay as `ending` says and returns what it produced.
    pub fn finish(mut self, ending: Ending) -> Replayed {
        if ending == Ending::Flush {
            self.engine.finish(&mut self.out);
        }
        self.acc.take(&mut self.out);
        Replayed {
            events: self.acc.events,
            leads: self.acc.leads,
            history: self.acc.history,
            stats: self.engine.stats(),
        }
    }
}

/// Feeds `readings` (already in event-time order) through `engine` (fresh, with its config and
/// models set), calling `progress(done)` now and then with the number of readings pushed so far.
pub fn replay(
    engine: Engine,
    readings: &[Reading],
    ending: Ending,
    progress: &mut dyn FnMut(u64),
) -> Replayed {
    let mut replayer = Replayer::new(engine);
    for chunk in readings.chunks(PROGRESS_EVERY) {
        replayer.feed(chunk);
        progress(replayer.pushed());
    }
    replayer.finish(ending)
}

/// Every lead revision a fresh `engine` (config and models set) makes over `readings` with the
/// window's end left open ([`Ending::Open`]), as the live service had when it recorded them:
/// the engine re-run of `verify lead` (`riverwatch_live::seal::verify::Replay`).
pub fn revisions(engine: Engine, readings: &[Reading]) -> Vec<Lead> {
    replay(engine, readings, Ending::Open, &mut |_| {}).history
}

#[derive(Default)]
struct Accumulator {
    events: Vec<Event>,
    leads: Vec<Lead>,
    index: HashMap<String, usize>,
    history: Vec<Lead>,
}

impl Accumulator {
    fn take(&mut self, out: &mut Output) {
        self.events.append(&mut out.events);
        for lead in out.leads.drain(..) {
            self.history.push(lead.clone());
            match self.index.get(&lead.id) {
                Some(&i) => self.leads[i] = lead,
                None => {
                    self.index.insert(lead.id.clone(), self.leads.len());
                    self.leads.push(lead);
                }
            }
        }
        out.findings.clear();
        out.scores.clear();
    }
}

/// How replayed leads compare with those the live service recorded for the same window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadDiff {
    /// Ids the replay produced that the ledger does not hold.
    pub new: Vec<String>,
    /// Ids the ledger holds that the replay did not produce.
    pub missing: Vec<String>,
    /// Ids in both whose category, window, severity or detectors differ, with what differs.
    pub changed: Vec<(String, Vec<&'static str>)>,
    /// Ids in both that agree.
    pub same: usize,
}

/// Compares replayed leads with recorded ones, by id.
pub fn diff(replayed: &[Lead], recorded: &[Lead]) -> LeadDiff {
    let rec: HashMap<&str, &Lead> = recorded.iter().map(|l| (l.id.as_str(), l)).collect();
    let rep: HashMap<&str, &Lead> = replayed.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut d = LeadDiff::default();
    for l in replayed {
        match rec.get(l.id.as_str()) {
            None => d.new.push(l.id.clone()),
            Some(r) => {
                let what = differences(l, r);
                if what.is_empty() {
                    d.same += 1;
                } else {
                    d.changed.push((l.id.clone(), what));
                }
            }
        }
    }
    d.missing = recorded
        .iter()
        .filter(|l| !rep.contains_key(l.id.as_str()))
        .map(|l| l.id.clone())
        .collect();
    d
}

fn differences(a: &Lead, b: &Lead) -> Vec<&'static str> {
    let mut what = Vec::new();
    if a.category != b.category {
        what.push("category");
    }
    if a.window != b.window {
        what.push("window");
    }
    if a.severity != b.severity {
        what.push("severity");
    }
    let names = |l: &Lead| {
        let mut v: Vec<&str> = l.detectors.iter().map(|d| d.detector.name()).collect();
        v.sort();
        v
    };
    if names(a) != names(b) {
        what.push("detectors");
    }
    if a.segment != b.segment {
        what.push("segment");
    }
    what
}

impl std::fmt::Display for LeadDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "leads: {} same, {} new, {} missing, {} changed",
            self.same,
            self.new.len(),
            self.missing.len(),
            self.changed.len()
        )?;
        for id in &self.new {
            writeln!(f, "  new      {id}")?;
        }
        for id in &self.missing {
            writeln!(f, "  missing  {id}")?;
        }
        for (id, what) in &self.changed {
            writeln!(f, "  changed  {id}: {}", what.join(", "))?;
        }
        Ok(())
    }
}

use crate::{config, load, simulate};
use riverwatch_batch::sweep::{grid, Sweep};
use riverwatch_batch::tune::{best, plot_file, table, tune, Labels, PlotFormat};
use riverwatch_engine::sim::Scenario;

#[test]
fn tune_finds_a_candidate_at_least_as_good_as_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(4, 3);
    let w = simulate(dir.path(), "typical", &cfg, Scenario::Typical, 3, 14, true);
    let readings = load(&w);
    let sweeps = [Sweep::parse("robust_z.threshold=4..8:2").unwrap()];
    let candidates = grid(&cfg.texts.thresholds, &sweeps).unwrap();
    assert_eq!(candidates.len(), 4);
    let labels = Labels {
        truth: Some(w.truth.clone()),
        ..Labels::default()
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let out = tune(&cfg, candidates, &readings, &labels, 2, &|_| {
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(done.into_inner(), 4);
    let scores: Vec<_> = out.iter().map(|o| o.score.clone().unwrap()).collect();
    // The candidate equal to the shipped threshold (6) reproduces the default exactly: the
    // rewritten thresholds file means the same thing.
    assert_eq!(
        out[2].candidate.settings,
        vec![("robust_z.threshold".to_string(), 6.0)]
    );
    assert_eq!(scores[2], scores[0]);
    assert!(
        scores.iter().any(|s| s.events != scores[0].events),
        "the sweep changes something"
    );
    let default_f1 = scores[0].primary().f1.unwrap();
    let chosen = best(&out).unwrap();
    let chosen_f1 = chosen.score.as_ref().unwrap().primary().f1.unwrap();
    assert!(chosen_f1 >= default_f1, "{chosen_f1} < {default_f1}");
    assert!(out.iter().any(|o| o.pareto));
    // What --write writes is a thresholds file the config loader accepts.
    let written = cfg
        .with_thresholds_text(&chosen.candidate.thresholds)
        .unwrap();
    assert_eq!(written.stations.list.len(), 4);
    let t = table(&out);
    assert_eq!(t.lines().filter(|l| l.starts_with('>')).count(), 1, "{t}");
    let svg = String::from_utf8(plot_file(&out, PlotFormat::Svg).unwrap()).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("Pareto front"),
        "{svg}"
    );
    let dots = out
        .iter()
        .filter(|o| o.score.as_ref().is_ok_and(|s| s.primary().recall.is_some()))
        .count();
    assert_eq!(
        svg.matches("<circle").count(),
        dots,
        "one dot per scored candidate"
    );
    let png = plot_file(&out, PlotFormat::Png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    // IHDR, the first chunk: length 13, type, then width and height (big-endian).
    assert_eq!(&png[12..16], b"IHDR");
    let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((dim(16), dim(20)), (760, 220));
}

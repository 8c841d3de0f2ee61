//! Trained models for the live engine (issue 5): the directory named by `models.dir` is read
//! at start, before the start-up replay, and again whenever its model files change or on
//! SIGHUP (see `reload`). The rules are those of `detect --models` and `replay --models`: a
//! file that cannot be used — unreadable, not a model, a format this engine does not read,
//! malformed numbers — is logged with its name and reason, counted in
//! `riverwatch_model_errors_total` and left out; the other models and the rest of the engine run
//! either way. A directory that cannot be listed counts the same and leaves the engine without
//! trained models. The engine stage applies a set with `Engine::set_models`, which is where the
//! lead revisions (and so their seals) get the models' versions and digests.

use crate::metrics::Metrics;
use riverwatch_engine::models::MultivariateModel;
use std::ffi::OsString;
use std::path::Path;
use std::time::SystemTime;
use tracing::{error, info};

/// What a change of the directory's model files looks like from outside: each `*.json` entry's
/// name, modification time and size, in name order; `None` when the directory cannot be listed.
pub(crate) type DirStamp = Option<Vec<(OsString, Option<SystemTime>, u64)>>;

/// The stamp of `dir` now.
pub(crate) fn stamp(dir: &Path) -> DirStamp {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let meta = e.metadata().ok();
            (
                e.file_name(),
                meta.as_ref().and_then(|m| m.modified().ok()),
                meta.map_or(0, |m| m.len()),
            )
        })
        .collect();
    files.sort();
    Some(files)
}

/// Reads the model files of `dir`; those that cannot be used are logged and counted (module doc).
pub(crate) fn load(dir: &Path, metrics: &Metrics) -> Vec<MultivariateModel> {
    match MultivariateModel::load_dir(dir) {
        Ok((good, bad)) => {
            for e in &bad {
                error!(file = %e.file, reason = %e.reason, "model file refused; the engine runs without it");
                metrics.model_errors.inc();
            }
            info!(dir = %dir.display(), read = good.len(), refused = bad.len(), "model files read");
            good
        }
        Err(e) => {
            error!(dir = %dir.display(), reason = %e.reason, "models directory unreadable; the engine runs without trained models");
            metrics.model_errors.inc();
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_and_a_missing_directory_are_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Metrics::new();
        std::fs::write(dir.path().join("bad.json"), "{\"format\": 1}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a model, not read").unwrap();
        assert!(load(dir.path(), &metrics).is_empty());
        assert_eq!(metrics.model_errors.get(), 1);
        assert!(load(&dir.path().join("absent"), &metrics).is_empty());
        assert_eq!(metrics.model_errors.get(), 2);
        assert!(stamp(&dir.path().join("absent")).is_none());
    }

    #[test]
    fn the_stamp_changes_with_the_model_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let before = stamp(dir.path());
        assert_eq!(before, Some(vec![]));
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(stamp(dir.path()), before);
        std::fs::write(dir.path().join("m.json"), "{}").unwrap();
        let one = stamp(dir.path());
        assert_ne!(one, before);
        std::fs::write(dir.path().join("m.json"), "{ }").unwrap();
        assert_ne!(stamp(dir.path()), one, "a size change shows");
    }
}

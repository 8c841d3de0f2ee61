//! The rolling baseline a model centres its features on: per feature, the mean of the previous
//! `window` instants the model scored. Slow drift (season, flow) moves that mean along with the
//! readings, so it does not move the score; a shift of a few hours moves it only by its share
//! of the window. The trainer centres its rows with this same type, so training and detection
//! subtract the same baseline.
//!
//! The window counts scored instants, not wall time (an instant is scored when every feature
//! has a reading), so a gap neither empties nor stretches it. Sums are kept exactly by
//! re-adding the window from scratch whenever the ring wraps, so rounding does not creep in
//! over months of readings.
//!
//! In detection the baseline is a [`HeldBaseline`]: an instant the model alarms on is kept out
//! of the mean, for a bounded run of instants. Otherwise a shift of a few hours enters the
//! mean while it lasts and, once it ends, the readings sit off the raised mean in the opposite
//! direction for a day: the model alarmed again hours after every shift it caught. The bound
//! lets a lasting change of level join the baseline after all, so the model does not alarm on
//! it forever.

use std::collections::VecDeque;

/// Per-feature rolling mean over the previous `window` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RollingMean {
    window: usize,
    rows: VecDeque<Vec<f64>>,
    sums: Vec<f64>,
    pushed: usize,
}

impl RollingMean {
    /// A baseline of `features` columns over `window` rows (at least 1).
    pub fn new(features: usize, window: usize) -> Self {
        Self {
            window: window.max(1),
            rows: VecDeque::with_capacity(window.max(1)),
            sums: vec![0.0; features],
            pushed: 0,
        }
    }

    /// Rows the baseline needs before it centres anything: half its window.
    pub fn warm_up(&self) -> usize {
        self.window.div_ceil(2)
    }

    /// `x` minus the mean of the previous rows, or None while fewer than [`warm_up`] rows were
    /// seen. Then `x` joins the window (the oldest row leaves it when full).
    ///
    /// [`warm_up`]: Self::warm_up
    pub fn centre_and_push(&mut self, x: &[f64]) -> Option<Vec<f64>> {
        let centred = self.centre(x);
        self.push(x);
        centred
    }

    /// `x` minus the mean of the window, or None while fewer than [`warm_up`] rows were seen.
    ///
    /// [`warm_up`]: Self::warm_up
    pub fn centre(&self, x: &[f64]) -> Option<Vec<f64>> {
        let n = self.rows.len();
        (n >= self.warm_up()).then(|| {
            x.iter()
                .zip(&self.sums)
                .map(|(v, s)| v - s / n as f64)
                .collect()
        })
    }

    /// The mean of the window's rows (None when empty).
    pub fn mean(&self) -> Option<Vec<f64>> {
        let n = self.rows.len();
        (n > 0).then(|| self.sums.iter().map(|s| s / n as f64).collect())
    }

    /// Adds `x` to the window (the oldest row leaves it when full).
    pub fn push(&mut self, x: &[f64]) {
        if self.rows.len() == self.window {
            if let Some(old) = self.rows.pop_front() {
                for (s, v) in self.sums.iter_mut().zip(&old) {
                    *s -= v;
                }
            }
        }
        for (s, v) in self.sums.iter_mut().zip(x) {
            *s += v;
        }
        self.rows.push_back(x.to_vec());
        self.pushed += 1;
        if self.pushed.is_multiple_of(self.window) {
            // Re-add from scratch once per window: no drift from subtract-and-add rounding.
            self.sums.iter_mut().for_each(|s| *s = 0.0);
            for r in &self.rows {
                for (s, v) in self.sums.iter_mut().zip(r) {
                    *s += v;
                }
            }
        }
    }
}

/// A [`RollingMean`] that leaves out the instants a model alarms on, up to `max_hold` in a row.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldBaseline {
    mean: RollingMean,
    max_hold: usize,
    held: usize,
}

impl HeldBaseline {
    /// A baseline of `features` columns over `window` rows that holds still for at most
    /// `max_hold` alarming rows in a row (0: never holds, every row joins the mean).
    pub fn new(features: usize, window: usize, max_hold: usize) -> Self {
        Self {
            mean: RollingMean::new(features, window),
            max_hold,
            held: 0,
        }
    }

    /// `x` minus the baseline, or None while it warms up (see [`RollingMean::centre`]).
    pub fn centre(&self, x: &[f64]) -> Option<Vec<f64>> {
        self.mean.centre(x)
    }

    /// The baseline (None before the first row).
    pub fn mean(&self) -> Option<Vec<f64>> {
        self.mean.mean()
    }

    /// Offers the instant `x` after scoring: it joins the mean unless the model alarmed on it
    /// and fewer than `max_hold` alarming rows in a row were left out already. Returns whether
    /// it joined.
    pub fn admit(&mut self, x: &[f64], alarming: bool) -> bool {
        if alarming && self.held < self.max_hold {
            self.held += 1;
            return false;
        }
        if !alarming {
            self.held = 0;
        }
        self.mean.push(x);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{HeldBaseline, RollingMean};

    #[test]
    fn alarming_rows_stay_out_of_the_mean_for_a_bounded_run() {
        let mut b = HeldBaseline::new(1, 4, 2);
        for _ in 0..4 {
            assert!(b.admit(&[1.0], false));
        }
        // A shift the model alarms on: the first two rows are held, the third joins.
        assert_eq!(b.centre(&[5.0]), Some(vec![4.0]));
        assert!(!b.admit(&[5.0], true));
        assert!(!b.admit(&[5.0], true));
        assert_eq!(b.mean(), Some(vec![1.0]));
        assert!(b.admit(&[5.0], true));
        assert_eq!(b.mean(), Some(vec![2.0]));
        // A quiet row resets the run: the next alarm is held again.
        assert!(b.admit(&[1.0], false));
        assert!(!b.admit(&[9.0], true));
        assert_eq!(b.mean(), Some(vec![2.0]), "1, 1, 5, 1: the 9 was held");
        // Without a hold every row joins.
        let mut never = HeldBaseline::new(1, 4, 0);
        assert!(never.admit(&[9.0], true));
        assert_eq!(never.mean(), Some(vec![9.0]));
    }

    #[test]
    fn centres_on_the_previous_rows_only_after_warm_up() {
        let mut b = RollingMean::new(2, 4);
        assert_eq!(b.warm_up(), 2);
        assert_eq!(b.centre_and_push(&[1.0, 10.0]), None);
        assert_eq!(b.centre_and_push(&[3.0, 30.0]), None);
        // Mean of the two previous rows is (2, 20); the current row is not part of it.
        assert_eq!(b.centre_and_push(&[5.0, 20.0]), Some(vec![3.0, 0.0]));
    }

    #[test]
    fn the_oldest_row_leaves_a_full_window() {
        let mut b = RollingMean::new(1, 3);
        for v in [100.0, 1.0, 2.0, 3.0] {
            b.centre_and_push(&[v]);
        }
        // 100 has left: the window is 1, 2, 3.
        assert_eq!(b.mean(), Some(vec![2.0]));
        assert_eq!(b.centre_and_push(&[2.0]), Some(vec![0.0]));
    }

    #[test]
    fn a_slow_drift_does_not_move_the_centred_value_but_a_step_does() {
        let mut b = RollingMean::new(1, 288);
        let mut last = 0.0;
        for i in 0..2000 {
            // A drift of one unit per 1000 rows: centred values stay near half a window of it.
            if let Some(c) = b.centre_and_push(&[i as f64 / 1000.0]) {
                last = c[0];
            }
        }
        assert!((last - 0.1445).abs() < 1e-9, "{last}");
        let c = b.centre_and_push(&[2.0 + 3.0]).unwrap();
        assert!(c[0] > 2.9, "{c:?}");
    }

    #[test]
    fn sums_stay_exact_over_many_windows() {
        let mut b = RollingMean::new(1, 7);
        for i in 0..100_000 {
            b.centre_and_push(&[1e6 + (i % 13) as f64 * 0.1]);
        }
        let exact: f64 = (100_000 - 7..100_000)
            .map(|i| 1e6 + (i % 13) as f64 * 0.1)
            .sum::<f64>()
            / 7.0;
        assert!((b.mean().unwrap()[0] - exact).abs() < 1e-6);
    }
}

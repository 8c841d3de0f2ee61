//! A rolling window that answers median and MAD: a ring of the last `w` values for eviction
//! and a sorted copy for order statistics. Insert and evict are a binary search and a short
//! memmove (O(log w) compares, O(w) bytes moved, w ≤ 1024); the MAD is a bisection over the
//! two sorted runs of deviations on either side of the median, O(log w).

use std::hint::select_unpredictable;

/// Rolling median / MAD over the last `cap` values.
#[derive(Debug, Clone)]
pub struct RollingWindow {
    ring: Vec<f64>,
    head: usize,
    sorted: Vec<f64>,
    cap: usize,
    mad_cache: Option<f64>,
    pushes_since_mad: u32,
}

/// Pushes between two MAD computations in [`RollingWindow::mad_cached`]: the spread of a
/// window of dozens moves little in a few readings, and the MAD is the costliest step per
/// reading.
const MAD_EVERY: u32 = 4;

impl RollingWindow {
    /// An empty window of capacity `cap` (at least 1).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            ring: Vec::with_capacity(cap),
            head: 0,
            sorted: Vec::with_capacity(cap),
            cap,
            mad_cache: None,
            pushes_since_mad: 0,
        }
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Adds a finite value, evicting the oldest when full. Non-finite values are ignored.
    pub fn push(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        self.pushes_since_mad += 1;
        if self.ring.len() < self.cap {
            self.ring.push(v);
            let i = self.sorted.partition_point(|x| *x < v);
            self.sorted.insert(i, v);
            return;
        }
        let old = std::mem::replace(&mut self.ring[self.head], v);
        self.head += 1;
        if self.head == self.cap {
            self.head = 0;
        }
        // Remove `old` (at `i`) and insert `v` in one move of the values between them: the
        // same arrangement as `remove(i)` then `insert`, without shifting the whole tail twice.
        let s = &mut self.sorted;
        let (i, j) = positions(s, old, v);
        // Up: everything below `v` includes `old` (`i < j`), the values i+1..j move down one
        // and `v` lands at j − 1. Down: everything below `v` is below `old` too (`j <= i`),
        // the values j..i move up one and `v` lands at j. Which way is a coin toss on noisy
        // data: chosen by a select, as a branch would be mispredicted half the time.
        let up = old < v;
        let (from, to, count, at) = select_unpredictable(
            up,
            (i + 1, i, j.wrapping_sub(i + 1), j.wrapping_sub(1)),
            (j, j + 1, i.wrapping_sub(j), j),
        );
        s.copy_within(from..from + count, to);
        s[at] = v;
    }

    /// Loads every cache line the next median, MAD and push read. Their binary searches load
    /// one value after another, each waiting on the last; when the window is not in the core's
    /// cache (a thousand streams' windows are not), touching its lines first lets their misses
    /// overlap instead of queueing one behind the other.
    pub fn touch(&self) {
        let s = &self.sorted;
        let mut sum = self.ring.get(self.head).copied().unwrap_or(0.0);
        // One value per 64-byte line (eight `f64`), and the last in case the values straddle.
        let mut k = 0;
        while k < s.len() {
            sum += s[k];
            k += 8;
        }
        if let Some(last) = s.last() {
            sum += last;
        }
        std::hint::black_box(sum);
    }

    /// The MAD, recomputed every few pushes (and always while the window fills).
    pub fn mad_cached(&mut self) -> Option<f64> {
        if self.mad_cache.is_none()
            || self.pushes_since_mad >= MAD_EVERY
            || self.ring.len() < self.cap
        {
            self.mad_cache = self.mad();
            self.pushes_since_mad = 0;
        }
        self.mad_cache
    }

    /// Median, or None when empty.
    pub fn median(&self) -> Option<f64> {
        let n = self.sorted.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(self.sorted[n / 2]),
            _ => Some((self.sorted[n / 2 - 1] + self.sorted[n / 2]) / 2.0),
        }
    }

    /// Median absolute deviation from the median (unscaled), or None when empty.
    pub fn mad(&self) -> Option<f64> {
        let m = self.median()?;
        let s = &self.sorted;
        let n = s.len();
        // Deviations left of the split grow leftwards (`a`), right of it rightwards (`b`): two
        // ascending runs. The MAD is their merged (n/2 + 1)-th smallest (with the n/2-th for
        // an even n), found by bisecting how many come from the left: O(log w). Every step
        // and the final pick are selects, not branches: on noisy data each way is as likely,
        // and a mispredicted branch costs more than the compare it guards.
        let split = s.partition_point(|x| *x < m);
        let a = |i: usize| m - s[split - 1 - i];
        let b = |j: usize| s[split + j] - m;
        let (la, lb) = (split, n - split);
        let k = n / 2 + 1;
        // How many of the k smallest come from `a`: the first i in lo..hi where the next `a`
        // is no smaller than the `b` it would displace (all of lo..hi keep both in range).
        let (lo, hi) = (k.saturating_sub(lb), k.min(la));
        let takes_a = |i: usize| a(i) < b(k - i - 1);
        let (mut base, mut size) = (lo, hi - lo);
        if size > 0 {
            // The answer lies in base..=base + size; halve that without a data-dependent branch.
            while size > 1 {
                let half = size / 2;
                base = select_unpredictable(takes_a(base + half), base + half, base);
                size -= half;
            }
            base += usize::from(takes_a(base));
        }
        // The k smallest are a(..i) and b(..j); the k-th is the larger of the two last
        // (deviations are never negative, so −1 stands for a side that gives none).
        let (i, j) = (base, k - base);
        let last_a = if i > 0 { a(i - 1) } else { -1.0 };
        let last_b = if j > 0 { b(j - 1) } else { -1.0 };
        let from_a = last_a >= last_b;
        let cur = select_unpredictable(from_a, last_a, last_b);
        if n % 2 == 1 {
            return Some(cur);
        }
        // The (k−1)-th: the largest of the k smallest once `cur` is taken out.
        let (i, j) = select_unpredictable(from_a, (i.wrapping_sub(1), j), (i, j.wrapping_sub(1)));
        let prev_a = if i > 0 { a(i - 1) } else { -1.0 };
        let prev_b = if j > 0 { b(j - 1) } else { -1.0 };
        Some((select_unpredictable(prev_a >= prev_b, prev_a, prev_b) + cur) / 2.0)
    }
}

/// Where `a` and `b` go in the ascending values `s` (how many values are below each): the two
/// binary searches of a push, run in one loop of branch-free halvings so that they overlap.
fn positions(s: &[f64], a: f64, b: f64) -> (usize, usize) {
    let (mut i, mut j, mut size) = (0, 0, s.len());
    if size == 0 {
        return (0, 0);
    }
    // Each answer lies in base..=base + size; halve that until one value is left to test.
    while size > 1 {
        let half = size / 2;
        i = select_unpredictable(s[i + half] < a, i + half, i);
        j = select_unpredictable(s[j + half] < b, j + half, j);
        size -= half;
    }
    (i + usize::from(s[i] < a), j + usize::from(s[j] < b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(v: &[f64]) -> (f64, f64) {
        let med = |x: &mut Vec<f64>| {
            x.sort_by(f64::total_cmp);
            let n = x.len();
            if n % 2 == 1 {
                x[n / 2]
            } else {
                (x[n / 2 - 1] + x[n / 2]) / 2.0
            }
        };
        let m = med(&mut v.to_vec());
        let mut d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
        (m, med(&mut d))
    }

    #[test]
    fn matches_naive_median_and_mad() {
        let mut w = RollingWindow::new(7);
        let mut all = Vec::new();
        let mut x = 0.3f64;
        for i in 0..200 {
            x = (x * 3.7 * (1.0 - x)).clamp(0.001, 0.999);
            let v = if i % 13 == 0 {
                5.0
            } else {
                (x * 10.0).round() / 10.0
            };
            w.push(v);
            all.push(v);
            let tail = &all[all.len().saturating_sub(7)..];
            let (m, mad) = naive(tail);
            assert_eq!(w.median(), Some(m));
            assert!(
                (w.mad().unwrap() - mad).abs() < 1e-12,
                "at {i}: {:?} vs {mad}",
                w.mad()
            );
        }
    }

    proptest::proptest! {
        /// The bisection gives exactly the sort-based median and MAD on any window: values
        /// drawn from a few levels (many ties, as quantised sensors give) or spread widely,
        /// through evictions of every capacity.
        #[test]
        fn median_and_mad_equal_the_sort_based_ones(
            cap in 1usize..64,
            levels in proptest::collection::vec(-1e6f64..1e6, 1..6),
            picks in proptest::collection::vec((0usize..8, -1e3f64..1e3), 1..300),
        ) {
            let mut w = RollingWindow::new(cap);
            let mut all = Vec::new();
            for (pick, spread) in picks {
                let v = levels.get(pick).copied().unwrap_or(spread);
                w.push(v);
                all.push(v);
                let (m, mad) = naive(&all[all.len().saturating_sub(cap)..]);
                proptest::prop_assert_eq!(w.median(), Some(m));
                proptest::prop_assert_eq!(w.mad(), Some(mad));
            }
        }
    }

    #[test]
    fn positions_equal_the_partition_points() {
        // Ties, values below and above everything, and every length up to a few dozen.
        for n in 0..40usize {
            let s: Vec<f64> = (0..n).map(|k| (k / 3) as f64).collect();
            for probe in -2..=(n as i32 / 3 + 2) {
                for half in [0.0, 0.5] {
                    let (a, b) = (f64::from(probe) + half, f64::from(probe) - half);
                    let want = (s.partition_point(|x| *x < a), s.partition_point(|x| *x < b));
                    assert_eq!(positions(&s, a, b), want, "n {n} a {a} b {b}");
                }
            }
        }
    }

    #[test]
    fn ignores_non_finite() {
        let mut w = RollingWindow::new(3);
        w.push(f64::NAN);
        w.push(f64::INFINITY);
        assert_eq!(w.len(), 0);
        assert_eq!(w.median(), None);
        w.push(1.0);
        assert_eq!(w.mad(), Some(0.0));
    }
}

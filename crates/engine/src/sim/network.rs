//! The river network as the simulator needs it: station indices, who is downstream of whom
//! with what travel time, an estimated flow per station for confluence dilution, and a
//! synthetic chain-and-tree network for `--stations N`.
//!
//! Flows are not in `stations.toml`, so they are estimated: a headwater on the mainstem carries
//! 2 m³/s, a tributary headwater 1 m³/s (dongliao.md §1: tributaries ≈ 1.1 m³/s), and every
//! station adds its upstream flows plus 0.02 m³/s of lateral inflow per km of its own reach.

use super::rng::Rng;
use crate::config::{Stations, WaterBody};
use crate::time::Millis;
use std::fmt::Write;

/// Topology of a configured network, by station index (file order).
#[derive(Debug, Clone)]
pub struct Network {
    /// Per station: downstream stations with the travel time to them (None: no lagged link).
    pub downstream: Vec<Vec<(usize, Option<Millis>)>>,
    /// Per station: upstream stations with travel time, in config order.
    pub upstream: Vec<Vec<(usize, Option<Millis>)>>,
    /// Per station: estimated mean flow, m³/s.
    pub flow: Vec<f64>,
    /// Per station: reservoir or lake (pulses stop there).
    pub reservoir: Vec<bool>,
}

impl Network {
    /// Builds the topology of `stations`.
    pub fn new(stations: &Stations) -> Self {
        let n = stations.list.len();
        let ids: std::collections::HashMap<&str, usize> = stations
            .list
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let index = |id: &str| ids.get(id).copied();
        let mut upstream = vec![Vec::new(); n];
        let mut downstream = vec![Vec::new(); n];
        for (i, s) in stations.list.iter().enumerate() {
            for (u, tt) in &s.upstream {
                if let Some(j) = index(u.as_str()) {
                    upstream[i].push((j, *tt));
                    downstream[j].push((i, *tt));
                }
            }
        }
        let reservoir = stations
            .list
            .iter()
            .map(|s| s.water_body == WaterBody::Reservoir)
            .collect();
        let mut flow = vec![f64::NAN; n];
        // Repeated relaxation instead of a topological sort: a cycle (which the config does not
        // forbid) simply stays at the fallback instead of recursing forever.
        for _ in 0..n {
            let mut changed = false;
            for i in 0..n {
                let s = &stations.list[i];
                if upstream[i].is_empty() {
                    let tributary = downstream[i]
                        .iter()
                        .any(|&(d, _)| stations.list[d].river != s.river);
                    let f = if tributary { 1.0 } else { 2.0 };
                    changed |= flow[i] != f;
                    flow[i] = f;
                } else if upstream[i].iter().all(|&(u, _)| flow[u].is_finite()) {
                    let sum: f64 = upstream[i].iter().map(|&(u, _)| flow[u]).sum();
                    let top = upstream[i]
                        .iter()
                        .map(|&(u, _)| stations.list[u].river_km)
                        .fold(f64::MIN, f64::max);
                    let f = sum + 0.02 * (s.river_km - top).clamp(0.0, 500.0);
                    changed |= flow[i] != f;
                    flow[i] = f;
                }
            }
            if !changed {
                break;
            }
        }
        for f in &mut flow {
            if !f.is_finite() {
                *f = 2.0;
            }
        }
        Self {
            downstream,
            upstream,
            flow,
            reservoir,
        }
    }
}

struct SynthStation {
    river: String,
    km: f64,
    upstream: Vec<(usize, Option<f64>)>,
    class: &'static str,
    reservoir: bool,
}

/// Largest basin of a synthetic network; bigger networks are split into several basins.
const BASIN: usize = 30;

/// A synthetic `stations.toml` with `n` stations in basins of at most 30: each a mainstem chain
/// with tributary stations joining it and, from eight mainstem stations on, a reservoir that
/// breaks the chain. Travel times follow river-km at about 0.3 m/s (0.93 h/km).
pub fn synthetic_stations_toml(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed, 0x5EED_0000_0000_0001);
    let n = n.max(1);
    let basins = n.div_ceil(BASIN);
    let mut list: Vec<SynthStation> = Vec::with_capacity(n);
    for b in 0..basins {
        // Spread the stations evenly: the first `n % basins` basins get one more.
        let size = n / basins + usize::from(b < n % basins);
        basin(&mut list, size, b, &mut rng);
    }
    render(&list)
}

/// Appends one basin of `n` stations (indices continue from `list.len()`).
fn basin(list: &mut Vec<SynthStation>, n: usize, number: usize, rng: &mut Rng) {
    let first = list.len();
    let tributaries = if n >= 3 { n * 3 / 10 } else { 0 };
    let main = n - tributaries;
    let reservoir_at = (main >= 8).then_some(main * 2 / 5);
    let mut km = rng.range(3.0, 10.0);
    for i in 0..main {
        let reservoir = reservoir_at == Some(i);
        let mut upstream = Vec::new();
        if i > 0 {
            let gap = rng.range(15.0, 50.0);
            km += gap;
            // Across the reservoir there is no lagged link (dongliao.md §3).
            let linked = !reservoir && reservoir_at.is_none_or(|r| i != r + 1);
            upstream.push((first + i - 1, linked.then_some(gap * 0.93)));
        }
        let class = ["II", "III", "III", "IV", "IV"][if i == 0 { 0 } else { 1 + rng.below(4) }];
        let river = format!("river{number}");
        list.push(SynthStation {
            river,
            km,
            upstream,
            class,
            reservoir,
        });
    }
    for t in 0..tributaries {
        // A tributary joins a mainstem station that has a lagged link (not the first, not the
        // reservoir or the station below it): one travel time per upstream station.
        let candidates: Vec<usize> = (first + 1..first + main)
            .filter(|&j| list[j].upstream.iter().all(|u| u.1.is_some()))
            .collect();
        let tt = rng.range(3.0, 20.0);
        let class = ["III", "IV", "V"][rng.below(3)];
        let joins = candidates.get(rng.below(candidates.len())).copied();
        let km = joins.map_or(0.0, |j| list[j].km - tt / 0.93);
        let river = format!("river{number}-trib{t}");
        list.push(SynthStation {
            river,
            km,
            upstream: vec![],
            class,
            reservoir: false,
        });
        if let Some(j) = joins {
            let me = list.len() - 1;
            list[j].upstream.push((me, Some(tt)));
        }
    }
}

/// The stations as `stations.toml` text.
fn render(list: &[SynthStation]) -> String {
    let id = |i: usize| format!("S{i:04}");
    let mut out =
        String::from("# Synthetic network generated by `riverwatch simulate --stations N`.\n");
    for (i, s) in list.iter().enumerate() {
        let ups: Vec<String> = s
            .upstream
            .iter()
            .map(|(u, _)| format!("\"{}\"", id(*u)))
            .collect();
        let tts: Vec<String> = if s.upstream.iter().all(|u| u.1.is_some()) {
            s.upstream
                .iter()
                .filter_map(|u| u.1)
                .map(|h| format!("{h:.1}"))
                .collect()
        } else {
            Vec::new()
        };
        let _ = writeln!(
            out,
            "\n[[station]]\nid = \"{}\"\nriver = \"{}\"\nriver_km = {:.1}\nupstream = [{}]\n\
             travel_time_from_upstream_h = [{}]\ntarget_class = \"{}\"\nwater_body = \"{}\"",
            id(i),
            s.river,
            s.km,
            ups.join(", "),
            tts.join(", "),
            s.class,
            if s.reservoir { "reservoir" } else { "river" },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::sim::tests::station_index;
    use crate::time::HOUR;

    #[test]
    fn shipped_network_dilutes_at_confluences() {
        let cfg = Config::embedded();
        let net = Network::new(&cfg.stations);
        let ix = |id: &str| station_index(&cfg.stations, id);
        let (dl02, tr01, dl03) = (ix("DL02"), ix("TR01"), ix("DL03"));
        assert_eq!(net.flow[tr01], 1.0);
        assert!(net.flow[dl03] > net.flow[dl02] + net.flow[tr01]);
        assert!(net.reservoir[ix("RS01")]);
        assert_eq!(net.downstream[dl02], vec![(dl03, Some(20 * HOUR))]);
        assert_eq!(net.downstream[ix("RS01")], vec![(ix("DL05"), None)]);
    }

    #[test]
    fn synthetic_networks_parse_and_are_trees() {
        for n in [1, 2, 5, 14, 31, 60] {
            let text = synthetic_stations_toml(n, 9);
            let s = Stations::parse("synthetic", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(s.list.len(), n);
            let net = Network::new(&s);
            let headwaters = net.upstream.iter().filter(|u| u.is_empty()).count();
            assert!(headwaters >= 1);
            assert!(
                net.downstream.iter().all(|d| d.len() <= 1),
                "a tree: one way down"
            );
            assert_eq!(text, synthetic_stations_toml(n, 9), "deterministic");
            let rivers: std::collections::BTreeSet<&str> = s
                .list
                .iter()
                .filter(|s| s.upstream.is_empty())
                .map(|s| s.river.as_str())
                .collect();
            assert_eq!(
                rivers.iter().filter(|r| !r.contains("trib")).count(),
                n.div_ceil(30),
                "one mainstem per basin"
            );
        }
    }
}

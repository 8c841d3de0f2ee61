//! Pulse transport down the network (signals.md §5): a release reaches each station after the
//! configured travel times, spread by longitudinal dispersion (σx = √(2DT), σt = σx/U), diluted
//! by the flow ratio at every confluence, and stopped by reservoirs or by links without a travel
//! time. Decay is per parameter and applied by the caller.

use super::math::erf;
use super::network::Network;
use crate::time::MINUTE;

/// Mean velocity used to turn travel time into distance, m/s (low flow, dongliao.md §3).
pub const VELOCITY: f64 = 0.3;

/// Stations where the pulse is weaker than this fraction of its first-station peak are not
/// followed further: the change would be lost in the noise.
pub const MIN_GAIN: f64 = 0.03;

/// How a release shows at one station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Station index.
    pub station: usize,
    /// Travel time from the source, ms.
    pub travel: f64,
    /// Temporal spread at the station, ms.
    pub sigma: f64,
    /// Peak concentration increment relative to the first station (dilution and spreading).
    pub gain: f64,
}

/// Temporal spread after travelling `travel_ms` with dispersion coefficient `dispersion` m²/s;
/// at least ten minutes (near the source the plume is not yet Gaussian).
pub fn sigma_ms(travel_ms: f64, dispersion: f64) -> f64 {
    let t = travel_ms.max(0.0) / 1000.0;
    ((2.0 * dispersion * t).sqrt() / VELOCITY * 1000.0).max(10.0 * MINUTE as f64)
}

/// Peak of a release of duration `tau` spread by `sigma`, relative to the plateau it would have
/// without dispersion.
pub fn peak_fraction(tau: f64, sigma: f64) -> f64 {
    erf(tau / (2.0 * std::f64::consts::SQRT_2 * sigma))
}

/// Follows a release of duration `tau` that reaches station `first` after `travel_first` ms,
/// downstream through the network. The first arrival has gain 1.
pub fn route(
    net: &Network,
    first: usize,
    travel_first: f64,
    tau: f64,
    dispersion: f64,
) -> Vec<Arrival> {
    let sigma = sigma_ms(travel_first, dispersion);
    let peak0 = peak_fraction(tau, sigma);
    let mut out = vec![Arrival {
        station: first,
        travel: travel_first,
        sigma,
        gain: 1.0,
    }];
    let mut dilution = vec![(first, 1.0)];
    let mut i = 0;
    while i < out.len() {
        let here = out[i];
        let dil = dilution[i].1;
        for &(next, tt) in &net.downstream[here.station] {
            let Some(tt) = tt else { continue }; // no lagged link (reservoir outflow)
            if net.reservoir[next] || out.iter().any(|a| a.station == next) {
                continue; // a reservoir averages the pulse away over weeks
            }
            let travel = here.travel + tt as f64;
            let sigma = sigma_ms(travel, dispersion);
            let d = dil * net.flow[here.station] / net.flow[next].max(1e-9);
            let gain = d * peak_fraction(tau, sigma) / peak0;
            if gain >= MIN_GAIN {
                out.push(Arrival {
                    station: next,
                    travel,
                    sigma,
                    gain,
                });
                dilution.push((next, d));
            }
        }
        i += 1;
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
    fn worked_numbers_of_the_reference() {
        // U 0.3 m/s, D 20 m²/s: at 18.5 h, σt ≈ 1.5 h.
        let s = sigma_ms(18.5 * HOUR as f64, 20.0) / HOUR as f64;
        assert!((s - 1.51).abs() < 0.02, "{s}");
    }

    #[test]
    fn pulse_goes_down_the_mainstem_weaker_and_stops_at_the_reservoir() {
        let cfg = Config::embedded();
        let net = Network::new(&cfg.stations);
        let ix = |id: &str| station_index(&cfg.stations, id);
        let r = route(&net, ix("TR01"), 2.0 * HOUR as f64, 0.5 * HOUR as f64, 20.0);
        let ids: Vec<&str> = r
            .iter()
            .map(|a| cfg.stations.list[a.station].id.as_str())
            .collect();
        assert_eq!(ids[..2], ["TR01", "DL03"]);
        assert!(!ids.contains(&"RS01") && !ids.contains(&"DL05"), "{ids:?}");
        let dl03 = r[1];
        assert_eq!(dl03.travel, 16.0 * HOUR as f64);
        assert!(
            dl03.gain < 0.3,
            "diluted about 4× at the confluence and spread: {}",
            dl03.gain
        );
        assert!(dl03.sigma > r[0].sigma);
        for w in r.windows(2) {
            assert!(w[1].gain <= w[0].gain && w[1].travel > w[0].travel);
        }
    }
}

//! Unit conversion into the project units of [`crate::params`]: SenML senders name a unit per
//! record (RFC 8428 symbols such as `S/m`, `Cel`, `kg/m3`, or unregistered ones such as `mg/L`),
//! HJ 212 sends a few metals in μg/L.
//!
//! Policy (senml.md §4): convert the units we know; a known unit of the wrong dimension for a
//! known parameter is an item error (never guess a scale silently); a unit we do not know keeps
//! the raw value with a note. Powers of ten are applied in decimal, so 0.0412 S/m is exactly
//! 412 μS/cm and not 412.00000000000006.

use crate::params;

/// How to get from a sent unit to the project unit.
#[derive(Debug, Clone, Copy)]
enum How {
    Same,
    /// Multiply by 10^n.
    Pow10(i32),
    /// Add a constant (kelvin to degrees Celsius).
    Offset(f64),
}

/// Sent symbols (RFC 8428 / RFC 8798 registry first, common unregistered spellings after),
/// the project unit they convert to, and how.
const TABLE: &[(&[&str], &str, How)] = &[
    (&["Cel", "°C", "degC"], "°C", How::Same),
    (&["K"], "°C", How::Offset(-273.15)),
    (&["S/m"], "μS/cm", How::Pow10(4)),
    (&["mS/cm"], "μS/cm", How::Pow10(3)),
    (&["uS/cm", "μS/cm", "µS/cm"], "μS/cm", How::Same),
    (&["kg/m3"], "mg/L", How::Pow10(3)),
    (&["mg/L", "mg/l", "g/m3"], "mg/L", How::Same),
    (&["ug/L", "ug/l", "μg/L", "µg/L"], "mg/L", How::Pow10(-3)),
    (&["pH"], "pH", How::Same),
    (&["NTU"], "NTU", How::Same),
    (&["L/s", "l/s"], "L/s", How::Same),
    (&["m3/s"], "L/s", How::Pow10(3)),
];

/// Converts `value`, sent in `unit`, into the project unit of parameter `param`.
/// `Ok((value, None))` converted or already right; `Ok((value, Some(note)))` unit unknown, kept
/// raw; `Err(reason)` the unit contradicts the parameter and the value must be skipped.
pub(super) fn to_project_unit(
    value: f64,
    unit: &str,
    param: &str,
) -> Result<(f64, Option<String>), String> {
    let project = params::lookup(param).map(|p| p.unit);
    match TABLE.iter().find(|(symbols, _, _)| symbols.contains(&unit)) {
        Some((_, to, how)) => match project {
            Some(pu) if pu != *to => Err(format!(
                "unit `{unit}` ({to}) does not fit {param}, measured in {pu}: value skipped"
            )),
            _ => Ok((apply(*how, value), None)),
        },
        None if project == Some(unit) => Ok((value, None)),
        None => Ok((
            value,
            Some(format!(
                "{param}: unit `{unit}` is not one riverwatch converts; value kept as sent"
            )),
        )),
    }
}

fn apply(how: How, v: f64) -> f64 {
    match how {
        How::Same => v,
        How::Pow10(n) => scale10(v, n),
        // Round away the binary noise of the subtraction (296.55 K is 23.4 °C, not 23.400000000000034).
        How::Offset(c) => ((v + c) * 1e9).round() / 1e9,
    }
}

/// `v × 10^n`, rounded as if done on the decimal text (shortest round-trip digits).
pub(super) fn scale10(v: f64, n: i32) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v * 10f64.powi(n);
    }
    format!("{v:e}")
        .split_once('e')
        .and_then(|(m, e)| Some(format!("{m}e{}", e.parse::<i32>().ok()? + n)))
        .and_then(|s| s.parse().ok())
        .unwrap_or(v * 10f64.powi(n))
}

/// `v` rounded to 12 significant digits: removes binary noise of an addition, far below any
/// sensor's resolution.
pub(super) fn round_sig(v: f64) -> f64 {
    format!("{v:.11e}").parse().unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_known_units_exactly() {
        assert_eq!(to_project_unit(0.0412, "S/m", "cond"), Ok((412.0, None)));
        assert_eq!(to_project_unit(1.385, "mS/cm", "cond"), Ok((1385.0, None)));
        assert_eq!(to_project_unit(0.00815, "kg/m3", "do"), Ok((8.15, None)));
        assert_eq!(to_project_unit(296.55, "K", "temp"), Ok((23.4, None)));
        assert_eq!(to_project_unit(23.4, "Cel", "temp"), Ok((23.4, None)));
        assert_eq!(to_project_unit(0.5, "ug/L", "hg"), Ok((0.0005, None)));
        assert_eq!(to_project_unit(8.15, "mg/L", "do"), Ok((8.15, None)));
        assert_eq!(to_project_unit(18.6, "NTU", "turb"), Ok((18.6, None)));
    }

    #[test]
    fn the_table_speaks_the_project_units() {
        for (_, to, _) in TABLE {
            assert!(
                params::KNOWN.iter().any(|p| p.unit == *to),
                "{to} is no parameter's project unit"
            );
        }
        assert_eq!(params::lookup("cond").unwrap().unit, "μS/cm");
    }

    #[test]
    fn wrong_dimension_is_refused_and_unknown_kept() {
        let e = to_project_unit(0.04, "S/m", "temp").unwrap_err();
        assert!(e.contains("does not fit temp"), "{e}");
        let (v, note) = to_project_unit(3.0, "furlong", "do").unwrap();
        assert_eq!(v, 3.0);
        assert!(note.unwrap().contains("`furlong`"));
        // Unknown parameters still get known units converted.
        assert_eq!(
            to_project_unit(0.1, "S/m", "salinity_probe"),
            Ok((1000.0, None))
        );
        // A project unit spelled as the project spells it is fine even if not in the table.
        assert_eq!(to_project_unit(12.0, "个/L", "fcoli"), Ok((12.0, None)));
    }

    #[test]
    fn decimal_scaling() {
        assert_eq!(scale10(0.0412, 4), 412.0);
        assert_eq!(scale10(1.7, -3), 0.0017);
        assert_eq!(scale10(-2.5, 2), -250.0);
        assert_eq!(scale10(0.0, 3), 0.0);
        assert!(scale10(1e308, 10).is_infinite());
        assert!(scale10(f64::NAN, 1).is_nan());
        assert_eq!(round_sig(0.04 + 0.0012), 0.0412);
        assert_eq!(round_sig(-1234.5678), -1234.5678);
    }
}

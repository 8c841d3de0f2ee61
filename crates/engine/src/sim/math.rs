//! The few transcendental functions the simulator needs (exp, sine, erf), written with basic
//! IEEE operations only. The platform's libm may differ in the last bit between systems;
//! these do not, so a seed gives byte-identical output everywhere.

/// ln 2 split so that `k * LN2_HI` is exact for the k used here (fdlibm's split).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
/// ln 2 − LN2_HI.
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);

/// e^x, accurate to a few ulp; 0 below −700 (no subnormals are needed here).
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x < -700.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO; // |r| <= 0.35
                                           // Taylor series to r^13, evaluated by Horner's rule: error below 1e-17 on |r| <= 0.35.
    let mut p = 1.0;
    for n in (1..=13).rev() {
        p = 1.0 + p * r / n as f64;
    }
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// sin(2π·x), with `x` in turns (so reducing the argument is exact).
pub fn sin_turns(x: f64) -> f64 {
    let mut r = x - x.round(); // [-0.5, 0.5]
    if r > 0.25 {
        r = 0.5 - r;
    } else if r < -0.25 {
        r = -0.5 - r;
    }
    let t = r * std::f64::consts::TAU; // [-π/2, π/2]
    let t2 = t * t;
    // Taylor series to t^21: error below 1e-15 on [-π/2, π/2].
    let mut p = 1.0;
    let mut n = 21.0;
    while n > 1.0 {
        p = 1.0 - p * t2 / (n * (n - 1.0));
        n -= 2.0;
    }
    t * p
}

/// Natural logarithm for x > 0 (NaN otherwise): Newton's iteration on [`exp`], started from
/// the binary exponent.
pub fn ln(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return f64::NAN;
    }
    let e = ((x.to_bits() >> 52) & 0x7ff) as f64 - 1023.0;
    let mut y = e * std::f64::consts::LN_2;
    for _ in 0..8 {
        let ey = exp(y);
        y += 2.0 * (x - ey) / (x + ey);
    }
    y
}

/// The error function (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * exp(-a * a);
    if x < 0.0 {
        -y
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_std() {
        for i in -1890..=1890 {
            let x = i as f64 * 0.37;
            let (a, b) = (exp(x), x.exp());
            assert!(
                ((a - b) / b).abs() < 1e-14 || (x < -700.0 && a == 0.0),
                "exp({x}) = {a} vs {b}"
            );
            let s = sin_turns(x / 7.0);
            assert!(
                (s - (x / 7.0 * std::f64::consts::TAU).sin()).abs() < 1e-12,
                "sin at {x}"
            );
        }
        for x in [0.1, 1.0, 2.5, 1e6, 3e-5] {
            assert!((ln(x) - x.ln()).abs() < 1e-12, "ln({x})");
        }
        assert!(ln(0.0).is_nan() && ln(-1.0).is_nan());
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(f64::NAN).is_nan());
        assert!((sin_turns(0.25) - 1.0).abs() < 1e-15);
        // erf reference values.
        for (x, e) in [
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265),
            (-1.0, -0.842_700_792_9),
        ] {
            assert!((erf(x) - e).abs() < 2e-7, "erf({x})");
        }
        assert!(erf(0.0).abs() < 1e-8);
    }
}

//! Numbers as the table and the figures print them: a few significant digits, scientific notation
//! only for very small or very large magnitudes.

/// `v` with `digits` significant digits (at least 1): `0.0123`, `1.23e-5`, `4.56e5`.
pub(crate) fn significant(v: f64, digits: usize) -> String {
    let digits = digits.max(1);
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let exponent = v.abs().log10().floor() as i32;
    if (-3..5).contains(&exponent) {
        let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{:.*e}", digits - 1, v)
    }
}

/// `v` with at most `digits` significant digits and no trailing zeros, for axis labels: `0.01`,
/// `9`, `1e-4`.
pub(crate) fn short(v: f64, digits: usize) -> String {
    let text = significant(v, digits);
    let (mantissa, exponent) = match text.find('e') {
        Some(i) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    if !mantissa.contains('.') {
        return text;
    }
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}{exponent}")
}

#[cfg(test)]
mod tests {
    use super::{short, significant};

    #[test]
    fn short_forms() {
        assert_eq!(short(0.01, 2), "0.01");
        assert_eq!(short(9.0, 3), "9");
        assert_eq!(short(1.0e-4, 2), "1e-4");
        assert_eq!(short(1.5, 3), "1.5");
        assert_eq!(short(1234.0, 2), "1234");
        assert_eq!(short(0.0, 2), "0");
    }

    #[test]
    fn known_forms() {
        assert_eq!(significant(0.0, 3), "0");
        assert_eq!(significant(0.012345, 3), "0.0123");
        assert_eq!(significant(1.5, 3), "1.50");
        assert_eq!(significant(1234.0, 3), "1234");
        assert_eq!(significant(-2.5e-5, 2), "-2.5e-5");
        assert_eq!(significant(123456.0, 3), "1.23e5");
        assert_eq!(significant(f64::NAN, 3), "NaN");
    }
}

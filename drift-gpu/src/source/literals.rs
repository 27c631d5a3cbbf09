//! Single-precision literals for kernel expressions spliced into `float` modules.
//!
//! C gives an unsuffixed floating literal (`0.5`, `1e0`) the type `double`, and one `double`
//! operand promotes the whole expression: the built-in inverse multiquadric's
//! `-(1e0) * log1p(d2 / tau)` would call the double `log1p` and convert back, in a module whose
//! every other operation is single precision. Suffixing those literals with `f` keeps it in
//! `float` (the value is then the literal rounded to `float`, which is what the result would be
//! rounded to anyway).

/// Rewrites `expr` so that every unsuffixed decimal floating literal gets an `f` suffix.
///
/// A small tokenizer over C: identifiers (`x1e0`, `log1p`) are copied whole, so digits inside
/// them are never taken for literals; a numeric literal is read as a C preprocessing number
/// (digits, letters, `_`, `.`, and a sign after an exponent letter), and only a decimal one with
/// a `.` or an exponent and no suffix is changed. Integers, hexadecimal literals (including
/// hexadecimal floats) and literals already suffixed (`f`, `F`, `l`, `L`) are left as written.
///
/// ```
/// use drift_gpu::single_precision_literals as f;
/// assert_eq!(f("-(1e0) * log1p(d2 / tau)"), "-(1e0f) * log1p(d2 / tau)");
/// assert_eq!(f("0.5 * log(d2) - log(tau)"), "0.5f * log(d2) - log(tau)");
/// assert_eq!(f("x1e0 + 2 + 0x1p3 + 1.5f"), "x1e0 + 2 + 0x1p3 + 1.5f");
/// ```
pub fn single_precision_literals(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' {
            // An identifier: copied whole, digits and all.
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.extend(&chars[start..i]);
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i = end_of_number(&chars, i);
            let literal: String = chars[start..i].iter().collect();
            let suffix = if is_unsuffixed_decimal_float(&literal) {
                "f"
            } else {
                ""
            };
            out.push_str(&literal);
            out.push_str(suffix);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The end of the preprocessing number starting at `start` (C11 6.4.8): digits, letters, `_`,
/// `.`, and `+`/`-` right after an exponent letter (`e`/`E`, or `p`/`P` in hexadecimal).
fn end_of_number(chars: &[char], start: usize) -> usize {
    let hex = chars.get(start) == Some(&'0') && matches!(chars.get(start + 1), Some('x' | 'X'));
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        let exponent_sign = (c == '+' || c == '-')
            && i > start
            && if hex {
                matches!(chars[i - 1], 'p' | 'P')
            } else {
                matches!(chars[i - 1], 'e' | 'E')
            };
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign) {
            break;
        }
        i += 1;
    }
    i
}

/// Whether a preprocessing number is a decimal floating literal without a suffix.
fn is_unsuffixed_decimal_float(literal: &str) -> bool {
    let lower = literal.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0b") {
        return false;
    }
    let floating = lower.contains('.') || lower.contains('e');
    // Anything but a digit or `.` at the end is a suffix (`f`, `l`) or not a plain literal.
    let plain_end = lower
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    floating && plain_end
}

#[cfg(test)]
mod tests {
    use super::single_precision_literals as f;

    #[test]
    fn floating_literals_get_a_suffix_in_every_form() {
        for (input, want) in [
            ("0.5", "0.5f"),
            ("1e0", "1e0f"),
            ("1E-3", "1E-3f"),
            ("2.5e+10", "2.5e+10f"),
            (".5", ".5f"),
            ("1.", "1.f"),
            ("-(5e-1) * log1p(d2 / tau)", "-(5e-1f) * log1p(d2 / tau)"),
            ("0.5 * log(d2) - log(tau)", "0.5f * log(d2) - log(tau)"),
            ("exp(-d2/tau)*1.0+0.25", "exp(-d2/tau)*1.0f+0.25f"),
        ] {
            assert_eq!(f(input), want, "{input}");
        }
    }

    #[test]
    fn identifiers_integers_hex_and_suffixed_literals_are_left_alone() {
        for same in [
            "x1e0 + d2",
            "log1p(d2)",
            "_1e5",
            "2 * d2 - 10",
            "0x1F + 0x1p3 + 0X1.8P-2",
            "1.5f + 2.0F + 3.0L + 1e0f",
            "-d2 / tau",
            "",
        ] {
            assert_eq!(f(same), same, "{same}");
        }
    }

    #[test]
    fn an_exponent_sign_is_part_of_the_literal_but_other_signs_are_not() {
        // `1e-3` is one literal; in `1-3` and `d2-1.5` the minus is an operator.
        assert_eq!(f("1e-3-1.5"), "1e-3f-1.5f");
        assert_eq!(f("1-3"), "1-3");
        assert_eq!(f("d2-1.5"), "d2-1.5f");
        assert_eq!(f("a.b+1.0"), "a.b+1.0f");
    }

    #[test]
    fn the_double_precision_expression_is_unchanged() {
        use drift_api::Precision;
        let e = "-(1e0) * log1p(d2 / tau)";
        assert_eq!(crate::source::expression_in(Precision::F64, e), e);
        assert_eq!(
            crate::source::expression_in(Precision::F32, e),
            "-(1e0f) * log1p(d2 / tau)"
        );
    }
}

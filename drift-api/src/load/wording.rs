//! The project's wording of ron's errors. ron 0.9 reworded a few of its messages; those that spec
//! files' authors (and tests) know keep the wording of before: `Unexpected end of RON` where the
//! source ends, `Unexpected missing field `x``, and lists of names without `or` before the last.

use super::identifier;

/// Syntax errors that, found where the source ends, mean that it ends too early.
const CUT_OFF: [ron::Error; 12] = [
    ron::Error::Eof,
    ron::Error::ExpectedComma,
    ron::Error::ExpectedArrayEnd,
    ron::Error::ExpectedMapEnd,
    ron::Error::ExpectedMapColon,
    ron::Error::ExpectedStructLikeEnd,
    ron::Error::ExpectedOptionEnd,
    ron::Error::ExpectedStringEnd,
    ron::Error::ExpectedStructLike,
    ron::Error::ExpectedArray,
    ron::Error::ExpectedMap,
    ron::Error::ExpectedIdentifier,
];

/// The text of `code`; `at_end` says whether the parser stopped at the end of the source. An error
/// raised inside an operator's fields arrives as text (typetag passes on only the message), so the
/// text is what gets reworded.
pub(super) fn message(code: &ron::Error, at_end: bool) -> String {
    let text = code.to_string();
    if at_end && CUT_OFF.iter().any(|e| e == code || e.to_string() == text) {
        return ron::Error::Eof.to_string();
    }
    for kind in ["missing", "duplicate"] {
        let named = format!("Unexpected {kind} field named ");
        if let Some(rest) = text.strip_prefix(&named) {
            return format!("Unexpected {kind} field {rest}");
        }
    }
    without_or(&text).unwrap_or(text)
}

/// `..., expected one of A, B, or C instead` as `..., expected one of A, B, C instead`; `None` when
/// `text` has no such list.
fn without_or(text: &str) -> Option<String> {
    const HEAD: &str = ", expected one of ";
    let start = text.find(HEAD)? + HEAD.len();
    let mut rest = &text[start..];
    let mut names = Vec::new();
    loop {
        let (_, after) = identifier(rest)?;
        names.push(&rest[..rest.len() - after.len()]);
        if let Some(last) = after.strip_prefix(", or ") {
            let (_, after) = identifier(last)?;
            names.push(&last[..last.len() - after.len()]);
            return (after == " instead")
                .then(|| format!("{}{} instead", &text[..start], names.join(", ")));
        }
        rest = after.strip_prefix(", ")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_lose_their_or() {
        let e = ron::Error::NoSuchStructField {
            expected: &["kernel", "temperature", "mask_self"],
            found: "temprature".into(),
            outer: None,
        };
        assert_eq!(
            message(&e, false),
            "Unexpected field named `temprature`, expected one of `kernel`, `temperature`, \
             `mask_self` instead"
        );
        let text = ron::Error::Message(e.to_string());
        assert_eq!(message(&text, false), message(&e, false));
        let two = ron::Error::NoSuchStructField {
            expected: &["a", "b"],
            found: "c".into(),
            outer: None,
        };
        assert_eq!(message(&two, false), two.to_string());
    }

    #[test]
    fn missing_fields_and_cut_off_sources() {
        let e = ron::Error::MissingStructField {
            field: "temperature",
            outer: Some("OneSided".into()),
        };
        assert_eq!(
            message(&e, false),
            "Unexpected missing field `temperature` in `OneSided`"
        );
        assert_eq!(
            message(&ron::Error::ExpectedComma, true),
            "Unexpected end of RON"
        );
        assert_eq!(message(&ron::Error::ExpectedComma, false), "Expected comma");
        let text = ron::Error::Message("Expected closing `)`".into());
        assert_eq!(message(&text, true), "Unexpected end of RON");
    }
}

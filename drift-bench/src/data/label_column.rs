//! Which column of a user's `.csv` file holds the class labels: `label=first`, `label=last` or
//! `label=N` (0-based column index) after the file name of a data set, or `label=none` to say that
//! every column is a coordinate.
//!
//! Without `label=` every column is a coordinate too, but a comparison first looks at the file
//! ([`crate::data::user_file::label_like_column`]) and stops before any run when a column looks like
//! class labels (few distinct whole numbers, or a header such as `label` or `class`), asking for
//! `label=first|last|N` or `label=none`: a label read as a coordinate silently adds a dimension.

use anyhow::{bail, Result};
use std::fmt;

/// The label column of a `.csv` data file, if it has one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LabelColumn {
    /// No `label=` given: every column is a coordinate (a comparison refuses a file whose columns
    /// look like labels, see the module docs).
    #[default]
    None,
    /// `label=none`: no labels, said explicitly; every column is a coordinate, whatever it looks
    /// like.
    NoLabels,
    /// The first column (`label=first`).
    First,
    /// The last column (`label=last`).
    Last,
    /// The column of this 0-based index (`label=N`).
    Index(usize),
}

impl LabelColumn {
    /// Parses what follows `label=`: `first`, `last`, a 0-based column index, or `none`.
    ///
    /// ```
    /// use drift_bench::data::LabelColumn;
    /// assert_eq!(LabelColumn::parse("last").unwrap(), LabelColumn::Last);
    /// assert_eq!(LabelColumn::parse("none").unwrap(), LabelColumn::NoLabels);
    /// assert_eq!(LabelColumn::parse("2").unwrap(), LabelColumn::Index(2));
    /// assert!(LabelColumn::parse("x").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<LabelColumn> {
        Ok(match s.trim() {
            "first" => LabelColumn::First,
            "last" => LabelColumn::Last,
            "none" => LabelColumn::NoLabels,
            t => match t.parse() {
                Ok(n) => LabelColumn::Index(n),
                Err(_) => bail!(
                    "label={s}: expected label=first, label=last or label=N with N a 0-based column index (or label=none: no label column)"
                ),
            },
        })
    }

    /// Whether there is a label column.
    pub fn is_some(&self) -> bool {
        !matches!(self, LabelColumn::None | LabelColumn::NoLabels)
    }

    /// The 0-based index of the column in a table of `columns` columns, `None` when there is no
    /// label column or the index is out of range.
    pub fn index(&self, columns: usize) -> Option<usize> {
        match *self {
            LabelColumn::None | LabelColumn::NoLabels => None,
            LabelColumn::First => (columns > 0).then_some(0),
            LabelColumn::Last => columns.checked_sub(1),
            LabelColumn::Index(n) => (n < columns).then_some(n),
        }
    }
}

impl fmt::Display for LabelColumn {
    /// What follows `label=` (`first`, `last`, `N`, `none`); empty for [`LabelColumn::None`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelColumn::None => Ok(()),
            LabelColumn::NoLabels => write!(f, "none"),
            LabelColumn::First => write!(f, "first"),
            LabelColumn::Last => write!(f, "last"),
            LabelColumn::Index(n) => write!(f, "{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_names() {
        assert_eq!(LabelColumn::Last.index(3), Some(2));
        assert_eq!(LabelColumn::First.index(3), Some(0));
        assert_eq!(LabelColumn::Index(3).index(3), None);
        assert_eq!(LabelColumn::None.index(3), None);
        for c in [
            LabelColumn::First,
            LabelColumn::Last,
            LabelColumn::Index(7),
            LabelColumn::NoLabels,
        ] {
            assert_eq!(LabelColumn::parse(&c.to_string()).unwrap(), c);
        }
        assert!(LabelColumn::parse("-1").is_err());
    }
}

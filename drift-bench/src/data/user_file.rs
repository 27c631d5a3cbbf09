//! A user's data file as a data set: a `.npy` array `(N, D)` (or `(N,)`, one coordinate), or a
//! numeric `.csv` table, optionally with a label column whose values (integers or text) become the
//! classes.
//!
//! Everything is checked when the file is loaded, before any run, and every error names the file
//! and the problem (with the line and column in a `.csv` where there is one): a missing file, an
//! extension other than `.npy`/`.csv`, ragged rows, a value that is not a number, a value that is
//! NaN or infinite, fewer than [`MIN_POINTS`] points, a label column out of range or holding a
//! single class.

use super::{Dataset, LabelColumn, Labels};
use crate::csv::{cells, Header};
use crate::point_files::{self, Format};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The fewest points a data file may hold (a held-out split needs some on each side).
pub const MIN_POINTS: usize = 4;

/// How errors name the file: `data set my.csv: ...`.
const ARG: &str = "data set";

/// Loads the data set in `path` (named by the file's stem), with classes from `label` (CSV only).
pub fn load_file(path: &Path, label: LabelColumn) -> Result<Dataset> {
    let format = Format::of(ARG, path)?;
    let file = path.display();
    let (points, dim, labels) = match (label.is_some(), format) {
        (false, _) => {
            let array = point_files::read_array(ARG, path, Header::Detect)?;
            let dim = array.shape().cols();
            let values = array
                .values()
                .try_to_real::<f64>()
                .map_err(|e| anyhow!("{ARG} {file}: {e}"))?;
            (values, dim, None)
        }
        (true, Format::Npy) => {
            bail!("{ARG} {file}: a label column (label={label}) can only be read from a .csv file")
        }
        (true, Format::Csv) => {
            let bytes = std::fs::read(path).map_err(|e| anyhow!("{ARG} {file}: {e}"))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| anyhow!("{ARG} {file}: not UTF-8 text ({})", e.utf8_error()))?;
            let table = labelled_table(&text, label).map_err(|e| match e {
                TableError::At { line, column, what } => {
                    anyhow!("{ARG} {file}:{line}:{column}: {what}")
                }
                TableError::Whole(what) => anyhow!("{ARG} {file}: {what}"),
            })?;
            (table.points, table.dim, Some(table.labels))
        }
    };
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n < MIN_POINTS {
        bail!("{ARG} {file}: {n} points, at least {MIN_POINTS} are needed");
    }
    if let Some(k) = points.iter().position(|v| !v.is_finite()) {
        bail!(
            "{ARG} {file}: point {} (0-based), coordinate {} is {}: the data must be finite",
            k / dim,
            k % dim,
            points[k]
        );
    }
    if let Some(l) = &labels {
        if let [only] = l.names.as_slice() {
            bail!("label column {label} of {file} has a single class `{only}`: nothing to compare");
        }
    }
    let name = path
        .file_stem()
        .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned());
    Ok(Dataset {
        name,
        dim,
        points,
        labels,
        mixture: None,
        image_shape: None,
    })
}

/// Header names that say a column holds class labels (compared in lower case). `y` says so too,
/// unless a column is named `x` (then `x, y` are coordinates).
pub const LABEL_HEADERS: [&str; 9] = [
    "label",
    "labels",
    "class",
    "classes",
    "target",
    "targets",
    "y",
    "category",
    "categories",
];

/// The most distinct values a column of whole numbers may take and still look like class labels.
pub const LABEL_LIKE_MAX_VALUES: usize = 20;

/// A column of a `.csv` file that looks like class labels ([`label_like_column`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelLike {
    /// Its 0-based index.
    pub column: usize,
    /// The number of columns of the file.
    pub columns: usize,
    /// Why it looks like labels, as a phrase (`its header is "class"`).
    pub why: String,
}

impl LabelLike {
    /// The `label=` value that names this column: `first`, `last` or its index.
    pub fn label_column(&self) -> LabelColumn {
        if self.column == 0 {
            LabelColumn::First
        } else if self.column + 1 == self.columns {
            LabelColumn::Last
        } else {
            LabelColumn::Index(self.column)
        }
    }
}

/// The column of the `.csv` file `path` that looks like class labels, if one does: a header cell
/// named like a label ([`LABEL_HEADERS`]), or a first or last column of whole numbers taking between 2
/// and [`LABEL_LIKE_MAX_VALUES`] distinct values, each on two lines or more on average. `None` for a
/// `.npy` file, a file that cannot be read (loading it reports why) and a table with no such column.
///
/// ```
/// use drift_bench::data::user_file::label_like_column;
/// let dir = std::env::temp_dir().join(format!("label-like-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("a.csv");
/// std::fs::write(&path, "0.5,1.25,0\n0.1,2.5,1\n0.7,0.3,0\n1.5,0.2,1\n").unwrap();
/// let like = label_like_column(&path).unwrap();
/// assert_eq!((like.column, like.columns), (2, 3));
/// std::fs::write(&path, "x,y,class\n0.5,1.25,a\n0.1,2.5,b\n").unwrap();
/// assert!(label_like_column(&path).unwrap().why.contains("\"class\""));
/// std::fs::write(&path, "0.5,1.25\n0.1,2.5\n0.7,0.3\n").unwrap();
/// assert_eq!(label_like_column(&path), None);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn label_like_column(path: &Path) -> Option<LabelLike> {
    if Format::of(ARG, path).ok()? != Format::Csv {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<Vec<String>> = None;
    let mut columns: Option<Vec<Vec<f64>>> = None;
    let mut first = true;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let cells = cells(line);
        let parsed: Vec<Option<f64>> = cells.iter().map(|c| c.text.parse().ok()).collect();
        if std::mem::replace(&mut first, false) && parsed.iter().all(Option::is_none) {
            header = Some(
                cells
                    .iter()
                    .map(|c| c.text.trim_matches(['"', '\'']).trim().to_lowercase())
                    .collect(),
            );
            continue;
        }
        let columns = columns.get_or_insert_with(|| vec![Vec::new(); parsed.len()]);
        if parsed.len() != columns.len() {
            // A ragged table: loading it reports where.
            return None;
        }
        for (column, value) in columns.iter_mut().zip(&parsed) {
            // Text in a column (a text label) counts as a value that is not a whole number.
            column.push(value.unwrap_or(f64::NAN));
        }
    }
    if let Some(names) = &header {
        let coordinates_xy = names.iter().any(|n| n == "x");
        let found = names
            .iter()
            .position(|n| LABEL_HEADERS.contains(&n.as_str()) && n != "y")
            .or_else(|| {
                names
                    .iter()
                    .position(|n| n == "y")
                    .filter(|_| !coordinates_xy)
            });
        if let Some(j) = found {
            return Some(LabelLike {
                column: j,
                columns: names.len(),
                why: format!("its header is \"{}\"", names[j]),
            });
        }
    }
    let columns = columns?;
    let count = columns.len();
    if count < 2 {
        return None;
    }
    for j in [count - 1, 0] {
        let values = &columns[j];
        let whole = values
            .iter()
            .all(|v| v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15);
        if !whole {
            continue;
        }
        let mut distinct = values.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if (2..=LABEL_LIKE_MAX_VALUES).contains(&distinct.len())
            && 2 * distinct.len() <= values.len()
        {
            let shown: Vec<String> = distinct.iter().take(6).map(|v| v.to_string()).collect();
            let more = if distinct.len() > 6 { ", ..." } else { "" };
            return Some(LabelLike {
                column: j,
                columns: count,
                why: format!(
                    "it takes {} distinct whole numbers ({}{more}) over {} lines",
                    distinct.len(),
                    shown.join(", "),
                    values.len()
                ),
            });
        }
    }
    None
}

/// The first line of the `.csv` file `path` when it holds no number and is therefore read as a
/// column header, not as data (its text, trimmed). `label` is the file's label column, whose cells
/// do not count. `None` for a `.npy` file, a file that cannot be read, and a first line that is
/// data. A comparison notes the dropped line, so that a first point written as `NA,NA` is not lost
/// unseen.
///
/// ```
/// use drift_bench::data::{user_file::dropped_header, LabelColumn};
/// let dir = std::env::temp_dir().join(format!("dropped-header-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("a.csv");
/// std::fs::write(&path, "# made by hand\nNA,NA\n1,2\n").unwrap();
/// assert_eq!(dropped_header(&path, LabelColumn::None).as_deref(), Some("NA,NA"));
/// std::fs::write(&path, "1,2\n3,4\n").unwrap();
/// assert_eq!(dropped_header(&path, LabelColumn::None), None);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn dropped_header(path: &Path, label: LabelColumn) -> Option<String> {
    use std::io::BufRead as _;
    if Format::of(ARG, path).ok()? != Format::Csv {
        return None;
    }
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    for line in file.lines() {
        let line = line.ok()?;
        let line = line.strip_prefix('\u{feff}').unwrap_or(&line);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let cells = cells(line);
        let index = label.index(cells.len());
        let any_number = cells
            .iter()
            .enumerate()
            .any(|(j, c)| Some(j) != index && c.text.parse::<f64>().is_ok());
        return (!any_number).then(|| trimmed.to_string());
    }
    None
}

/// A table split into coordinates and classes.
struct LabelledTable {
    points: Vec<f64>,
    dim: usize,
    labels: Labels,
}

/// Why a text is not a labelled table.
enum TableError {
    /// At a 1-based line and column.
    At {
        line: usize,
        column: usize,
        what: String,
    },
    /// About the whole file.
    Whole(String),
}

/// Reads a `.csv` table whose column `label` holds class labels, with the rules of
/// [`crate::csv`]: a byte-order mark, blank lines and `#` comments are skipped, the first line is a
/// header when none of its coordinate cells is a number, every line has the same number of fields,
/// and every coordinate is a finite number.
fn labelled_table(text: &str, label: LabelColumn) -> Result<LabelledTable, TableError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut points = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    let mut shape: Option<(usize, usize)> = None; // (fields, label index)
    let mut first = true;
    for (k, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = |column: usize, what: String| TableError::At {
            line: k + 1,
            column,
            what,
        };
        let cells = cells(line);
        let (fields, index) = match shape {
            Some(s) => s,
            None => {
                let Some(index) = label.index(cells.len()) else {
                    return Err(at(
                        1,
                        format!(
                            "label column {label} is out of range: the line has {} columns (0-based indices 0..{})",
                            cells.len(),
                            cells.len() - 1
                        ),
                    ));
                };
                if cells.len() < 2 {
                    return Err(at(
                        1,
                        "the label column is the only column: there are no coordinates".into(),
                    ));
                }
                (cells.len(), index)
            }
        };
        if cells.len() != fields {
            return Err(at(
                1,
                format!("{} fields but the first line has {fields}", cells.len()),
            ));
        }
        let parsed: Vec<Option<f64>> = cells
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if j == index {
                    None
                } else {
                    c.text.parse().ok()
                }
            })
            .collect();
        let is_first = std::mem::replace(&mut first, false);
        if is_first
            && parsed
                .iter()
                .enumerate()
                .all(|(j, v)| j == index || v.is_none())
        {
            // A header; its field count still fixes the table's.
            shape = Some((fields, index));
            continue;
        }
        shape = Some((fields, index));
        for (j, (cell, value)) in cells.iter().zip(&parsed).enumerate() {
            if j == index {
                if cell.text.is_empty() {
                    return Err(at(cell.column, format!("field {}: empty label", j + 1)));
                }
                raw_labels.push(cell.text.to_string());
                continue;
            }
            match value {
                None => {
                    return Err(at(
                        cell.column,
                        format!("field {}: {:?} is not a number", j + 1, cell.text),
                    ))
                }
                Some(v) if !v.is_finite() => {
                    return Err(at(
                        cell.column,
                        format!(
                            "field {}: {v} is not finite: the data must be finite",
                            j + 1
                        ),
                    ))
                }
                Some(v) => points.push(*v),
            }
        }
    }
    let Some((fields, _)) = shape.filter(|_| !raw_labels.is_empty()) else {
        return Err(TableError::Whole("no data lines".into()));
    };
    Ok(LabelledTable {
        points,
        dim: fields - 1,
        labels: classes(&raw_labels),
    })
}

/// Class indices `0..k` for label texts: in numeric order when every label is a number (then
/// `1` and `1.0` are the same class, named `1`), otherwise in the texts' sorted order.
fn classes(raw: &[String]) -> Labels {
    let numbers: Option<Vec<f64>> = raw.iter().map(|t| t.parse::<f64>().ok()).collect();
    match numbers {
        Some(values) => {
            let mut distinct = values.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup_by(|a, b| a.total_cmp(b).is_eq());
            let classes = values
                .iter()
                .map(|v| {
                    distinct
                        .binary_search_by(|d| d.total_cmp(v))
                        .expect("every value is among the distinct values")
                })
                .collect();
            Labels {
                classes,
                names: distinct.iter().map(f64::to_string).collect(),
            }
        }
        None => {
            let index: BTreeMap<&str, usize> = raw
                .iter()
                .map(|t| (t.as_str(), 0))
                .collect::<BTreeMap<_, _>>()
                .into_keys()
                .enumerate()
                .map(|(i, t)| (t, i))
                .collect();
            Labels {
                classes: raw.iter().map(|t| index[t.as_str()]).collect(),
                names: index.keys().map(|t| t.to_string()).collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_numerically_or_as_text() {
        let l = classes(&["10".into(), "9".into(), "9.0".into(), "-1".into()]);
        assert_eq!(l.names, ["-1", "9", "10"]);
        assert_eq!(l.classes, [2, 1, 1, 0]);
        let l = classes(&["cat".into(), "ant".into(), "cat".into(), "7".into()]);
        assert_eq!(l.names, ["7", "ant", "cat"]);
        assert_eq!(l.classes, [2, 1, 2, 0]);
    }

    #[test]
    fn a_labelled_table_with_header_and_comments() {
        let t = labelled_table(
            "\u{feff}# made by hand\nx, y, kind\n\n1, 2, b\n3,4,a\n",
            LabelColumn::Last,
        )
        .ok()
        .unwrap();
        assert_eq!((t.points, t.dim), (vec![1.0, 2.0, 3.0, 4.0], 2));
        assert_eq!(t.labels.classes, [1, 0]);
        let t = labelled_table("0,1,2\n1,3,4\n", LabelColumn::First)
            .ok()
            .unwrap();
        assert_eq!(t.points, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.labels.names, ["0", "1"]);
    }
}

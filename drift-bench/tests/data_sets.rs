//! User files as data sets (`file:PATH`, `file:PATH:label=C`): what they load to, and that every bad
//! file is an error naming the file and the problem. Also the digits and the split through the
//! public API.

use drift_bench::array::{Array, Shape, Values};
use drift_bench::data::{data_scale, split, DataSpec, LabelColumn};
use drift_bench::npy;
use std::path::PathBuf;

/// A file of the given name and contents in a folder of its own under the system's temporary
/// folder (unique per process and test, so parallel tests and runs do not collide).
fn temp_file(test: &str, name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "drift-bench-data-sets-{}-{test}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn spec(path: &std::path::Path, label: &str) -> DataSpec {
    let s = format!("file:{}{label}", path.display());
    DataSpec::parse(&s).unwrap()
}

fn error(path: &std::path::Path, label: &str) -> String {
    format!("{:#}", spec(path, label).load(0, 0).unwrap_err())
}

#[test]
fn a_csv_with_a_text_label_column() {
    let path = temp_file(
        "text-labels",
        "flowers.csv",
        b"petal,sepal,species\n1.0,2.0,setosa\n1.5,2.5,virginica\n0.5,1.0,setosa\n3,4,versicolor\n",
    );
    let d = spec(&path, ":label=last").load(10, 0).unwrap();
    assert_eq!((d.name.as_str(), d.dim, d.len()), ("flowers", 2, 4));
    assert_eq!(d.points, [1.0, 2.0, 1.5, 2.5, 0.5, 1.0, 3.0, 4.0]);
    let labels = d.labels.as_ref().unwrap();
    assert_eq!(labels.names, ["setosa", "versicolor", "virginica"]);
    assert_eq!(labels.classes, [0, 2, 0, 1]);
    assert!(d.mixture.is_none() && d.image_shape.is_none());
    assert_eq!(d.points_of_class(0), [1.0, 2.0, 0.5, 1.0]);
}

#[test]
fn a_csv_with_integer_labels_in_the_first_or_a_numbered_column() {
    let text = b"10,1,2\n2,3,4\n10,5,6\n2,7,8\n";
    let path = temp_file("int-labels", "ints.csv", text);
    for label in [":label=first", ":label=0"] {
        let d = spec(&path, label).load(0, 0).unwrap();
        assert_eq!(d.points, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let labels = d.labels.unwrap();
        // Numeric labels sort as numbers: 2 before 10.
        assert_eq!(labels.names, ["2", "10"]);
        assert_eq!(labels.classes, [1, 0, 1, 0]);
    }
    // The middle column as the label.
    let d = spec(&path, ":label=1").load(0, 0).unwrap();
    assert_eq!(d.points, [10.0, 2.0, 2.0, 4.0, 10.0, 6.0, 2.0, 8.0]);
    assert_eq!(d.class_count(), Some(4));
    // Without a label column every column is a coordinate.
    let d = spec(&path, "").load(0, 0).unwrap();
    assert_eq!((d.dim, d.len(), d.labels), (3, 4, None));
}

#[test]
fn an_npy_file() {
    let a = Array::new(
        Shape::Matrix(5, 3),
        Values::F32((0..15).map(|v| v as f32 * 0.5).collect()),
    )
    .unwrap();
    let path = temp_file("npy", "cloud.npy", &npy::to_bytes(&a));
    let d = spec(&path, "").load(0, 0).unwrap();
    assert_eq!((d.name.as_str(), d.dim, d.len()), ("cloud", 3, 5));
    assert_eq!(d.points[14], 7.0);
    let e = error(&path, ":label=last");
    assert!(
        e.contains("cloud.npy") && e.contains("only be read from a .csv"),
        "{e}"
    );
}

#[test]
fn bad_files_are_errors_naming_the_file_and_the_problem() {
    let dir = "errors";
    let cases: Vec<(PathBuf, &str, &str)> = vec![
        (
            std::env::temp_dir().join("drift-bench-no-such-dir/absent.csv"),
            "",
            "No such file",
        ),
        (
            temp_file(dir, "points.txt", b"1,2\n"),
            "",
            "unknown extension \".txt\"",
        ),
        (
            temp_file(dir, "ragged.csv", b"1,2\n3,4\n5\n6,7\n"),
            "",
            "ragged.csv:3:1: 1 fields but the first data line has 2",
        ),
        (
            temp_file(dir, "ragged_labelled.csv", b"1,2,a\n3,4,b\n5,c\n6,7,a\n"),
            ":label=last",
            "ragged_labelled.csv:3:1: 2 fields but the first line has 3",
        ),
        (
            temp_file(dir, "word.csv", b"1,2\n3,4\n5,oops\n6,7\n"),
            "",
            "word.csv:3:3: field 2: \"oops\" is not a number",
        ),
        (
            temp_file(dir, "word_labelled.csv", b"1,2,a\n3,4,b\n5,oops,a\n6,7,b\n"),
            ":label=last",
            "word_labelled.csv:3:3: field 2: \"oops\" is not a number",
        ),
        (
            temp_file(dir, "range.csv", b"1,2,0\n3,4,1\n5,6,0\n7,8,1\n"),
            ":label=3",
            "range.csv:1:1: label column 3 is out of range: the line has 3 columns",
        ),
        (
            temp_file(dir, "single.csv", b"1,2,x\n3,4,x\n5,6,x\n7,8,x\n"),
            ":label=last",
            "has a single class `x`: nothing to compare",
        ),
        (
            temp_file(dir, "few.csv", b"1,2\n3,4\n5,6\n"),
            "",
            "few.csv: 3 points, at least 4 are needed",
        ),
        (
            temp_file(dir, "few_labelled.csv", b"1,2,a\n3,4,b\n5,6,a\n"),
            ":label=last",
            "few_labelled.csv: 3 points, at least 4 are needed",
        ),
        (
            temp_file(dir, "nan.csv", b"1,2\n3,4\n5,NaN\n6,7\n"),
            "",
            "nan.csv: point 2 (0-based), coordinate 1 is NaN: the data must be finite",
        ),
        (
            temp_file(dir, "inf_labelled.csv", b"1,2,a\n3,4,b\ninf,5,a\n6,7,b\n"),
            ":label=last",
            "inf_labelled.csv:3:1: field 1: inf is not finite",
        ),
        (
            temp_file(dir, "empty.csv", b"# nothing\n\n"),
            "",
            "empty.csv: no data lines",
        ),
        (
            temp_file(dir, "empty_labelled.csv", b"x,y,label\n"),
            ":label=last",
            "empty_labelled.csv: no data lines",
        ),
        (
            temp_file(dir, "only_label.csv", b"a\nb\nc\nd\n"),
            ":label=first",
            "only_label.csv:1:1: the label column is the only column",
        ),
        (
            temp_file(dir, "bad.npy", b"not numpy"),
            "",
            "bad.npy: not a .npy file",
        ),
    ];
    for (path, label, want) in cases {
        let e = error(&path, label);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            e.contains(&file),
            "{file}: the error does not name the file: {e}"
        );
        assert!(e.contains(want), "{file}: expected {want:?} in {e:?}");
    }
    // The exact wording of the one-class error.
    let path = temp_file(dir, "one_class.csv", b"1,2,7\n3,4,7\n5,6,7\n7,8,7\n");
    assert_eq!(
        error(&path, ":label=last"),
        format!(
            "label column last of {} has a single class `7`: nothing to compare",
            path.display()
        )
    );
}

#[test]
fn a_label_column_is_written_back_by_its_name() {
    let s = DataSpec::File {
        path: "my data.csv".into(),
        label_column: LabelColumn::Index(2),
        standardise: false,
    };
    assert_eq!(s.name(), "file:my data.csv:label=2");
    assert_eq!(DataSpec::parse(&s.name()).unwrap(), s);
}

#[test]
fn digits_split_and_scale() {
    let d = DataSpec::Digits.load(0, 0).unwrap();
    assert_eq!((d.len(), d.dim, d.class_count()), (1797, 64, Some(10)));
    let s = split(&d, 0.2, 3).unwrap();
    assert_eq!(s.train.len() + s.test.len(), 1797);
    let (train, test) = (
        s.train.class_counts().unwrap(),
        s.test.class_counts().unwrap(),
    );
    for (c, total) in d.class_counts().unwrap().iter().enumerate() {
        assert_eq!(train[c] + test[c], *total);
        // round(0.2 * n_c) held out per class.
        assert_eq!(test[c], (*total as f64 * 0.2).round() as usize, "class {c}");
    }
    assert_eq!(split(&d, 0.2, 3).unwrap(), s);
    // All 1797 points are used exactly (no sampling), so the seed does not matter.
    let scale = data_scale(&d.points, d.dim, 1);
    assert_eq!(scale, data_scale(&d.points, d.dim, 2));
    // NumPy over all 1797 * 1796 / 2 pairs: 48.35154297478177.
    assert!((scale - 48.351_542_974_781_77).abs() < 1e-9, "{scale}");
    assert_eq!(d.scale(0).unwrap(), scale);
}

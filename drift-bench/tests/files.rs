//! `.npy` and `.csv` readers and writers: bit-exact round trips, and errors (never panics) for
//! truncated, foreign and malformed files.

use drift_bench::array::{Array, Shape, Values};
use drift_bench::point_files::{read_array, write_array};
use drift_bench::{csv, npy};
use std::path::PathBuf;

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("files-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Values that stress a round trip: signed zeros, subnormals, extremes, and many digits.
fn awkward_f64(n: usize) -> Vec<f64> {
    let special = [
        0.0,
        -0.0,
        0.1,
        -1.0 / 3.0,
        std::f64::consts::PI,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        f64::MIN,
        1e-7,
        123_456_789.123_456_79,
        1e16,
        -2.5e-5,
    ];
    (0..n)
        .map(|k| {
            special
                .get(k)
                .copied()
                .unwrap_or_else(|| ((k * 7919) as f64).sin() * 10f64.powi((k % 11) as i32 - 5))
        })
        .collect()
}

fn awkward_f32(n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = awkward_f64(n).iter().map(|x| *x as f32).collect();
    v[5] = f32::MIN_POSITIVE;
    v[6] = 1e-45; // the smallest subnormal
    v[7] = f32::MAX;
    v[8] = f32::MIN;
    v
}

fn bits(v: &Values) -> Vec<u64> {
    match v {
        Values::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        Values::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
    }
}

fn arrays() -> Vec<Array> {
    vec![
        Array::new(Shape::Matrix(5, 3), Values::F64(awkward_f64(15))).unwrap(),
        Array::new(Shape::Matrix(5, 3), Values::F32(awkward_f32(15))).unwrap(),
        Array::new(Shape::Vector(13), Values::F64(awkward_f64(13))).unwrap(),
        Array::new(Shape::Vector(13), Values::F32(awkward_f32(13))).unwrap(),
        Array::new(Shape::Matrix(1, 1), Values::F32(vec![2.5])).unwrap(),
        Array::new(Shape::Matrix(40, 7), Values::F64(awkward_f64(280))).unwrap(),
    ]
}

#[test]
fn npy_round_trip_is_bit_exact_for_both_precisions_and_shapes() {
    for a in arrays() {
        let back = npy::from_bytes(&npy::to_bytes(&a)).unwrap();
        assert_eq!(back.shape(), a.shape());
        assert_eq!(bits(back.values()), bits(a.values()));
    }
    // NaN and infinities are values like any other for the format (PointCloud rejects them later).
    let odd = Array::new(
        Shape::Vector(3),
        Values::F64(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    )
    .unwrap();
    let back = npy::from_bytes(&npy::to_bytes(&odd)).unwrap();
    assert_eq!(bits(back.values()), bits(odd.values()));
}

#[test]
fn npy_files_round_trip_through_the_point_loader() {
    let dir = scratch("npy");
    for (k, a) in arrays().into_iter().enumerate() {
        let path = dir.join(format!("a{k}.npy"));
        write_array("--out", &path, &a).unwrap();
        let back = read_array("--x", &path, csv::Header::Detect).unwrap();
        assert_eq!(back.shape(), a.shape());
        assert_eq!(bits(back.values()), bits(a.values()));
    }
}

#[test]
fn truncated_npy_files_are_errors() {
    for a in arrays() {
        let bytes = npy::to_bytes(&a);
        for cut in 0..bytes.len() {
            let err = npy::from_bytes(&bytes[..cut]).unwrap_err().to_string();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
    }
}

#[test]
fn foreign_and_garbage_bytes_are_errors() {
    assert_eq!(npy::from_bytes(b"x,y\n1,2\n"), Err(npy::NpyError::BadMagic));
    assert_eq!(npy::from_bytes(b"PK\x03\x04"), Err(npy::NpyError::BadMagic));
    // A deterministic stream of bytes after a valid magic: any error, never a panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in 0..400 {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(state as u8);
        }
        assert!(npy::from_bytes(&bytes).is_err(), "{len}");
    }
    // Every single-byte corruption of a valid file either fails or yields an array: never panics.
    let good = npy::to_bytes(&arrays()[1]);
    for at in 0..good.len() {
        for b in [0u8, b' ', b'(', b')', b',', b'\'', b'9', 0xff] {
            let mut bad = good.clone();
            bad[at] = b;
            let _ = npy::from_bytes(&bad);
        }
    }
}

#[test]
fn loader_errors_name_the_argument_and_the_file() {
    let dir = scratch("errors");
    let ints = dir.join("ints.npy");
    let mut bytes =
        npy::to_bytes(&Array::new(Shape::Vector(2), Values::F64(vec![1.0, 2.0])).unwrap());
    let at = bytes.windows(3).position(|w| w == b"<f8").unwrap();
    bytes[at..at + 3].copy_from_slice(b"<i8");
    std::fs::write(&ints, bytes).unwrap();
    let err = read_array("--x", &ints, csv::Header::Detect)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "--x {}: expected dtype <f4 or <f8, found <i8",
            ints.display()
        )
    );
    let txt = dir.join("points.txt");
    std::fs::write(&txt, "1,2\n").unwrap();
    let err = read_array("--y", &txt, csv::Header::Detect)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("--y {}: unknown extension", txt.display())),
        "{err}"
    );
    let missing = dir.join("missing.npy");
    let err = read_array("--x-weights", &missing, csv::Header::Detect)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("--x-weights {}:", missing.display())),
        "{err}"
    );
}

#[test]
fn csv_round_trip_is_bit_exact() {
    let dir = scratch("csv");
    for a in arrays() {
        let text = csv::to_string(&a);
        let back = csv::parse(&text).unwrap();
        assert_eq!(back.shape().rows(), a.shape().rows());
        assert_eq!(back.shape().cols(), a.shape().cols());
        match (a.values(), back.values()) {
            (Values::F64(v), Values::F64(w)) => {
                assert_eq!(bits(&Values::F64(v.clone())), bits(&Values::F64(w.clone())))
            }
            // f32 values are printed in their shortest f32 form; read as f64 and rounded back to
            // f32 they are the same floats.
            (Values::F32(v), Values::F64(w)) => {
                let w: Vec<f32> = w.iter().map(|x| *x as f32).collect();
                assert_eq!(
                    bits(&Values::F32(v.clone())),
                    bits(&Values::F32(w)),
                    "{text}"
                );
            }
            _ => unreachable!("csv reads f64"),
        }
        let path = dir.join("a.csv");
        write_array("--out", &path, &a).unwrap();
        assert_eq!(read_array("--x", &path, csv::Header::Detect).unwrap(), back);
    }
}

#[test]
fn csv_skips_headers_comments_and_blank_lines() {
    let text = "# written by numpy.savetxt\nx, y\n\n1, 2\r\n 3 ,4e0\n\n";
    let a = csv::parse(text).unwrap();
    assert_eq!(a.shape(), Shape::Matrix(2, 2));
    assert_eq!(a.values(), &Values::F64(vec![1.0, 2.0, 3.0, 4.0]));
}

#[test]
fn malformed_csv_is_an_error_with_its_line() {
    for (text, needle) in [
        ("1,2\n3\n", "2:1: 1 fields but the first data line has 2"),
        ("x,y\n1,2\n3,abc\n", "3:3: field 2: \"abc\" is not a number"),
        ("1,2\n3,\n", "2:3: field 2: \"\""),
        ("x,y\n", "no data lines"),
        ("", "no data lines"),
    ] {
        let err = csv::parse(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn a_csv_first_line_is_a_header_only_if_no_cell_is_a_number_or_if_declared() {
    use csv::{parse_with, Header};
    for (text, header, rows) in [
        ("a,b\n1,2\n", Header::Detect, 1),
        ("a,1\n1,2\n", Header::Declared, 1),
        ("0,1\n1,2\n", Header::Declared, 1),
        ("# comment\n0,1\n1,2\n", Header::Detect, 2),
        ("\u{feff}0,1\n1,2\n", Header::Detect, 2),
        ("\u{feff}a,b\n1,2\n", Header::Detect, 1),
    ] {
        let a = parse_with(text, header).unwrap();
        assert_eq!(a.shape(), Shape::Matrix(rows, 2), "{text:?}");
    }
    for (text, needle) in [
        ("NA,1\n1,2\n", "1:1: field 1: \"NA\""),
        ("1, NA\n1,2\n", "1:4: field 2: \"NA\""),
        ("\u{feff}1,x\n1,2\n", "1:3: field 2: \"x\""),
        ("1,2\n\u{feff}1,2\n", "2:1: field 1: \"\\u{feff}1\""),
        ("\u{e9}t\u{e9},2\n1,2\n", "1:1: field 1"),
        ("1, \u{e9}\n", "1:4: field 2"),
    ] {
        let err = csv::parse(text).unwrap_err().to_string();
        assert!(err.starts_with(needle), "{text:?}: {err}");
    }
    // The file and its argument come first: `--y data.csv:LINE:COLUMN: ...`.
    let dir = scratch("csv-located");
    let path = dir.join("y.csv");
    std::fs::write(&path, "1,2\n3,oops\n").unwrap();
    let err = read_array("--y", &path, csv::Header::Detect)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "--y {}:2:3: field 2: \"oops\" is not a number",
            path.display()
        )
    );
}

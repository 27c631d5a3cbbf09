//! `npy::read_rows` (a range of the leading axis read alone) against a whole read cut in the
//! test, on random arrays of both precisions and every rank, for every range; and its errors.

use drift_bench::array::{Array, Shape, Values};
use drift_bench::npy::{self, RowsError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("npy-rows-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn random(shape: Shape, f32: bool, rng: &mut StdRng) -> Array {
    let n = shape.count().unwrap();
    let v: Vec<f64> = (0..n).map(|_| rng.gen_range(-1e3..1e3)).collect();
    let values = if f32 {
        Values::F32(v.iter().map(|x| *x as f32).collect())
    } else {
        Values::F64(v)
    };
    Array::new(shape, values).unwrap()
}

fn leading(shape: Shape) -> usize {
    match shape {
        Shape::Vector(n) | Shape::Matrix(n, _) | Shape::Batch(n, ..) => n,
    }
}

/// The reference: rows `a..b` cut from the whole array's values, written out here.
fn cut(whole: &Array, a: usize, b: usize) -> Array {
    let rows = leading(whole.shape());
    let per = whole.values().len().checked_div(rows).unwrap_or(0);
    let shape = match whole.shape() {
        Shape::Vector(_) => Shape::Vector(b - a),
        Shape::Matrix(_, d) => Shape::Matrix(b - a, d),
        Shape::Batch(_, n, d) => Shape::Batch(b - a, n, d),
    };
    let values = match whole.values() {
        Values::F32(v) => Values::F32(v[a * per..b * per].to_vec()),
        Values::F64(v) => Values::F64(v[a * per..b * per].to_vec()),
    };
    Array::new(shape, values).unwrap()
}

fn write(path: &Path, a: &Array) {
    std::fs::write(path, npy::to_bytes(a)).unwrap();
}

#[test]
fn every_range_of_random_arrays_equals_the_whole_read_cut() {
    let dir = scratch("random");
    let mut rng = StdRng::seed_from_u64(11);
    let shapes = [
        Shape::Vector(7),
        Shape::Vector(0),
        Shape::Matrix(5, 3),
        Shape::Matrix(1, 9),
        Shape::Matrix(4, 0),
        Shape::Batch(6, 3, 2),
        Shape::Batch(3, 1, 5),
        Shape::Batch(0, 4, 2),
    ];
    let mut checked = 0;
    for (k, shape) in shapes.into_iter().enumerate() {
        for f32 in [false, true] {
            let whole = random(shape, f32, &mut rng);
            let path = dir.join(format!("a{k}-{f32}.npy"));
            write(&path, &whole);
            assert_eq!(npy::shape_of(&path).unwrap(), shape);
            let rows = leading(shape);
            for a in 0..=rows {
                for b in a..=rows {
                    let got = npy::read_rows(&path, a..b).unwrap();
                    assert_eq!(got, cut(&whole, a, b), "{shape} rows {a}..{b}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn ranges_past_the_leading_axis_are_errors() {
    let dir = scratch("range");
    let path = dir.join("a.npy");
    write(
        &path,
        &random(Shape::Batch(4, 2, 3), false, &mut StdRng::seed_from_u64(1)),
    );
    for (a, b) in [(0, 5), (4, 5), (5, 5), (3, 2)] {
        #[allow(clippy::reversed_empty_ranges)]
        let e = npy::read_rows(&path, a..b).unwrap_err();
        assert!(matches!(e, RowsError::OutOfRange { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("rows {a}..{b} of the leading axis are asked for, but the array is (4, 2, 3)")
        );
    }
}

#[test]
fn a_file_whose_size_disagrees_with_its_header_is_an_error() {
    let dir = scratch("size");
    let a = random(Shape::Matrix(4, 3), true, &mut StdRng::seed_from_u64(2));
    let bytes = npy::to_bytes(&a);
    let short = dir.join("short.npy");
    std::fs::write(&short, &bytes[..bytes.len() - 1]).unwrap();
    // Even the rows present are refused: a truncated file is not trusted in part.
    let e = npy::read_rows(&short, 0..1).unwrap_err().to_string();
    assert_eq!(e, "truncated .npy file: the data needs 48 bytes, found 47");
    let long = dir.join("long.npy");
    let mut padded = bytes.clone();
    padded.push(0);
    std::fs::write(&long, &padded).unwrap();
    let e = npy::read_rows(&long, 0..1).unwrap_err().to_string();
    assert!(e.starts_with("corrupt .npy file"), "{e}");
    let missing = npy::read_rows(&dir.join("missing.npy"), 0..1).unwrap_err();
    assert!(matches!(missing, RowsError::Io(_)), "{missing:?}");
    let foreign = dir.join("foreign.npy");
    std::fs::write(&foreign, b"not numpy at all").unwrap();
    let e = npy::read_rows(&foreign, 0..0).unwrap_err().to_string();
    assert!(e.starts_with("not a .npy file"), "{e}");
}

/// A `.npy` file in Fortran order holding `column_major` values of `shape`.
fn fortran_file(shape: &str, column_major: &[f64]) -> Vec<u8> {
    let dict = format!("{{'descr': '<f8', 'fortran_order': True, 'shape': {shape}, }}");
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    column_major
        .iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    out
}

#[test]
fn fortran_ordered_matrices_are_read_whole_and_cut() {
    let dir = scratch("fortran");
    // Rows (1, 2), (3, 4), (5, 6), stored column by column.
    let path = dir.join("f.npy");
    std::fs::write(&path, fortran_file("(3, 2)", &[1., 3., 5., 2., 4., 6.])).unwrap();
    let rows = npy::read_rows(&path, 1..3).unwrap();
    let expected = Array::new(Shape::Matrix(2, 2), Values::F64(vec![3., 4., 5., 6.])).unwrap();
    assert_eq!(rows, expected);
    let batch = dir.join("f3.npy");
    std::fs::write(&batch, fortran_file("(2, 1, 1)", &[1., 2.])).unwrap();
    let e = npy::read_rows(&batch, 0..1).unwrap_err().to_string();
    assert!(e.contains("Fortran order is not supported"), "{e}");
}

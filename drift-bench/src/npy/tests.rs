//! The reader's and writer's unit tests.
use super::*;

fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn header_variants() {
    let one = 1.5f64.to_le_bytes();
    for descr in ["<f8", "|f8", "=f8", "f8"] {
        let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}\n");
        let a = from_bytes(&file(&h, &one)).unwrap();
        assert_eq!(a.values(), &Values::F64(vec![1.5]));
    }
    let h = "{\"descr\":\"<f8\",\"shape\":(1L,1L),\"fortran_order\":False}";
    assert_eq!(
        from_bytes(&file(h, &one)).unwrap().shape(),
        Shape::Matrix(1, 1)
    );
}

#[test]
fn fortran_order_is_transposed() {
    // The matrix [[1, 2, 3], [4, 5, 6]] in column-major order.
    let data: Vec<u8> = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let h = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n";
    let a = from_bytes(&file(h, &data)).unwrap();
    assert_eq!(a.values(), &Values::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
}

#[test]
fn bad_headers_are_errors() {
    let eight = [0u8; 8];
    let cases = [
        (
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
            "found <i8",
        ),
        (
            "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }",
            "big-endian",
        ),
        (
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
            "structured",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1), }",
            "(1, 1, 1, 1)",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            "()",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1), }",
            "found an integer",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False}",
            "'shape' is missing",
        ),
        (
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }",
            "True or False",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
            "unexpected key",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
            "too large",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
            "too large",
        ),
        ("{'descr': '<f8'", "end of the header"),
        ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "nested"),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x",
            "after the dict",
        ),
    ];
    for (h, needle) in cases {
        let e = from_bytes(&file(h, &eight)).unwrap_err().to_string();
        assert!(e.contains(needle), "{h}: {e}");
    }
}

#[test]
fn short_and_foreign_inputs_are_errors() {
    let good = to_bytes(&Array::new(Shape::Vector(2), Values::F32(vec![1.0, 2.0])).unwrap());
    for cut in 0..good.len() {
        assert!(from_bytes(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        from_bytes(&long),
        Err(NpyError::TrailingBytes { .. })
    ));
    assert_eq!(
        from_bytes(b"PK\x03\x04 a zip file"),
        Err(NpyError::BadMagic)
    );
    let mut v9 = good;
    v9[6] = 9;
    assert_eq!(from_bytes(&v9), Err(NpyError::UnsupportedVersion(9, 0)));
}

#[test]
fn data_is_64_byte_aligned() {
    for n in 0..200 {
        let a = Array::new(Shape::Vector(n), Values::F64(vec![0.0; n])).unwrap();
        let bytes = to_bytes(&a);
        assert_eq!((bytes.len() - 8 * n) % 64, 0);
        assert_eq!(from_bytes(&bytes).unwrap(), a);
    }
}

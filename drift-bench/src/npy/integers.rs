//! `.npy` arrays of integers (`int32`, `int64`, `uint32`, `uint64`, little-endian): the offsets of
//! a ragged batch. Values come back as `i128`, which holds every value of the four dtypes, so
//! that the caller judges signs and ranges itself and can name the offending value.

use super::{header_of, Dtype, NpyError};
use crate::array::Shape;

/// The integer dtypes a reader takes.
#[derive(Clone, Copy, Debug)]
enum IntWidth {
    I4,
    I8,
    U4,
    U8,
}

impl Dtype for IntWidth {
    fn of(kind: &str) -> Option<Self> {
        match kind {
            "i4" => Some(IntWidth::I4),
            "i8" => Some(IntWidth::I8),
            "u4" => Some(IntWidth::U4),
            "u8" => Some(IntWidth::U8),
            _ => None,
        }
    }
    fn unsupported(descr: String) -> NpyError {
        NpyError::NotIntegers(descr)
    }
    fn bytes(self) -> usize {
        match self {
            IntWidth::I4 | IntWidth::U4 => 4,
            IntWidth::I8 | IntWidth::U8 => 8,
        }
    }
}

/// Parses a `.npy` file of integers: its shape and its values in C order.
///
/// ```
/// use drift_bench::array::Shape;
/// use drift_bench::npy;
/// // What `np.save(f, np.array([0, 3, 7], dtype=...))` writes.
/// let file = |descr: &str| {
///     let mut bytes = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
///     let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (3,), }}");
///     bytes.extend(format!("{dict:<117}\n").bytes());
///     [0i32, 3, 7].iter().for_each(|v| bytes.extend(v.to_le_bytes()));
///     bytes
/// };
/// assert_eq!(npy::integers_from_bytes(&file("<i4")).unwrap(), (Shape::Vector(3), vec![0, 3, 7]));
/// let e = npy::integers_from_bytes(&file("<f4")).unwrap_err();
/// assert_eq!(e.to_string(), "expected an integer dtype <i4, <i8, <u4 or <u8, found <f4");
/// ```
pub fn integers_from_bytes(bytes: &[u8]) -> Result<(Shape, Vec<i128>), NpyError> {
    let (header, data_start) = header_of::<IntWidth>(bytes)?;
    let expected = header.data_len()?;
    let data = super::exact_data(&bytes[data_start..], expected)?;
    if header.fortran_order && !matches!(header.shape, Shape::Vector(_)) {
        return Err(NpyError::BadHeader(
            "an integer array of more than one dimension in Fortran order is not supported".into(),
        ));
    }
    let width = header.precision;
    let values = data
        .chunks_exact(width.bytes())
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            match width {
                IntWidth::I4 => i128::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                IntWidth::U4 => i128::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                IntWidth::I8 => i128::from(i64::from_le_bytes(b)),
                IntWidth::U8 => i128::from(u64::from_le_bytes(b)),
            }
        })
        .collect();
    Ok((header.shape, values))
}

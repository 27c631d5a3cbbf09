//! Promoting an array's values to another precision asks for the copy's memory first: a copy that
//! cannot be had is a typed error naming its size, not an abort of the process.

use drift_bench::array::{reserve_values, OutOfMemory, Values};

#[test]
fn a_copy_that_cannot_be_had_is_a_typed_error() {
    // 2^42 f64 values are 35 TB: no allocator hands that out.
    let e = reserve_values::<f64>(1 << 42).unwrap_err();
    assert_eq!(
        e,
        OutOfMemory {
            values: 1 << 42,
            value_bytes: 8
        }
    );
    let text = e.to_string();
    assert!(text.contains("cannot allocate 35184.372 GB"), "{text}");
    assert!(text.contains("4398046511104 values of 8 bytes"), "{text}");
    // A size that overflows the address space is the same error, not a capacity-overflow panic.
    assert_eq!(
        reserve_values::<f64>(usize::MAX).unwrap_err().values,
        usize::MAX
    );
    assert_eq!(
        reserve_values::<f32>(usize::MAX / 2)
            .unwrap_err()
            .value_bytes,
        4
    );
}

#[test]
fn a_promotion_that_fits_gives_the_values_of_the_infallible_one() {
    let f32s = Values::F32(vec![0.1, -2.5, 3.0e-38, f32::MAX]);
    let want: Vec<f64> = [0.1f32, -2.5, 3.0e-38, f32::MAX]
        .iter()
        .map(|v| f64::from(*v))
        .collect();
    assert_eq!(f32s.try_to_real::<f64>().unwrap(), want);
    assert_eq!(f32s.try_to_real::<f64>().unwrap(), f32s.to_real::<f64>());
    let f64s = Values::F64(vec![0.1, 1e300, -0.0]);
    let narrowed = f64s.try_to_real::<f32>().unwrap();
    assert_eq!(narrowed, vec![0.1f64 as f32, f32::INFINITY, -0.0]);
    assert_eq!(narrowed, f64s.to_real::<f32>());
    assert!(Values::F64(Vec::new())
        .try_to_real::<f32>()
        .unwrap()
        .is_empty());
}

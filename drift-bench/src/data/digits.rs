//! The handwritten digits, embedded in the binary: "Optical Recognition of Handwritten Digits"
//! (E. Alpaydin, C. Kaynak, 1998; UCI Machine Learning Repository; CC BY 4.0) as scikit-learn ships
//! it. 1797 images of 8 × 8 pixels with values 0..16, ten classes. See `data/README.md` of this
//! crate for the attribution.

use super::{Dataset, Labels};
use crate::csv;
use anyhow::{anyhow, Result};
use flate2::read::GzDecoder;
use std::io::Read;

/// The gzip-compressed CSV: per line the 64 pixels (row-major) then the label.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Number of images.
pub const DIGITS_ROWS: usize = 1797;
/// Image side in pixels.
pub const DIGITS_SIDE: usize = 8;

/// The 1797 digits: 64-dimensional points (pixel values 0..16, row-major 8 × 8 images), labels
/// `"0"`..`"9"`, image shape `(8, 8)`. Decoded from the embedded copy; no file is read.
pub fn digits() -> Result<Dataset> {
    // The embedded bytes are fixed at build time, so an error here is a broken build, reported
    // rather than panicking.
    let broken = |why: String| anyhow!("the embedded digits data is corrupt: {why}");
    let mut text = String::new();
    GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| broken(e.to_string()))?;
    let table = csv::parse(&text).map_err(|e| broken(e.to_string()))?;
    let dim = DIGITS_SIDE * DIGITS_SIDE;
    let cols = table.shape().cols();
    if cols != dim + 1 {
        return Err(broken(format!("{cols} columns, expected {}", dim + 1)));
    }
    let values = table.values().to_real::<f64>();
    let mut points = Vec::with_capacity(table.shape().rows() * dim);
    let mut classes = Vec::with_capacity(table.shape().rows());
    for (i, row) in values.chunks(cols).enumerate() {
        points.extend_from_slice(&row[..dim]);
        let label = row[dim];
        if !(label.fract() == 0.0 && (0.0..10.0).contains(&label)) {
            return Err(broken(format!("row {} has the label {label}", i + 1)));
        }
        classes.push(label as usize);
    }
    Ok(Dataset {
        name: "digits".into(),
        dim,
        points,
        labels: Some(Labels {
            classes,
            names: (0..10).map(|c| c.to_string()).collect(),
        }),
        mixture: None,
        image_shape: Some((DIGITS_SIDE, DIGITS_SIDE)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_digits_match_scikit_learn() {
        let d = digits().unwrap();
        assert_eq!(
            (d.len(), d.dim, d.image_shape),
            (DIGITS_ROWS, 64, Some((8, 8)))
        );
        assert_eq!(d.class_count(), Some(10));
        let counts = d.class_counts().unwrap();
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert_eq!(counts.iter().sum::<usize>(), 1797);
        assert!(d
            .points
            .iter()
            .all(|&v| v.fract() == 0.0 && (0.0..=16.0).contains(&v)));
        assert_eq!(d.labels.as_ref().unwrap().names[7], "7");
        // The first image of scikit-learn's digits is a zero whose first row is 0 0 5 13 9 1 0 0.
        assert_eq!(d.row(0)[..8], [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
        assert_eq!(d.labels.unwrap().classes[0], 0);
    }
}

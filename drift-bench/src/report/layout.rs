//! The decisions behind the figures' layout, apart from the drawing so that they can be tested:
//! which ticks an axis gets, how far lines that coincide are moved apart, how a title is wrapped
//! and how large a panel's caption may be.

/// Ticks for a logarithmic axis over `[lo, hi]` (positive, `lo < hi`): round values only, the
/// 1-2-5 steps of each decade where that gives at most `max` ticks, else 1 and 3 of each decade,
/// else every decade, else every k-th decade. Empty for a range that is not positive and finite.
///
/// ```
/// use drift_bench::report::layout::log_ticks;
/// assert_eq!(log_ticks(0.003, 0.6, 10), vec![0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
/// assert_eq!(log_ticks(1e-6, 1.0, 10), vec![1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
/// ```
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) || max == 0 {
        return Vec::new();
    }
    let (d_lo, d_hi) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for mantissas in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0], &[1.0]] {
        let ticks: Vec<f64> = (d_lo..=d_hi)
            .flat_map(|d| mantissas.iter().map(move |m| round_power(*m, d)))
            .filter(|t| *t >= lo * (1.0 - 1e-12) && *t <= hi * (1.0 + 1e-12))
            .collect();
        if ticks.len() <= max && ticks.len() >= 2.min(max) {
            return ticks;
        }
    }
    // More decades than ticks: every k-th decade.
    let decades = (d_hi - d_lo).max(1) as usize;
    let k = decades.div_ceil(max.saturating_sub(1).max(1)).max(1) as i32;
    (d_lo..=d_hi)
        .filter(|d| d.rem_euclid(k) == 0)
        .map(|d| round_power(1.0, d))
        .filter(|t| *t >= lo * (1.0 - 1e-12) && *t <= hi * (1.0 + 1e-12))
        .collect()
}

/// `m · 10^d` as the nearest f64 to the decimal (`0.3`, not `0.30000000000000004`).
fn round_power(m: f64, d: i32) -> f64 {
    format!("{m}e{d}").parse().unwrap_or(m * 10f64.powi(d))
}

/// Ticks for a count over `[lo, hi]`: whole numbers only, every one when they are at most `max`,
/// else every k-th (multiples of k). Empty when the range is not finite.
///
/// ```
/// use drift_bench::report::layout::integer_ticks;
/// assert_eq!(integer_ticks(-0.5, 2.5, 10), vec![0.0, 1.0, 2.0]);
/// assert_eq!(integer_ticks(0.0, 100.0, 6), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
/// ```
pub fn integer_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && hi >= lo) || max == 0 {
        return Vec::new();
    }
    let (first, last) = (lo.ceil(), hi.floor());
    if last < first {
        return Vec::new();
    }
    let count = last - first + 1.0;
    // Steps of 1, 2, 5, 10, 20, 50, ...
    let mut step = 1.0;
    let mut k = 0;
    while count / step > max as f64 {
        step = [1.0, 2.0, 5.0][(k + 1) % 3] * 10f64.powi((k as i32 + 1) / 3);
        k += 1;
    }
    let start = (first / step).ceil() * step;
    let n = ((last - start) / step).floor() as usize + 1;
    (0..n).map(|i| start + step * i as f64).collect()
}

/// For each line (its points `(t, y)`, one line per operator in legend order), the earlier line it
/// coincides with everywhere both have a point (within `tol` in `y`, at least one point shared), so
/// that the legend can say so; `None` for a line seen on its own.
///
/// ```
/// use drift_bench::report::layout::coinciding;
/// let a = vec![(0.1, 1.0), (1.0, 2.0)];
/// let c = vec![(0.1, 1.5), (1.0, 2.0)];
/// assert_eq!(coinciding(&[a.clone(), a, c], 1e-9), vec![None, Some(0), None]);
/// ```
pub fn coinciding(lines: &[Vec<(f64, f64)>], tol: f64) -> Vec<Option<usize>> {
    let same = |a: &[(f64, f64)], b: &[(f64, f64)]| {
        let mut shared = 0;
        for &(t, y) in a {
            if let Some(&(_, z)) = b.iter().find(|(u, _)| *u == t) {
                if (y - z).abs() > tol {
                    return false;
                }
                shared += 1;
            }
        }
        shared > 0
    };
    (0..lines.len())
        .map(|i| (0..i).find(|&j| same(&lines[i], &lines[j])))
        .collect()
}

/// Whether any two lines share a point (within `tol` in `y` at the same `t`): a point of one then
/// hides the other's, and the lines are drawn apart ([`dodge`]).
pub fn any_overlap(lines: &[Vec<(f64, f64)>], tol: f64) -> bool {
    lines.iter().enumerate().any(|(i, a)| {
        lines[..i].iter().any(|b| {
            a.iter()
                .any(|&(t, y)| b.iter().any(|&(u, z)| u == t && (y - z).abs() <= tol))
        })
    })
}

/// The factor each of `n` lines' temperatures is multiplied by so that points that coincide sit
/// side by side on a logarithmic axis: symmetric about 1, `step_decades` apart (in decades), all 1
/// when `overlap` is false.
///
/// ```
/// use drift_bench::report::layout::dodge;
/// let f = dodge(3, true, 0.01);
/// assert!((f[0] * f[2] - 1.0).abs() < 1e-12 && f[1] == 1.0 && f[0] < 1.0);
/// assert_eq!(dodge(3, false, 0.01), vec![1.0; 3]);
/// ```
pub fn dodge(n: usize, overlap: bool, step_decades: f64) -> Vec<f64> {
    if !overlap || n < 2 {
        return vec![1.0; n];
    }
    let centre = (n as f64 - 1.0) / 2.0;
    (0..n)
        .map(|k| 10f64.powf((k as f64 - centre) * step_decades))
        .collect()
}

/// `text` broken at spaces into lines of at most `max_chars` characters (a word longer than that
/// stands alone on its line): a figure's title then never runs past a narrow figure's edge.
///
/// ```
/// use drift_bench::report::layout::wrap;
/// assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
/// ```
pub fn wrap(text: &str, max_chars: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > max_chars {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The average width of a character of the figures' font (DejaVu Sans) as plotters draws it, as a
/// fraction of its size (measured on the titles, about 0.45).
pub const CHAR_WIDTH: f64 = 0.47;

/// How many characters of a `size`-pixel font fit in `width` pixels.
pub fn chars_that_fit(width: u32, size: u32) -> usize {
    (width as f64 / (CHAR_WIDTH * size.max(1) as f64)).floor() as usize
}

/// A caption and its font size for a panel `width` pixels wide: the largest size from `max_size`
/// down to `min_size` at which `text` fits, and at `min_size` the text cut with `…` to fit.
///
/// ```
/// use drift_bench::report::layout::{chars_that_fit, fit_caption};
/// assert_eq!(fit_caption("short", 230, 12, 8), ("short".to_string(), 12));
/// let (text, size) = fit_caption(&"x".repeat(200), 230, 12, 8);
/// assert_eq!(size, 8);
/// assert!(text.ends_with('…') && text.chars().count() == chars_that_fit(230, 8));
/// ```
pub fn fit_caption(text: &str, width: u32, max_size: u32, min_size: u32) -> (String, u32) {
    let len = text.chars().count();
    for size in (min_size..=max_size.max(min_size)).rev() {
        if len <= chars_that_fit(width, size) {
            return (text.to_string(), size);
        }
    }
    let fit = chars_that_fit(width, min_size).max(1);
    let cut: String = text.chars().take(fit - 1).collect();
    (format!("{cut}…"), min_size)
}

/// What the report says in place of a samples figure: only 2-D data and images are drawn, so data
/// of another dimension get a line saying there is none and why; `None` where there is a figure.
///
/// ```
/// use drift_bench::report::layout::samples_note;
/// assert!(samples_note(2, false).is_none() && samples_note(64, true).is_none());
/// assert!(samples_note(5, false).unwrap().contains("dimension 5"));
/// ```
pub fn samples_note(dim: usize, images: bool) -> Option<String> {
    (dim != 2 && !images).then(|| {
        format!(
            "No figure of the samples: the data have dimension {dim}, and only 2-D data and images \
             are drawn (a projection would hide what the metrics measure); the metrics below \
             compare the samples with the held-out data in all {dim} dimensions."
        )
    })
}

//! The decisions behind the report's figures: round and whole-number ticks, lines that coincide
//! found and drawn apart, titles wrapped and captions fitted to their width, the note in place of a
//! samples figure. Checked on the functions that decide, not on pixels.

use drift_bench::report::layout::{
    any_overlap, chars_that_fit, coinciding, dodge, fit_caption, integer_ticks, log_ticks,
    samples_note, wrap,
};

/// Whether `v` is `m · 10^k` with `m` in `mantissas`, as printed.
fn is_round(v: f64, mantissas: &[u32]) -> bool {
    let text = format!("{v:e}");
    let mantissa: f64 = text.split('e').next().unwrap().parse().unwrap();
    mantissas.iter().any(|&m| mantissa == m as f64)
}

#[test]
fn log_ticks_are_round_inside_the_range_and_few() {
    for (lo, hi) in [
        (0.003, 0.6),
        (1e-4, 3.0),
        (2.3e-7, 4.1e5),
        (1e-300, 1e300),
        (0.9, 31.0),
    ] {
        let ticks = log_ticks(lo, hi, 10);
        assert!(
            ticks.len() >= 2 && ticks.len() <= 10,
            "{lo}..{hi}: {ticks:?}"
        );
        assert!(ticks.windows(2).all(|w| w[0] < w[1]));
        for t in &ticks {
            assert!(*t >= lo && *t <= hi, "{t} outside {lo}..{hi}");
            assert!(is_round(*t, &[1, 2, 3, 5]), "{t} is not round");
        }
    }
    // The 1-2-5 steps where they fit, decades where they do not.
    assert_eq!(
        log_ticks(0.01, 1.0, 10),
        vec![0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    );
    assert!(log_ticks(1e-9, 1.0, 10).iter().all(|t| is_round(*t, &[1])));
    assert!(log_ticks(0.0, 1.0, 10).is_empty());
    assert!(log_ticks(1.0, f64::INFINITY, 10).is_empty());
}

#[test]
fn counts_get_whole_ticks_only() {
    assert_eq!(
        integer_ticks(-0.48, 8.48, 10),
        (0..=8).map(f64::from).collect::<Vec<_>>()
    );
    // A range of less than two: still whole numbers, never 0.5.
    assert_eq!(integer_ticks(-0.06, 1.06, 10), vec![0.0, 1.0]);
    let many = integer_ticks(0.0, 1000.0, 10);
    assert!(many.len() <= 10 && many.len() >= 4);
    assert!(many.iter().all(|t| t.fract() == 0.0));
    assert!(integer_ticks(0.2, 0.8, 10).is_empty());
    assert!(integer_ticks(f64::NAN, 1.0, 10).is_empty());
}

#[test]
fn lines_that_coincide_are_named_and_drawn_apart() {
    let a = vec![(0.005, 0.0), (0.1, 0.0), (1.0, 0.0)];
    let b = vec![(0.005, 0.0), (0.1, 0.0), (1.0, 0.0)];
    let c = vec![(0.005, 3.0), (0.1, 0.0), (1.0, 1.0)];
    let d = vec![(0.005, 5.0)];
    let lines = [a, b, c, d];
    assert_eq!(coinciding(&lines, 1e-3), vec![None, Some(0), None, None]);
    // c and d share no point; c shares one with a (T 0.1): they overlap there, though they do
    // not coincide.
    assert!(!any_overlap(&lines[2..=3], 1e-3));
    assert!(any_overlap(&[lines[0].clone(), lines[2].clone()], 1e-3));
    // Within the tolerance counts as the same.
    let near = vec![(0.005, 1e-4), (0.1, -1e-4), (1.0, 0.0)];
    assert_eq!(
        coinciding(&[lines[0].clone(), near], 1e-3),
        vec![None, Some(0)]
    );

    let f = dodge(4, true, 0.02);
    assert!(f.windows(2).all(|w| w[0] < w[1]));
    let product: f64 = f.iter().product();
    assert!((product - 1.0).abs() < 1e-12, "symmetric about 1");
    assert!((f[1] / f[0] - 10f64.powf(0.02)).abs() < 1e-12);
    assert_eq!(dodge(4, false, 0.02), vec![1.0; 4]);
    assert_eq!(dodge(1, true, 0.02), vec![1.0]);
}

#[test]
fn titles_wrap_and_captions_fit_their_width() {
    let title = "eight_gaussians · flow: final samples (first seed) over held-out data (grey)";
    let lines = wrap(title, 30);
    assert!(lines.len() >= 3);
    assert!(lines.iter().all(|l| l.chars().count() <= 30));
    assert_eq!(lines.join(" "), title);
    assert_eq!(wrap("", 10), vec![""]);
    assert_eq!(
        wrap("unbreakable_long_word x", 5),
        vec!["unbreakable_long_word", "x"]
    );

    let (caption, size) = fit_caption("sinkhorn_drift · T=0.5 · 7 outside", 220, 12, 8);
    assert_eq!(caption, "sinkhorn_drift · T=0.5 · 7 outside");
    assert!(size <= 12 && 34 <= chars_that_fit(220, size));
    let long = "sinkhorn_divergence_encoder_with_a_long_name · T=0.005 · 123 outside";
    let (caption, size) = fit_caption(long, 220, 12, 8);
    assert_eq!(size, 8);
    assert!(caption.chars().count() <= chars_that_fit(220, 8));
    assert!(caption.ends_with('…'));
}

#[test]
fn data_of_more_than_two_dimensions_say_why_there_is_no_samples_figure() {
    assert_eq!(samples_note(2, false), None);
    assert_eq!(samples_note(64, true), None);
    for dim in [1, 3, 13] {
        let note = samples_note(dim, false).expect("a note");
        assert!(note.contains(&format!("dimension {dim}")), "{note}");
    }
}

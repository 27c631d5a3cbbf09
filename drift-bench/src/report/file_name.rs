//! File names built from data set, mode and metric names.

/// `name` lower-cased with every character outside `[a-z0-9_-]` replaced by `_` (an empty name
/// becomes `_`), so that a file name made of it is valid everywhere and needs no quoting in Markdown.
///
/// ```
/// use drift_bench::report::sanitize;
/// assert_eq!(sanitize("Eight Gaussians (2-D)"), "eight_gaussians__2-d_");
/// assert_eq!(sanitize("digits"), "digits");
/// assert_eq!(sanitize(""), "_");
/// ```
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "_".to_string()
    } else {
        s
    }
}

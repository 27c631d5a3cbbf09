//! The explicit registry of named kernels, couplings and operators, for listings and documentation.
//!
//! `typetag` makes a type deserialisable by name but cannot list what is registered; every built-in
//! and plugin type therefore also submits a [`Registration`] with [`register!`](crate::register).
//! Like typetag's, registrations only exist for crates that are linked into the binary.

/// What a registered name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A [`crate::Kernel`].
    Kernel,
    /// A [`crate::Coupling`].
    Coupling,
    /// A [`crate::Weighting`] (the row weights of a cross-minus-self operator).
    Weighting,
    /// A [`crate::DriftOperator`] (operators and compositions).
    Operator,
}

impl Kind {
    /// Every kind, in the order listings show them. Code that treats each kind in turn iterates
    /// this rather than naming kinds, so that a new kind is listed (and recognised in RON errors)
    /// everywhere once it is added here.
    pub const ALL: [Kind; 4] = [
        Kind::Kernel,
        Kind::Coupling,
        Kind::Weighting,
        Kind::Operator,
    ];

    /// Lower-case name of the kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Kernel => "kernel",
            Kind::Coupling => "coupling",
            Kind::Weighting => "weighting",
            Kind::Operator => "operator",
        }
    }
}

/// One registered name.
#[derive(Debug)]
pub struct Registration {
    /// Kernel, coupling, weighting or operator.
    pub kind: Kind,
    /// The typetag name (snake_case; plugins prefix theirs, `acme.student_t`).
    pub name: &'static str,
    /// One line saying what it is.
    pub summary: &'static str,
    /// Its parameters, `name: type = default`, comma separated (empty for none).
    pub params: &'static str,
    /// A complete, valid RON value of it (used by documentation and round-trip tests).
    pub example: &'static str,
}

inventory::collect!(Registration);

/// Every registration linked into this binary, sorted by kind then name.
///
/// ```
/// // drift-api itself registers nothing; drift-ops registers the built-ins.
/// assert!(drift_api::registry::entries().iter().all(|r| !r.name.is_empty()));
/// ```
pub fn entries() -> Vec<&'static Registration> {
    let mut all: Vec<&'static Registration> = inventory::iter::<Registration>.into_iter().collect();
    all.sort_by_key(|r| (r.kind, r.name));
    all
}

/// The registered names of one kind.
pub fn names(kind: Kind) -> Vec<&'static str> {
    entries()
        .into_iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.name)
        .collect()
}

/// Registers a name for listings (the type must also carry `#[typetag::serde(name = "...")]`).
///
/// ```
/// use drift_api::registry::{self, Kind};
/// use drift_api::Kernel;
/// use serde::{Deserialize, Serialize};
///
/// /// Student-t kernel with `nu` degrees of freedom.
/// #[derive(Debug, Serialize, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct StudentT {
///     nu: f64,
/// }
///
/// #[typetag::serde(name = "acme.student_t")]
/// impl Kernel for StudentT {
///     fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64) {
///         let (scale, power) = (1.0 / (self.nu * tau), 0.5 * (self.nu + 1.0));
///         sq_dist.iter_mut().for_each(|v| *v = -power * (*v * scale).ln_1p());
///     }
/// }
///
/// drift_api::register!(Kernel, "acme.student_t",
///     summary: "Student-t kernel",
///     params: "nu: f64 = 3",
///     example: r#"{"acme.student_t": (nu: 3.0)}"#);
///
/// // Listed under its kind, and its example is a value of the type it names.
/// assert!(registry::names(Kind::Kernel).contains(&"acme.student_t"));
/// let example = registry::entries().into_iter().find(|r| r.name == "acme.student_t").unwrap();
/// let kernel: Box<dyn Kernel> = ron::from_str(example.example).unwrap();
/// let mut d2 = [0.0];
/// kernel.log_weight_f64(&mut d2, 1.0);
/// assert_eq!(d2[0], 0.0);
/// ```
#[macro_export]
macro_rules! register {
    ($kind:ident, $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal) => {
        $crate::inventory::submit! {
            $crate::registry::Registration {
                kind: $crate::registry::Kind::$kind,
                name: $name,
                summary: $summary,
                params: $params,
                example: $example,
            }
        }
    };
}

/// The largest operator file [`load_operator`](crate::load_operator) reads: 64 MiB. A longer file (or an endless one,
/// such as `/dev/zero`) is refused after reading at most this much plus one byte.
pub const MAX_OPERATOR_FILE_BYTES: u64 = 64 << 20;

//! One way to add a piece, for built-ins and plugins alike: a macro that names it once.
//!
//! [`operator!`](crate::operator!), [`kernel!`](crate::kernel!), [`coupling!`](crate::coupling!)
//! and [`weighting!`](crate::weighting!) each take the type, its RON name, the registry's summary,
//! the parameters' description and an example's arguments, and generate everything the name is
//! needed for: the `typetag` implementation that makes the type loadable from RON, the registry
//! entry (whose example is the arguments under the name) and a `NAME` constant for the type's own
//! error messages and reports. The crate invoking them depends on `typetag`, `serde` and
//! `drift-api`.

/// Makes a type a drift operator named `$name` in RON: implements [`crate::DriftOperator`] by
/// calling the type's own `fn check(&self) -> Result<()>` (validation) and
/// `fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport>` (the evaluation, once
/// per precision), registers it, and gives the type `const NAME: &str`.
///
/// With `batched,` after the name it also forwards [`crate::DriftOperator::drift_batch`] to the
/// type's `fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport>`; without
/// it, a batch runs problem by problem ([`crate::batch::problem_by_problem`]).
///
/// ```
/// use drift_api::{check_temperature, DriftProblem, DriftReport, PointCloud, Real, Result};
/// use serde::{Deserialize, Serialize};
///
/// /// Pulls every particle toward the data's mean, at a rate.
/// #[derive(Debug, Serialize, Deserialize)]
/// struct ToMean {
///     rate: f64,
/// }
///
/// impl ToMean {
///     fn check(&self) -> Result<()> {
///         check_temperature(&format!("{}.rate", Self::NAME), self.rate)
///     }
///     fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
///         let d = p.x.dim();
///         let m = p.y.len() as f64;
///         let mean: Vec<f64> = (0..d)
///             .map(|k| p.y.data().chunks(d).map(|y| y[k].as_f64()).sum::<f64>() / m)
///             .collect();
///         for (v, x) in p.out.chunks_mut(d).zip(p.x.data().chunks(d)) {
///             for k in 0..d {
///                 v[k] += T::of(self.rate * (mean[k] - x[k].as_f64())) * p.scale;
///             }
///         }
///         Ok(DriftReport::of(Self::NAME, vec![], 0.0))
///     }
/// }
///
/// drift_api::operator!(ToMean = "acme.to_mean",
///     summary: "Pull toward the data's mean",
///     params: "rate: f64",
///     example: "(rate: 0.5)");
///
/// # #[derive(Debug)] struct NoBackend;
/// # impl drift_api::kit::Backend for NoBackend {
/// #     fn name(&self) -> &str { "none" }
/// #     fn row_reduce(&self, _: drift_api::kit::ReductionJob<'_>) -> Result<()> { unreachable!() }
/// # }
/// let op = drift_api::operator_from_str(r#"{"acme.to_mean": (rate: 1.0)}"#, "doc").unwrap();
/// let x = PointCloud::new("x", vec![0.0f64], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 3.0], 1).unwrap();
/// let mut out = vec![0.0];
/// drift_api::apply_drift(op.as_ref(), drift_api::DriftProblem {
///     backend: &NoBackend, x: &x, y: &y,
///     context: &Default::default(), out: &mut out, scale: 1.0, negatives: None,
/// }).unwrap();
/// assert_eq!(out, vec![2.0]);
/// assert_eq!(ToMean::NAME, "acme.to_mean");
/// ```
#[macro_export]
macro_rules! operator {
    ($ty:ty = $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal $(,)?) => {
        $crate::operator!(@impl $ty, $name, {}, $summary, $params, $example);
    };
    ($ty:ty = $name:literal, batched, summary: $summary:literal, params: $params:literal, example: $example:literal $(,)?) => {
        $crate::operator!(@impl $ty, $name, {
            fn drift_batch(
                &self,
                job: $crate::BatchJob<'_>,
            ) -> $crate::Result<$crate::BatchReport> {
                self.check()?;
                match job {
                    $crate::BatchJob::F32(p) => self.run_batch(p),
                    $crate::BatchJob::F64(p) => self.run_batch(p),
                }
            }
        }, $summary, $params, $example);
    };
    (@impl $ty:ty, $name:literal, { $($extra:tt)* }, $summary:literal, $params:literal, $example:literal) => {
        #[typetag::serde(name = $name)]
        impl $crate::DriftOperator for $ty {
            fn drift(&self, job: $crate::DriftJob<'_>) -> $crate::Result<$crate::DriftReport> {
                self.check()?;
                $crate::by_precision!(job, p => self.run(p))
            }
            fn validate(&self) -> $crate::Result<()> {
                self.check()
            }
            $($extra)*
        }
        $crate::plugin::named!($ty, $name, Operator, $summary, $params, $example);
    };
}

/// Makes a type a kernel named `$name` in RON: the [`crate::Kernel`] methods are given in the
/// `impl { … }` block; registers it and gives the type `const NAME: &str`.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// /// The Cauchy kernel `1/(1 + ‖x − y‖²/τ)`.
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Cauchy {}
///
/// drift_api::kernel!(Cauchy = "acme.cauchy",
///     summary: "Cauchy kernel",
///     params: "",
///     example: "()",
///     impl {
///         fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64) {
///             sq_dist.iter_mut().for_each(|v| *v = -(*v / tau).ln_1p());
///         }
///     });
///
/// let k: Box<dyn drift_api::Kernel> = ron::from_str(r#"{"acme.cauchy": ()}"#).unwrap();
/// let mut d2 = [1.0f64];
/// k.log_weight_f64(&mut d2, 1.0);
/// assert!((d2[0] + 2f64.ln()).abs() < 1e-15);
/// ```
#[macro_export]
macro_rules! kernel {
    ($ty:ty = $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal, impl { $($body:tt)* } $(,)?) => {
        #[typetag::serde(name = $name)]
        impl $crate::Kernel for $ty {
            $($body)*
        }
        $crate::plugin::named!($ty, $name, Kernel, $summary, $params, $example);
    };
}

/// Makes a type a coupling named `$name` in RON: the [`crate::Coupling`] methods are given in the
/// `impl { … }` block; registers it and gives the type `const NAME: &str`. See
/// [`kernel!`](crate::kernel!) for the form.
#[macro_export]
macro_rules! coupling {
    ($ty:ty = $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal, impl { $($body:tt)* } $(,)?) => {
        #[typetag::serde(name = $name)]
        impl $crate::Coupling for $ty {
            $($body)*
        }
        $crate::plugin::named!($ty, $name, Coupling, $summary, $params, $example);
    };
}

/// Makes a type a row weighting named `$name` in RON: the [`crate::Weighting`] methods are given
/// in the `impl { … }` block; registers it and gives the type `const NAME: &str`. See
/// [`kernel!`](crate::kernel!) for the form.
#[macro_export]
macro_rules! weighting {
    ($ty:ty = $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal, impl { $($body:tt)* } $(,)?) => {
        #[typetag::serde(name = $name)]
        impl $crate::Weighting for $ty {
            $($body)*
        }
        $crate::plugin::named!($ty, $name, Weighting, $summary, $params, $example);
    };
}

/// The parts every piece shares: its registry entry, whose example is `{"name": arguments}`, and
/// its `NAME` constant.
#[doc(hidden)]
#[macro_export]
macro_rules! __named {
    ($ty:ty, $name:literal, $kind:ident, $summary:literal, $params:literal, $example:literal) => {
        impl $ty {
            /// The name this type has in RON files and in reports.
            #[allow(dead_code)]
            pub const NAME: &'static str = $name;
        }
        $crate::inventory::submit! {
            $crate::registry::Registration {
                kind: $crate::registry::Kind::$kind,
                name: $name,
                summary: $summary,
                params: $params,
                example: concat!("{\"", $name, "\": ", $example, "}"),
            }
        }
    };
}

#[doc(hidden)]
pub use crate::__named as named;

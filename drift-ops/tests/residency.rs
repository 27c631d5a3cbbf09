//! Every drift evaluation keeps its point sets resident for its whole length: a device backend
//! copies each set once per evaluation and every reduction, pair preparation and sliced job inside
//! finds it there (`drift_api::resident`). Checked here on the CPU with a backend that records what
//! a device backend would have had to upload, for every registered operator and composition, with
//! and without guidance negatives, in both precisions, including the f64 promotion of an f32
//! problem whose log-weights f32 cannot hold.

use drift_api::kit::pairs::Prepared;
use drift_api::kit::{
    Backend, PairSet, ReductionJob, ResidentBody, ResidentMap, ResidentSets, SlicedJob,
};
use drift_api::registry::{entries, Kind};
use drift_api::{
    operator_from_str, Context, DriftError, DriftOperator, Negatives, PointCloud, Precision, Real,
    Result,
};
use drift_ops::CpuBackend;
use std::sync::Mutex;

/// What a residency scope copied (set name, precision, address) and what a job read that no scope
/// held (job, set name): the uploads a device backend would make.
#[derive(Debug, Default)]
struct Log {
    copies: Vec<(String, Precision, usize)>,
    outside: Vec<(&'static str, String)>,
}

/// The backend the recording one delegates to (a static, so that its preparations may borrow it).
static CPU: CpuBackend = CpuBackend;

/// The CPU backend, recording residency the way the CUDA backend keeps it.
#[derive(Debug, Default)]
struct Recording {
    f32_sets: ResidentMap<()>,
    f64_sets: ResidentMap<()>,
    log: Mutex<Log>,
}

impl Recording {
    fn map<T: Real>(&self) -> &ResidentMap<()> {
        match T::PRECISION {
            Precision::F32 => &self.f32_sets,
            Precision::F64 => &self.f64_sets,
        }
    }

    fn read<T: Real>(&self, job: &'static str, sets: [&PointCloud<T>; 2]) {
        for set in sets {
            if self.map::<T>().get(set).is_none() {
                let mut log = self.log.lock().unwrap();
                log.outside.push((job, set.name().to_string()));
            }
        }
    }

    fn scope<T: Real>(&self, sets: &[&PointCloud<T>], body: &mut ResidentBody<'_>) -> Result<()> {
        let copy = |set: &PointCloud<T>| {
            let mut log = self.log.lock().unwrap();
            let address = set.data().as_ptr() as usize;
            log.copies
                .push((set.name().to_string(), T::PRECISION, address));
            Ok(())
        };
        self.map::<T>().scope(sets, copy, body)
    }

    fn take(&self) -> Log {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Backend for Recording {
    fn name(&self) -> &str {
        "recording"
    }

    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        match &job {
            ReductionJob::F32(r) => self.read("row_reduce", [r.rows, r.cols]),
            ReductionJob::F64(r) => self.read("row_reduce", [r.rows, r.cols]),
        }
        CpuBackend.row_reduce(job)
    }

    fn prepare_pairs_f32<'a>(&'a self, set: PairSet<'a, f32>) -> Result<Option<Prepared<'a, f32>>> {
        self.read("prepare_pairs", [set.rows, set.cols]);
        CPU.prepare_pairs_f32(set)
    }

    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        self.read("prepare_pairs", [set.rows, set.cols]);
        CPU.prepare_pairs_f64(set)
    }

    fn sliced_wasserstein_f32(&self, job: SlicedJob<'_, f32>) -> Option<Result<Vec<f32>>> {
        self.read("sliced_wasserstein", [job.x, job.y]);
        None
    }

    fn sliced_wasserstein_f64(&self, job: SlicedJob<'_, f64>) -> Option<Result<Vec<f64>>> {
        self.read("sliced_wasserstein", [job.x, job.y]);
        None
    }

    fn keep_resident(&self, sets: ResidentSets<'_>, body: &mut ResidentBody<'_>) -> Result<()> {
        match sets {
            ResidentSets::F32(s) => self.scope(s, body),
            ResidentSets::F64(s) => self.scope(s, body),
        }
    }
}

fn cloud<T: Real>(name: &str, n: usize, phase: f64, spread: f64) -> PointCloud<T> {
    let data = (0..n * 2)
        .map(|k| T::of(spread * (k as f64 * 0.7 + phase).sin()))
        .collect();
    PointCloud::new(name, data, 2).unwrap()
}

/// Runs `op` on the recording backend and on the plain CPU backend; checks that the fields agree
/// exactly, that no job read a set outside the evaluation's scope and that no set was copied twice.
/// Returns the log, or `None` when the operator refuses the negatives.
fn check<T: Real>(
    recording: &Recording,
    what: &str,
    op: &dyn DriftOperator,
    spread: f64,
    with_negatives: bool,
) -> Option<Log> {
    let (x, y, u) = (
        cloud::<T>("x", 20, 0.0, spread),
        cloud::<T>("y", 15, 1.0, spread),
        cloud::<T>("u", 4, 2.0, spread),
    );
    let negatives = with_negatives.then(|| Negatives::new(&u, 0.5));
    let context = Context::default();
    let mut on_cpu = vec![T::zero(); 40];
    let plain = drift_api::apply_drift(
        op,
        drift_api::DriftProblem::new(&CpuBackend, &x, &y, &context, &mut on_cpu)
            .with_negatives(negatives),
    );
    let mut recorded = vec![T::zero(); 40];
    let through = drift_api::apply_drift(
        op,
        drift_api::DriftProblem::new(recording, &x, &y, &context, &mut recorded)
            .with_negatives(negatives),
    );
    let log = recording.take();
    match (plain, through) {
        (Err(DriftError::NegativesIgnored { .. }), Err(DriftError::NegativesIgnored { .. })) => {
            return None
        }
        (Ok(_), Ok(_)) => {}
        (a, b) => panic!("{what}: the CPU gave {a:?}, the recording backend {b:?}"),
    }
    assert_eq!(on_cpu, recorded, "{what}: the field changed");
    assert!(
        log.outside.is_empty(),
        "{what} ({:?}): jobs read sets that no residency scope held: {:?}",
        T::PRECISION,
        log.outside
    );
    let mut copied = log.copies.clone();
    copied.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    copied.dedup();
    assert_eq!(
        copied.len(),
        log.copies.len(),
        "{what}: a set was copied twice: {:?}",
        log.copies
    );
    Some(log)
}

#[test]
fn every_operator_keeps_its_sets_resident_for_the_whole_evaluation() {
    let recording = Recording::default();
    let mut checked = 0;
    for r in entries().into_iter().filter(|r| r.kind == Kind::Operator) {
        let op = operator_from_str(r.example, r.name).unwrap();
        for with_negatives in [false, true] {
            if r.name == "guidance" && !with_negatives {
                continue; // guidance needs negatives
            }
            for log in [
                check::<f32>(&recording, r.name, op.as_ref(), 1.0, with_negatives),
                check::<f64>(&recording, r.name, op.as_ref(), 1.0, with_negatives),
            ]
            .into_iter()
            .flatten()
            {
                // At least x and y were kept (and the negatives, where given).
                let names: Vec<&str> = log.copies.iter().map(|c| c.0.as_str()).collect();
                assert!(names.contains(&"x") && names.contains(&"y"), "{}", r.name);
                assert_eq!(names.contains(&"u"), with_negatives, "{}", r.name);
                checked += 1;
            }
        }
        assert!(recording.f32_sets.is_empty() && recording.f64_sets.is_empty());
    }
    assert!(checked >= 40, "only {checked} evaluations checked");
}

#[test]
fn an_f32_problem_promoted_to_f64_keeps_its_widened_copies_resident() {
    let recording = Recording::default();
    // Points far apart at a low temperature: f32 cannot hold the log-weights, the engine widens.
    let op = operator_from_str(r#"{"one_sided": (temperature: 1e-4)}"#, "low.ron").unwrap();
    let log = check::<f32>(&recording, "promoted", op.as_ref(), 40.0, true).unwrap();
    let copied = |p: Precision| log.copies.iter().filter(|c| c.1 == p).count();
    assert_eq!((copied(Precision::F32), copied(Precision::F64)), (3, 3));
}

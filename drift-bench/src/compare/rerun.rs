//! Runs made again from their records: every row of `results.csv`/`results.json` carries its
//! study's settings, the operator with every default and the command ([`RunSettings`]), so that
//! the report folder alone is enough to run any row again.
//!
//! [`sweep_of_records`] turns records back into the sweep that made them (one study per study
//! index, each operator as `label=` its expanded RON), [`study_of_record`] one record into a study
//! of that single run. `report.md` shows the first as RON: saved to a file, `drift-bench compare
//! FILE` runs the whole comparison again.

use crate::backend_kind::BackendKind;
use crate::compare::record::{Mode, RunRecord, RunSettings};
use crate::compare::start::StartSpec;
use crate::compare::sweep::{FlowSettings, Study, Sweep, TrainSettings};
use anyhow::{bail, Context as _, Result};

/// The operator argument that rebuilds a record's operator: `label=` its expanded RON (the label
/// kept when it is a plain one, else the RON's own name labels it).
pub fn operator_argument(record: &RunRecord) -> String {
    let ron = if record.key.settings.operator_expanded.is_empty() {
        &record.key.operator_ron
    } else {
        &record.key.settings.operator_expanded
    };
    let label = &record.key.operator;
    let plain = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.#".contains(c));
    if plain && ron.trim_start().starts_with('{') {
        format!("{label}={}", ron.trim())
    } else {
        ron.trim().to_string()
    }
}

/// The study that runs `record` alone: its operator, data set, temperature, seed and mode with
/// its study's settings. Fails when the record lacks its settings (records written by hand or by
/// an older drift-bench).
pub fn study_of_record(record: &RunRecord) -> Result<Study> {
    let mut study = base_study(record)?;
    study.operators = vec![operator_argument(record)];
    study.temperatures = vec![record.key.temperature];
    study.seeds = vec![record.key.seed];
    study.modes = vec![record.key.mode];
    Ok(study)
}

/// The sweep that made `records`: one study per study index (in index order), with the
/// operators, temperatures, data sets, seeds and modes of its records in the order they first
/// appear, and its settings.
pub fn sweep_of_records(records: &[RunRecord]) -> Result<Sweep> {
    let mut indices: Vec<usize> = records.iter().map(|r| r.key.settings.study).collect();
    indices.sort_unstable();
    indices.dedup();
    let mut studies = Vec::new();
    for index in indices {
        let of_study: Vec<&RunRecord> = records
            .iter()
            .filter(|r| r.key.settings.study == index)
            .collect();
        let mut study = base_study(of_study[0])?;
        study.operators.clear();
        study.temperatures.clear();
        study.datasets.clear();
        study.seeds.clear();
        study.modes.clear();
        for r in &of_study {
            push_new(&mut study.operators, operator_argument(r));
            if !study
                .temperatures
                .iter()
                .any(|t| t.to_bits() == r.key.temperature.to_bits())
            {
                study.temperatures.push(r.key.temperature);
            }
            push_new(&mut study.datasets, r.key.settings.data.clone());
            push_new(&mut study.seeds, r.key.seed);
            push_new(&mut study.modes, r.key.mode);
            let with_mode = base_study(r)?;
            match r.key.mode {
                Mode::Flow => study.flow = with_mode.flow,
                Mode::Train => study.train = with_mode.train,
            }
        }
        studies.push(study);
    }
    if studies.is_empty() {
        bail!("no runs to make a sweep of");
    }
    Ok(Sweep { studies, jobs: 1 })
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// A study with a record's data set and settings (its mode's settings from the record, the
/// other mode's at their defaults).
fn base_study(record: &RunRecord) -> Result<Study> {
    let s: &RunSettings = &record.key.settings;
    if s.study == 0 || s.data.is_empty() {
        bail!(
            "the run of {} on {} carries no study settings: it cannot be run again from its record",
            record.key.operator,
            record.key.dataset
        );
    }
    let mut study = Study::new(vec![operator_argument(record)], vec![s.data.clone()]);
    study.points = s.points;
    study.data_seed = s.data_seed;
    study.test_fraction = s.test_fraction;
    study.f64 = match s.precision.as_str() {
        "f64" => true,
        "f32" => false,
        other => bail!("precision `{other}`: expected f32 or f64"),
    };
    study.backend = match s.backend.as_str() {
        "cuda" => BackendKind::Cuda,
        _ => BackendKind::Cpu,
    };
    let flow = FlowSettings::default();
    study.flow = FlowSettings {
        steps: s.flow_steps.unwrap_or(flow.steps),
        eta: s.eta.unwrap_or(flow.eta),
        particles: s.particles.unwrap_or(flow.particles),
        start: match &s.start {
            Some(start) => start
                .parse::<StartSpec>()
                .with_context(|| format!("the recorded start `{start}`"))?,
            None => flow.start,
        },
    };
    let train = TrainSettings::default();
    study.train = TrainSettings {
        steps: s.train_steps.unwrap_or(train.steps),
        batch: s.batch.unwrap_or(train.batch),
        hidden: s.hidden.unwrap_or(train.hidden),
        layers: s.layers.unwrap_or(train.layers),
        latent: s.latent.unwrap_or(train.latent),
        learning_rate: s.learning_rate.unwrap_or(train.learning_rate),
        features: match &s.features {
            Some(f) => ron::from_str(f).with_context(|| format!("the recorded features `{f}`"))?,
            None => train.features,
        },
    };
    Ok(study)
}

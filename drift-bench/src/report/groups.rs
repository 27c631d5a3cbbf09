//! The runs of a sweep arranged as the report shows them: groups of one data set, one mode and one
//! study, each a grid of operators × temperatures whose cells hold the seeds.
//!
//! Data sets, modes and operators keep the order in which the runs first list them (the order of the
//! command line), studies their index; temperatures are sorted ascending; the runs of a cell are
//! sorted by seed. Runs of two studies are never merged, even on the same data set and mode: their
//! settings (steps, η, points, precision, ...) may differ.

use crate::compare::record::{Mode, RunOutput, RunRecord};

/// Anything that carries a [`RunRecord`]: the records themselves, or finished runs with samples.
pub(crate) trait HasRecord {
    /// The record.
    fn record(&self) -> &RunRecord;
}

impl HasRecord for RunRecord {
    fn record(&self) -> &RunRecord {
        self
    }
}

impl HasRecord for RunOutput {
    fn record(&self) -> &RunRecord {
        &self.record
    }
}

/// The runs of one operator at one temperature (one per seed).
#[derive(Debug)]
pub(crate) struct Cell<'a, R> {
    /// Index of the operator in [`Sweep::operators`].
    pub operator: usize,
    /// The sweep temperature.
    pub temperature: f64,
    /// The runs, by ascending seed.
    pub runs: Vec<&'a R>,
}

/// The runs on one data set in one mode.
#[derive(Debug)]
pub(crate) struct Group<'a, R> {
    /// The data set's name.
    pub dataset: &'a str,
    /// The mode.
    pub mode: Mode,
    /// The study's index ([`crate::compare::RunSettings::study`]).
    pub study: usize,
    /// Whether another group has the same data set and mode (then the report names the study).
    pub shared: bool,
    /// Indices into [`Sweep::operators`] of the operators that ran in this group, in sweep order.
    pub operators: Vec<usize>,
    /// The temperatures that ran in this group, ascending.
    pub temperatures: Vec<f64>,
    /// The non-empty cells, by operator (sweep order) then temperature.
    pub cells: Vec<Cell<'a, R>>,
}

impl<'a, R> Group<'a, R> {
    /// How the report heads the group: `digits · flow`, with `· study 2` when another group has
    /// the same data set and mode.
    pub fn heading(&self) -> String {
        if self.shared {
            format!(
                "{} · {} · study {}",
                self.dataset,
                self.mode.name(),
                self.study
            )
        } else {
            format!("{} · {}", self.dataset, self.mode.name())
        }
    }

    /// The cell of `operator` (an index into [`Sweep::operators`]) at `temperature`, if any run.
    pub fn cell(&self, operator: usize, temperature: f64) -> Option<&Cell<'a, R>> {
        self.cells
            .iter()
            .find(|c| c.operator == operator && c.temperature.to_bits() == temperature.to_bits())
    }
}

/// Every run, grouped.
#[derive(Debug)]
pub(crate) struct Sweep<'a, R> {
    /// Operator labels in the order the runs first list them; an operator's index here picks its
    /// colour in every figure.
    pub operators: Vec<&'a str>,
    /// The groups, by data set then mode, in the order the runs first list them.
    pub groups: Vec<Group<'a, R>>,
}

/// Position of `item` in `list`, appending it if new.
fn index_of<T: PartialEq>(list: &mut Vec<T>, item: T) -> usize {
    match list.iter().position(|x| *x == item) {
        Some(i) => i,
        None => {
            list.push(item);
            list.len() - 1
        }
    }
}

/// Arranges `runs` into groups and cells.
pub(crate) fn arrange<R: HasRecord>(runs: &[R]) -> Sweep<'_, R> {
    let mut operators: Vec<&str> = Vec::new();
    let mut datasets: Vec<&str> = Vec::new();
    let mut modes: Vec<Mode> = Vec::new();
    // (dataset index, mode index, study, operator index, temperature, run)
    let mut keyed = Vec::with_capacity(runs.len());
    for run in runs {
        let key = &run.record().key;
        let o = index_of(&mut operators, key.operator.as_str());
        let d = index_of(&mut datasets, key.dataset.as_str());
        let m = index_of(&mut modes, key.mode);
        keyed.push((d, m, key.settings.study, o, key.temperature, run));
    }
    // A stable sort keeps the runs' own order among equal keys before the seed decides.
    keyed.sort_by(|a, b| {
        (a.0, a.1, a.2, a.3)
            .cmp(&(b.0, b.1, b.2, b.3))
            .then(a.4.total_cmp(&b.4))
            .then(a.5.record().key.seed.cmp(&b.5.record().key.seed))
    });
    let mut groups: Vec<Group<'_, R>> = Vec::new();
    for (d, m, study, o, t, run) in keyed {
        let same_group = groups
            .last()
            .is_some_and(|g| g.dataset == datasets[d] && g.mode == modes[m] && g.study == study);
        if !same_group {
            groups.push(Group {
                dataset: datasets[d],
                mode: modes[m],
                study,
                shared: false,
                operators: Vec::new(),
                temperatures: Vec::new(),
                cells: Vec::new(),
            });
        }
        let group = groups.last_mut().expect("a group was just pushed");
        if !group.operators.contains(&o) {
            group.operators.push(o);
        }
        if !group
            .temperatures
            .iter()
            .any(|x| x.to_bits() == t.to_bits())
        {
            group.temperatures.push(t);
        }
        let same_cell = group
            .cells
            .last()
            .is_some_and(|c| c.operator == o && c.temperature.to_bits() == t.to_bits());
        if same_cell {
            group.cells.last_mut().expect("checked").runs.push(run);
        } else {
            group.cells.push(Cell {
                operator: o,
                temperature: t,
                runs: vec![run],
            });
        }
    }
    for group in &mut groups {
        group.temperatures.sort_by(f64::total_cmp);
    }
    for i in 0..groups.len() {
        groups[i].shared = groups
            .iter()
            .enumerate()
            .any(|(j, g)| j != i && g.dataset == groups[i].dataset && g.mode == groups[i].mode);
    }
    Sweep { operators, groups }
}

//! E2: the label-flipping stream, the paper's distribution-shift setting (its §4.3) at our scale.
//!
//! Batches are drawn at random from the training images. At every task boundary a fraction `p`
//! of the classes is chosen and their labels are permuted at random among themselves (relative
//! to the true labels), so what was learned turns partly wrong at once. Each batch is scored
//! before the model learns from it: the online accuracy.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use kiln_core::data::ImageDataset;
use kiln_core::train::{
    ModuleStep, PhaseError, PhaseStore, Progress, SeededRng, count_correct, cross_entropy,
    derive_seed, seed_everything,
};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, OnlineConfig};
use super::mlp::Mlp;
use super::{OptimizerKind, Prepared, diverged};
use crate::TamStats;

/// One stream, one optimizer, one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRun {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Fraction of classes relabelled per boundary.
    pub flip_fraction: f64,
    /// The seed.
    pub seed: u64,
    /// Mean online accuracy (%) of each task.
    pub task_acc: Vec<f64>,
    /// Online accuracy (%) averaged over windows of `curve_window` steps.
    pub curve: Vec<f64>,
    /// Test accuracy (%) under the current labelling at the end of each task.
    pub task_end_test_acc: Vec<f64>,
    /// `d_t` of the torque optimizers, averaged over the same windows (empty for the others).
    pub damping: Vec<f64>,
    /// For each task boundary, the mean `d_t` over the [`FLIP_WINDOW`] steps before it and the
    /// [`FLIP_WINDOW`] steps after it (torque optimizers only).
    pub flip_damping: Vec<(f64, f64)>,
    /// Whether the loss blew up (the curves stop there).
    pub diverged: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl StreamRun {
    /// Mean online accuracy over the whole stream (%).
    pub fn overall_acc(&self) -> f64 {
        self.task_acc.iter().sum::<f64>() / self.task_acc.len().max(1) as f64
    }
}

/// Steps on each side of a task boundary over which `d_t` is compared: with `γ = 0.9` the
/// smoothed cosine answers a change within about ten steps.
pub const FLIP_WINDOW: usize = 10;

/// E2's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineResult {
    /// The dataset streamed.
    pub dataset: String,
    /// The learning rate of each optimizer (E1's selection on the same dataset).
    pub lrs: BTreeMap<OptimizerKind, f64>,
    /// Every run.
    pub runs: Vec<StreamRun>,
}

impl OnlineResult {
    /// The runs of one optimizer at one flip fraction.
    pub fn runs_of(&self, kind: OptimizerKind, p: f64) -> Vec<&StreamRun> {
        self.runs
            .iter()
            .filter(|r| r.optimizer == kind && r.flip_fraction == p)
            .collect()
    }
}

/// The label map of the next task: `fraction` of the classes, chosen at random, permuted among
/// themselves; the others keep their true label.
pub fn flip_labels(classes: usize, fraction: f64, rng: &mut SeededRng) -> Vec<u16> {
    let mut map: Vec<u16> = (0..classes as u16).collect();
    let chosen_count = ((fraction * classes as f64).round() as usize).min(classes);
    let mut order = rng.permutation(classes);
    order.truncate(chosen_count);
    let mut targets = order.clone();
    rng.shuffle(&mut targets);
    for (&from, &to) in order.iter().zip(&targets) {
        map[from] = to as u16;
    }
    map
}

/// Which stream to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSpec {
    /// The optimizer.
    pub kind: OptimizerKind,
    /// Its learning rate.
    pub lr: f64,
    /// Fraction of classes relabelled per boundary.
    pub flip_fraction: f64,
    /// The seed.
    pub seed: u64,
}

/// Streams one optimizer through the flipping tasks.
pub fn stream(
    data: &Prepared,
    hidden: &[usize],
    e2: &OnlineConfig,
    spec: StreamSpec,
    device: &Device,
) -> StreamRun {
    let started = Instant::now();
    let device = device.clone().autodiff();
    let mut rng = seed_everything(&device, derive_seed(spec.seed, "e2"));
    let classes = data.train.num_classes();
    let widths: Vec<usize> = std::iter::once(data.train.shape().numel())
        .chain(hidden.iter().copied())
        .chain(std::iter::once(classes))
        .collect();
    let mut model = Mlp::new(&widths, &device);
    let mut optim = spec.kind.build();
    let test: ImageDataset = match e2.test_size {
        n if n < data.test.len() => data
            .test
            .seeded_subset(n, derive_seed(0, "tam-e2-test"))
            .unwrap_or_else(|_| data.test.clone()),
        _ => data.test.clone(),
    };
    let mut log = StreamLog::new(spec, e2.curve_window);
    let label = format!(
        "{} p {} seed {}",
        spec.kind.name(),
        spec.flip_fraction,
        spec.seed
    );
    let mut progress = Progress::new(label, (e2.tasks * e2.steps_per_task) as u64);
    let mut labels: Vec<u16> = (0..classes as u16).collect();
    'tasks: for task in 0..e2.tasks {
        if task > 0 {
            labels = flip_labels(classes, spec.flip_fraction, &mut rng);
            log.task_boundary();
        }
        let mut correct = 0usize;
        for _ in 0..e2.steps_per_task {
            let batch: Vec<usize> = (0..e2.batch_size)
                .map(|_| rng.below(data.train.len()))
                .collect();
            let (x, y) = data.batch(&data.train, &batch, Some(&labels), &device);
            let logits = model.forward(x);
            let hits = count_correct(logits.clone().detach(), y.clone());
            let loss = cross_entropy(logits, y);
            if diverged(f64::from(loss.clone().into_scalar::<f32>())) {
                log.run.diverged = true;
                break 'tasks;
            }
            correct += hits;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(spec.lr, model, grads);
            log.step(100.0 * hits as f64 / e2.batch_size as f64, optim.stats());
            progress.inc(1);
        }
        let seen = e2.steps_per_task * e2.batch_size;
        log.run.task_acc.push(100.0 * correct as f64 / seen as f64);
        let valid = model.valid();
        log.run
            .task_end_test_acc
            .push(data.accuracy(&valid, &test, Some(&labels)));
    }
    progress.finish();
    let mut run = log.run;
    run.seconds = started.elapsed().as_secs_f64();
    run
}

/// A stream's curves as they are recorded: online accuracy and `d_t` in windows, and `d_t`
/// around each task boundary.
struct StreamLog {
    run: StreamRun,
    window: usize,
    window_acc: Vec<f64>,
    window_d: Vec<f64>,
    /// `d_t` of every step of the current task.
    task_d: Vec<f64>,
    /// The mean `d_t` of the last [`FLIP_WINDOW`] steps before the latest boundary, until the
    /// same number of steps after it have been seen.
    before_flip: Option<f64>,
}

impl StreamLog {
    fn new(spec: StreamSpec, window: usize) -> Self {
        Self {
            run: StreamRun {
                optimizer: spec.kind,
                flip_fraction: spec.flip_fraction,
                seed: spec.seed,
                task_acc: vec![],
                curve: vec![],
                task_end_test_acc: vec![],
                damping: vec![],
                flip_damping: vec![],
                diverged: false,
                seconds: 0.0,
            },
            window,
            window_acc: Vec::new(),
            window_d: Vec::new(),
            task_d: Vec::new(),
            before_flip: None,
        }
    }

    /// Labels were just flipped: remember `d_t` before the boundary.
    fn task_boundary(&mut self) {
        self.before_flip = last_mean(&self.task_d, FLIP_WINDOW);
        self.task_d.clear();
    }

    /// One step scored `accuracy` (%) before its update; the optimizer reported `stats` after.
    fn step(&mut self, accuracy: f64, stats: Option<TamStats>) {
        self.window_acc.push(accuracy);
        if let Some(stats) = stats {
            self.window_d.push(stats.damping);
            self.task_d.push(stats.damping);
            if self.task_d.len() == FLIP_WINDOW
                && let Some(before) = self.before_flip.take()
            {
                self.run.flip_damping.push((before, mean(&self.task_d)));
            }
        }
        if self.window_acc.len() == self.window {
            self.run.curve.push(mean(&self.window_acc));
            self.window_acc.clear();
            if !self.window_d.is_empty() {
                self.run.damping.push(mean(&self.window_d));
                self.window_d.clear();
            }
        }
    }
}

/// The mean of the last `n` values, if there are that many.
fn last_mean(values: &[f64], n: usize) -> Option<f64> {
    (values.len() >= n).then(|| mean(&values[values.len() - n..]))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// What E2 streams: the run's config, its E2 part, the dataset and the learning rates E1
/// selected on it.
#[derive(Clone, Copy)]
pub struct Study<'a> {
    /// The whole config (seeds, model widths).
    pub config: &'a ExperimentConfig,
    /// E2's settings.
    pub e2: &'a OnlineConfig,
    /// The dataset streamed.
    pub data: &'a Prepared,
    /// E1's learning rate for each optimizer.
    pub lrs: &'a BTreeMap<OptimizerKind, f64>,
}

/// Runs E2 with the learning rates E1 selected; every stream is a phase.
///
/// # Errors
/// If a phase cannot be saved.
pub fn run(
    study: Study<'_>,
    device: &Device,
    seed_offset: u64,
    phases: &mut PhaseStore,
) -> Result<OnlineResult, PhaseError> {
    let Study {
        config,
        e2,
        data,
        lrs,
    } = study;
    let mut runs = Vec::new();
    let mut used = BTreeMap::new();
    for &p in &e2.flip_fractions {
        for &kind in &e2.optimizers {
            let Some(&lr) = lrs.get(&kind) else { continue };
            used.insert(kind, lr);
            for &seed in &config.seeds {
                let seed = seed + seed_offset;
                let phase = format!("e2/{}/p{p}/{}/seed{seed}", data.name, kind.name());
                runs.push(phases.run(&phase, || -> Result<_, PhaseError> {
                    let spec = StreamSpec {
                        kind,
                        lr,
                        flip_fraction: p,
                        seed,
                    };
                    Ok(stream(data, &config.hidden, e2, spec, device))
                })?);
            }
        }
    }
    Ok(OnlineResult {
        dataset: data.name.clone(),
        lrs: used,
        runs,
    })
}

//! Training one method on one task stream, scored by per-task training accuracy, with the
//! soft resets' `γ` recorded at every step.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use kiln_core::nn::Mlp;
use kiln_core::train::{SeededRng, count_correct, derive_seed};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, MethodKind};
use super::methods;
use crate::{ImagePool, StreamConfig, StreamKind, TaskAccuracy, TaskStream};

/// One run: a method on a stream with a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamJob {
    /// Which study (`memorisation`, `data_efficient`, `perfect_reset`, `sweep-p0.2-e5`, …).
    pub study: String,
    /// The dataset's name.
    pub dataset: String,
    /// The stream.
    pub stream: StreamConfig,
    /// The method.
    pub method: MethodKind,
    /// The seed (stream, initialisation and noise).
    pub seed: u64,
}

impl StreamJob {
    /// The phase name.
    pub fn name(&self) -> String {
        format!("{}-{:?}-seed{}", self.study, self.method, self.seed)
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRun {
    /// The job.
    pub job: StreamJob,
    /// Per-task training accuracy (%).
    pub per_task: Vec<f64>,
    /// `γ_t` of each parameter tensor at every step (empty without a drift).
    pub gammas: Vec<Vec<f32>>,
    /// The tensors' names.
    pub groups: Vec<String>,
    /// Steps per task.
    pub steps_per_task: usize,
    /// Wall time (s).
    pub seconds: f64,
}

/// Per-example cross-entropy `[B]` of `model` on `(x, y)`.
pub fn cross_entropy_per_example(model: &Mlp, x: Tensor<2>, y: Tensor<1, Int>) -> Tensor<1> {
    let logp = log_softmax(model.forward(x), 1);
    logp.gather(1, y.unsqueeze_dim(1)).squeeze_dim::<1>(1).neg()
}

/// The stream of `job` over `pool`.
pub fn stream_config(kind: StreamKind, tasks: usize, epochs: usize, batch: usize) -> StreamConfig {
    StreamConfig {
        kind,
        tasks,
        epochs,
        batch_size: batch,
    }
}

/// Trains `model` (initialised for this job) with the job's method over its stream.
pub fn run(config: &ExperimentConfig, pool: &ImagePool, job: StreamJob, model: Mlp) -> StreamRun {
    let start = std::time::Instant::now();
    let device = model.devices().into_iter().next().unwrap_or_default();
    let stream = TaskStream::new(pool, job.stream, derive_seed(job.seed, "stream"));
    let mut learner = methods::build(job.method, &model, &config.methods, job.seed);
    let groups = crate::params::flat_params(&model)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut rng = SeededRng::new(derive_seed(job.seed, "batches"));
    let mut accuracy = TaskAccuracy::default();
    let mut gammas = Vec::new();
    let mut model = model;
    let mut steps_per_task = 0;
    for t in 0..job.stream.tasks {
        let task = stream.task(t);
        let batches = stream.batches(&mut rng);
        steps_per_task = batches.len();
        for (k, indices) in batches.iter().enumerate() {
            let (x, y) = stream.batch(&task, indices, &device);
            let logits = model.valid().forward(x.clone().inner());
            accuracy.record(t, count_correct(logits, y.clone().inner()), indices.len());
            let nll = |m: &Mlp| cross_entropy_per_example(m, x.clone(), y.clone());
            let (next, stats) = learner.step(model, k == 0 && t > 0, &nll);
            model = next;
            if !stats.gammas.is_empty() {
                gammas.push(stats.gammas.iter().map(|&g| g as f32).collect());
            }
        }
        if t % 5 == 4 || t + 1 == job.stream.tasks {
            let acc = accuracy.per_task();
            eprintln!(
                "ou-reset: {} task {}/{}: accuracy {:.1}%",
                job.name(),
                t + 1,
                job.stream.tasks,
                acc[t]
            );
        }
    }
    StreamRun {
        per_task: accuracy.per_task(),
        gammas,
        groups,
        steps_per_task,
        seconds: start.elapsed().as_secs_f64(),
        job,
    }
}

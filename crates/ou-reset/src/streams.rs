//! The non-stationary classification streams of the paper's experiments, and the per-task
//! training accuracy they are scored by.
//!
//! A stream is a fixed pool of images seen task after task, each task for some epochs:
//! - random labels: every task draws a fresh label for every image (memorisation with many
//!   epochs per task, "data efficient" with few);
//! - partially random labels: a fraction of the images get random labels, the rest keep their
//!   true ones (the non-stationarity sweep);
//! - permuted inputs: true labels, the pixels shuffled by a fresh permutation per task.
//!
//! Per-task training accuracy (following Kumar et al.'s L2 Init paper) is the accuracy on the
//! incoming batches, each measured before the update it feeds, averaged over the task.

use burn::prelude::*;
use kiln_core::data::ImageDataset;
use kiln_core::train::{SeededRng, derive_seed};
use serde::{Deserialize, Serialize};

/// How the tasks of a stream differ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StreamKind {
    /// Every label redrawn per task.
    RandomLabels,
    /// This fraction of the labels redrawn per task, the rest true.
    PartialRandomLabels {
        /// In `[0, 1]`.
        fraction: f64,
    },
    /// True labels, inputs permuted per task.
    Permuted,
}

/// A fixed pool of flattened, standardised images.
#[derive(Debug, Clone)]
pub struct ImagePool {
    inputs: Vec<f32>,
    dim: usize,
    labels: Vec<u16>,
    classes: usize,
}

impl ImagePool {
    /// Grey images of `data`, average-pooled over `pool × pool` blocks (28×28 → 14×14 at 2),
    /// then standardised with the pool's own mean and spread.
    pub fn from_images(data: &ImageDataset, pool: usize) -> Self {
        let shape = data.shape();
        let pool = pool.max(1);
        let (h, w) = (shape.height / pool, shape.width / pool);
        let mut inputs = Vec::with_capacity(data.len() * h * w);
        for i in 0..data.len() {
            let image = data.image(i);
            for r in 0..h {
                for c in 0..w {
                    let mut sum = 0.0f32;
                    for dr in 0..pool {
                        for dc in 0..pool {
                            sum += f32::from(image[(r * pool + dr) * shape.width + c * pool + dc]);
                        }
                    }
                    inputs.push(sum / (255.0 * (pool * pool) as f32));
                }
            }
        }
        let n = inputs.len().max(1) as f32;
        let mean = inputs.iter().sum::<f32>() / n;
        let std = (inputs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n)
            .sqrt()
            .max(1e-6);
        inputs.iter_mut().for_each(|x| *x = (*x - mean) / std);
        Self {
            inputs,
            dim: h * w,
            labels: data.labels().to_vec(),
            classes: data.num_classes(),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Input width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }
}

/// One task: the labels of every pool image and, for permuted streams, the pixel order.
#[derive(Debug, Clone)]
pub struct Task {
    /// The task's index in the stream.
    pub index: usize,
    /// The label of each pool image in this task.
    pub labels: Vec<i64>,
    /// Input `j` of this task is input `permutation[j]` of the image.
    pub permutation: Option<Vec<usize>>,
}

/// A stream over a pool: which tasks, how long each lasts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// How the tasks differ.
    pub kind: StreamKind,
    /// Number of tasks.
    pub tasks: usize,
    /// Passes over the pool per task.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
}

impl StreamConfig {
    /// Batches per task.
    pub fn steps_per_task(&self, pool: usize) -> usize {
        self.epochs * pool.div_ceil(self.batch_size.max(1))
    }
}

/// A seeded stream of tasks over a pool.
pub struct TaskStream<'a> {
    /// The images.
    pub pool: &'a ImagePool,
    /// The stream's shape.
    pub config: StreamConfig,
    seed: u64,
}

impl<'a> TaskStream<'a> {
    /// The stream whose tasks are drawn from `seed`.
    pub fn new(pool: &'a ImagePool, config: StreamConfig, seed: u64) -> Self {
        Self { pool, config, seed }
    }

    /// Task `index` (the same for every method given the same seed).
    pub fn task(&self, index: usize) -> Task {
        let mut rng = SeededRng::new(derive_seed(self.seed, &format!("task-{index}")));
        let classes = self.pool.classes.max(1);
        let true_label = |i: usize| i64::from(self.pool.labels[i]);
        let labels = match self.config.kind {
            StreamKind::RandomLabels => (0..self.pool.len())
                .map(|_| rng.below(classes) as i64)
                .collect(),
            StreamKind::PartialRandomLabels { fraction } => (0..self.pool.len())
                .map(|i| {
                    let random = rng.below(classes) as i64;
                    if rng.next_f64() < fraction {
                        random
                    } else {
                        true_label(i)
                    }
                })
                .collect(),
            StreamKind::Permuted => (0..self.pool.len()).map(true_label).collect(),
        };
        let permutation =
            (self.config.kind == StreamKind::Permuted).then(|| rng.permutation(self.pool.dim));
        Task {
            index,
            labels,
            permutation,
        }
    }

    /// The batches of one task, epoch after epoch, each epoch in a fresh order from `rng`.
    pub fn batches(&self, rng: &mut SeededRng) -> Vec<Vec<usize>> {
        (0..self.config.epochs)
            .flat_map(|_| rng.batches(self.pool.len(), self.config.batch_size))
            .collect()
    }

    /// The images `indices` of `task` as `[B, dim]` inputs and `[B]` labels.
    pub fn batch(
        &self,
        task: &Task,
        indices: &[usize],
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        let dim = self.pool.dim;
        let mut x = Vec::with_capacity(indices.len() * dim);
        for &i in indices {
            let row = &self.pool.inputs[i * dim..(i + 1) * dim];
            match &task.permutation {
                Some(p) => x.extend(p.iter().map(|&j| row[j])),
                None => x.extend_from_slice(row),
            }
        }
        let y: Vec<i64> = indices.iter().map(|&i| task.labels[i]).collect();
        let b = indices.len();
        (
            Tensor::from_data(TensorData::new(x, [b, dim]), device),
            Tensor::from_data(TensorData::new(y, [b]), device),
        )
    }
}

/// Per-task training accuracy: correct predictions on incoming batches, before each update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskAccuracy {
    correct: Vec<usize>,
    seen: Vec<usize>,
}

impl TaskAccuracy {
    /// Counts `correct` of `n` predictions in task `task`.
    pub fn record(&mut self, task: usize, correct: usize, n: usize) {
        if self.seen.len() <= task {
            self.seen.resize(task + 1, 0);
            self.correct.resize(task + 1, 0);
        }
        self.correct[task] += correct;
        self.seen[task] += n;
    }

    /// The accuracy (%) of each task so far.
    pub fn per_task(&self) -> Vec<f64> {
        self.correct
            .iter()
            .zip(&self.seen)
            .map(|(&c, &n)| 100.0 * c as f64 / n.max(1) as f64)
            .collect()
    }
}

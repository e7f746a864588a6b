//! One pre-training run and its fine-tuning runs: the training loops, evaluated every
//! `log_every` steps on fixed sets.

use std::ops::Range;
use std::time::Instant;

use burn::prelude::*;
use kiln_core::nn::Decoder;
use kiln_core::train::{LmTrainer, SeededRng, SpanSummary, WarmupCosine, derive_seed};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, FinetuneConfig};
use crate::batch::BioBatch;
use crate::metrics::confidence_stats;
use crate::sampling::{IndividualDist, IndividualSampler};
use crate::world::{Population, TemplateSet, World};

/// What one pre-training run is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// People trained on.
    pub n: usize,
    /// Steps.
    pub steps: usize,
    /// Power-law exponent (0: uniform).
    pub alpha: f64,
    /// Whether the fine-tuning study starts from this run.
    pub finetune: bool,
    /// Seed.
    pub seed: u64,
}

impl Job {
    /// A name for phases and logs, e.g. `N512-a0.4-800steps-seed0`.
    pub fn name(&self) -> String {
        format!(
            "N{}-a{}-{}steps-seed{}",
            self.n, self.alpha, self.steps, self.seed
        )
    }
}

/// The measurements of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogPoint {
    /// Steps taken.
    pub step: usize,
    /// Mean next-token loss of the training batches since the last point (all tokens; none
    /// at step 0).
    pub train_loss: Option<f64>,
    /// Trained people, on their held-out templates.
    pub seen: SpanSummary,
    /// People never trained on.
    pub unseen: SpanSummary,
}

/// One fine-tuning run from a pre-trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneCurve {
    /// Weight of each old person relative to a new one (0: no replay).
    pub replay_weight: f64,
    /// `(step, old people, new people)`, both on held-out templates.
    pub points: Vec<(usize, SpanSummary, SpanSummary)>,
}

/// Everything one job measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The job.
    pub job: Job,
    /// The pre-training curve.
    pub curve: Vec<LogPoint>,
    /// Fine-tuning runs (empty unless the job is the fine-tuning base).
    pub finetune: Vec<FinetuneCurve>,
    /// Wall-clock seconds of the job.
    pub seconds: f64,
}

/// What every job shares.
#[derive(Clone, Copy)]
pub struct Setting<'a> {
    /// The run's configuration.
    pub config: &'a ExperimentConfig,
    /// The world.
    pub world: &'a World,
    /// Everyone: trained people first, then the held-out ones, then the newcomers.
    pub population: &'a Population,
    /// The device.
    pub device: &'a Device,
}

impl Setting<'_> {
    /// The people never trained on.
    fn held_out(&self) -> Range<usize> {
        let start = self.config.max_people();
        start..start + self.config.held_out
    }

    /// The fine-tuning newcomers.
    fn newcomers(&self) -> Range<usize> {
        let start = self.held_out().end;
        start..self.population.len()
    }

    /// A fixed evaluation batch: `eval_size` people drawn uniformly from `people`, each with a
    /// held-out template.
    fn eval_set(&self, people: Range<usize>, seed: u64) -> BioBatch {
        let mut rng = SeededRng::new(seed);
        let who = (0..self.config.train.eval_size)
            .map(|_| people.start + rng.below(people.len()))
            .collect();
        BioBatch::of_people(
            self.world,
            self.population,
            who,
            TemplateSet::Eval,
            &mut rng,
            self.device,
        )
    }

    /// A training batch of people drawn by `sampler` at `step`.
    fn train_batch(
        &self,
        sampler: &IndividualSampler,
        step: usize,
        rng: &mut SeededRng,
    ) -> BioBatch {
        let who = (0..self.config.train.batch_size)
            .map(|_| sampler.draw(step, rng))
            .collect();
        BioBatch::of_people(
            self.world,
            self.population,
            who,
            TemplateSet::Train,
            rng,
            self.device,
        )
    }
}

/// Runs `job` from the initial `model`: pre-training, then the fine-tuning runs if the job is
/// their base. `report` hears `(step, attribute loss on seen people)` at every evaluation.
///
/// # Errors
/// If the job's sampler cannot be built.
pub fn run_job(
    setting: Setting<'_>,
    job: Job,
    model: Decoder,
    report: &mut dyn FnMut(usize, f64),
) -> Result<RunResult, kiln_core::InvalidConfig> {
    let started = Instant::now();
    let (model, trainer, curve) = pretrain(setting, job, model, report)?;
    let finetune = match (&setting.config.finetune, job.finetune) {
        (Some(ft), true) => ft
            .replay_weights
            .iter()
            .map(|&w| finetune(setting, ft, job, &model, &trainer, w))
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(RunResult {
        job,
        curve,
        finetune,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn pretrain(
    setting: Setting<'_>,
    job: Job,
    mut model: Decoder,
    report: &mut dyn FnMut(usize, f64),
) -> Result<(Decoder, LmTrainer, Vec<LogPoint>), kiln_core::InvalidConfig> {
    let train = setting.config.train;
    let dist = if job.alpha == 0.0 {
        IndividualDist::Uniform
    } else {
        IndividualDist::PowerLaw { alpha: job.alpha }
    };
    let sampler = dist.sampler(job.n, train.batch_size)?;
    let seen = setting.eval_set(0..job.n, derive_seed(job.seed, &format!("seen-{}", job.n)));
    let unseen = setting.eval_set(setting.held_out(), derive_seed(job.seed, "unseen"));
    let mut trainer = LmTrainer::new(
        WarmupCosine {
            peak: train.lr,
            min: train.lr * train.min_lr_fraction,
            warmup: 0,
            total: job.steps,
        },
        train.weight_decay,
    );
    let mut rng = SeededRng::new(derive_seed(job.seed, &job.name()));
    let (mut curve, mut losses) = (Vec::new(), Vec::new());
    for step in 0..=job.steps {
        if step % train.log_every == 0 || step == job.steps {
            let point = LogPoint {
                step,
                train_loss: mean(&losses),
                seen: confidence_stats(&model, &seen),
                unseen: confidence_stats(&model, &unseen),
            };
            report(step, point.seen.loss);
            curve.push(point);
            losses.clear();
        }
        if step == job.steps {
            break;
        }
        let batch = setting.train_batch(&sampler, step, &mut rng);
        let (next, loss) = trainer.step(model, &batch.lm);
        model = next;
        losses.push(loss);
    }
    Ok((model, trainer, curve))
}

/// Fine-tunes `base` on the newcomers at a constant rate, old people replayed at
/// `replay_weight`, measuring both groups on held-out templates.
fn finetune(
    setting: Setting<'_>,
    ft: &FinetuneConfig,
    job: Job,
    base: &Decoder,
    pretrained: &LmTrainer,
    replay_weight: f64,
) -> Result<FinetuneCurve, kiln_core::InvalidConfig> {
    let train = setting.config.train;
    let dist = IndividualDist::Replay {
        old: 0..job.n,
        new: setting.newcomers(),
        old_weight: replay_weight,
    };
    let sampler = dist.sampler(job.n, train.batch_size)?;
    let old = setting.eval_set(0..job.n, derive_seed(job.seed, &format!("seen-{}", job.n)));
    let new = setting.eval_set(setting.newcomers(), derive_seed(job.seed, "newcomers"));
    let constant = WarmupCosine {
        peak: ft.lr,
        min: ft.lr,
        warmup: 0,
        total: ft.steps,
    };
    let mut trainer = if ft.reset_optimizer {
        LmTrainer::new(constant, train.weight_decay)
    } else {
        pretrained.clone().with_schedule(constant)
    };
    let mut rng = SeededRng::new(derive_seed(job.seed, &format!("finetune-{replay_weight}")));
    let mut model = base.clone();
    let mut points = Vec::new();
    for step in 0..=ft.steps {
        if step % train.log_every.min(10) == 0 || step == ft.steps {
            points.push((
                step,
                confidence_stats(&model, &old),
                confidence_stats(&model, &new),
            ));
        }
        if step == ft.steps {
            break;
        }
        let batch = setting.train_batch(&sampler, step, &mut rng);
        model = trainer.step(model, &batch.lm).0;
    }
    Ok(FinetuneCurve {
        replay_weight,
        points,
    })
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

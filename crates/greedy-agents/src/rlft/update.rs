//! One policy update: the rollout's answers as training rows, their advantages, and epochs of
//! the clipped, KL-penalised loss over shuffled mini-batches.

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdafactorConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use kiln_core::nn::decoder::Decoder;
use kiln_core::train::{SeededRng, WarmupCosine};
use serde::{Deserialize, Serialize};

use super::advantage::{baselined, rewards_to_go};
use super::loss::{TokenTerms, clipped_kl_loss, k3, masked_mean};
use super::shaping::{RewardShaping, RunningStd};
use crate::batch::{Pair, PairBatch, target_log_probs};
use crate::play::PlayedEpisode;

/// One answer to train on.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The prompt's tokens.
    pub prompt: Vec<u32>,
    /// The generated tokens.
    pub answer: Vec<u32>,
    /// `log π_old` of each generated token.
    pub old_logp: Vec<f32>,
    /// `A_t`, shared by the answer's tokens.
    pub advantage: f64,
}

/// The rollout's answers with shaped rewards-to-go minus the per-step baseline (`γ = 1`);
/// `norm` first takes in this rollout's environment rewards.
pub fn transitions(
    episodes: &[PlayedEpisode],
    shaping: &RewardShaping,
    norm: &mut RunningStd,
) -> Vec<Transition> {
    for e in episodes {
        for &r in e.history.rewards() {
            norm.push(r);
        }
    }
    let returns: Vec<Vec<f64>> = episodes
        .iter()
        .map(|e| {
            let mut seen = vec![false; e.history.arms()];
            let shaped: Vec<f64> = e
                .decisions
                .iter()
                .zip(e.history.rewards())
                .map(|(d, &r)| {
                    let first = !std::mem::replace(&mut seen[d.action], true);
                    shaping.shape(r, d.valid, first, norm)
                })
                .collect();
            rewards_to_go(&shaped, 1.0)
        })
        .collect();
    let advantages = baselined(&returns);
    episodes
        .iter()
        .zip(advantages)
        .flat_map(|(e, a)| {
            e.decisions.iter().zip(a).filter_map(|(d, advantage)| {
                let g = &d.generation;
                (!g.tokens.is_empty()).then(|| Transition {
                    prompt: g.prompt.clone(),
                    answer: g.tokens.clone(),
                    old_logp: g.logprobs.clone(),
                    advantage,
                })
            })
        })
        .collect()
}

/// Which optimizer updates the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// Adafactor with an absolute learning rate (the paper's, App B.1).
    Adafactor,
    /// AdamW (β₂ = 0.95).
    AdamW,
}

/// The update's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    /// Answers per optimizer step (128 in the paper).
    pub batch: usize,
    /// Passes over a rollout (1 for bandits).
    pub epochs: usize,
    /// Learning rate per optimizer step (1e-4, 100 warm-up steps, cosine to 1e-6).
    pub schedule: WarmupCosine,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Gradient norm clip (1.0).
    pub grad_clip: f32,
    /// `ε` of the ratio clip (0.2).
    pub clip: f64,
    /// `β` of the KL penalty (0.05).
    pub kl_beta: f64,
}

/// What one update measured (means over its optimizer steps).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateStats {
    /// The loss `L`.
    pub loss: f64,
    /// The mean `KL̂` per generated token.
    pub kl: f64,
    /// Optimizer steps taken.
    pub steps: usize,
}

/// The optimizer, its schedule and the frozen reference `π_ref`.
#[derive(Clone)]
pub struct RlTrainer {
    optim: ModuleOptimizer,
    config: UpdateConfig,
    reference: Decoder,
    step: usize,
}

impl RlTrainer {
    /// A trainer whose KL penalty pulls towards `reference` as it is now.
    pub fn new(config: UpdateConfig, reference: &Decoder) -> Self {
        let clipping = Some(GradientClippingConfig::Norm(config.grad_clip));
        let optim = match config.optimizer {
            OptimizerKind::Adafactor => AdafactorConfig::new()
                .with_relative_step(false)
                .with_scale_parameter(false)
                .with_grad_clipping(clipping)
                .init(),
            OptimizerKind::AdamW => AdamWConfig::new()
                .with_beta_2(0.95)
                .with_weight_decay(0.0)
                .with_grad_clipping(clipping)
                .init(),
        };
        Self {
            optim,
            config,
            reference: kiln_core::train::frozen_reference(reference),
            step: 0,
        }
    }

    /// Optimizer steps taken so far.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// `epochs` passes over `transitions` in shuffled mini-batches.
    pub fn update(
        &mut self,
        mut model: Decoder,
        transitions: &[Transition],
        rng: &mut SeededRng,
    ) -> (Decoder, UpdateStats) {
        let mut stats = UpdateStats::default();
        for _ in 0..self.config.epochs {
            for chunk in rng.batches(transitions.len(), self.config.batch.max(1)) {
                let rows: Vec<&Transition> = chunk.iter().map(|&i| &transitions[i]).collect();
                let (next, loss, kl) = self.step_on(model, &rows);
                model = next;
                stats.loss += loss;
                stats.kl += kl;
                stats.steps += 1;
            }
        }
        let n = stats.steps.max(1) as f64;
        stats.loss /= n;
        stats.kl /= n;
        (model, stats)
    }

    /// One optimizer step on `rows`; returns the model, the loss and the mean `KL̂`.
    fn step_on(&mut self, model: Decoder, rows: &[&Transition]) -> (Decoder, f64, f64) {
        let device = model.embedding.weight.device();
        let pairs: Vec<Pair<'_>> = rows
            .iter()
            .map(|t| Pair {
                prompt: &t.prompt,
                completion: &t.answer,
            })
            .collect();
        let pb = PairBatch::new(&pairs, &device);
        let old: Vec<Vec<f32>> = rows.iter().map(|t| t.old_logp.clone()).collect();
        let advantage: Vec<Vec<f32>> = rows
            .iter()
            .map(|t| vec![t.advantage as f32; t.answer.len()])
            .collect();
        let (tokens, targets) = (pb.batch.tokens.clone(), pb.batch.targets.clone());
        let reference = self
            .reference
            .forward(tokens.clone(), None, None, false)
            .logits;
        let terms = TokenTerms {
            old_logp: pb.align(&old, &device),
            ref_logp: target_log_probs(reference, targets.clone()).detach(),
            advantage: pb.align(&advantage, &device),
            mask: pb.batch.loss_mask.clone(),
        };
        let logp = target_log_probs(model.forward(tokens, None, None, false).logits, targets);
        let kl = masked_mean(
            k3(logp.clone().detach(), terms.ref_logp.clone()),
            terms.mask.clone(),
        );
        let loss = clipped_kl_loss(logp, &terms, self.config.clip, self.config.kl_beta);
        let values = (loss.clone().into_scalar::<f64>(), kl.into_scalar::<f64>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = self.config.schedule.lr(self.step);
        self.step += 1;
        (self.optim.step(lr, model, grads), values.0, values.1)
    }
}

//! RL fine-tuning on the policy's own rationale and action tokens (§3, Eq 2, App B).
//!
//! ```text
//! pool ← 512 random bandits
//! repeat: draw 16 bandits; play each for T steps, z_t ~ π_θ(· | c_t) at temperature 1, |z_t| ≤ G
//!         a_t = g(z_t);  r_t = norm(r_env) + r_valid (+ r_bonus);  A_t = R_t − b_t
//!         one epoch of  L = −min(ρA, clip(ρ, 1±ε)A) + β KL̂(π_θ ‖ π_ref)  in batches of 128
//! ```
//!
//! `π_ref` is the policy before fine-tuning, frozen.

pub mod advantage;
pub mod loss;
pub mod shaping;
pub mod update;

use kiln_core::train::{SeededRng, derive_seed};
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use crate::env::{Bandit, BanditConfig};
use crate::play::{Acting, play_bandits};
use crate::policy::{PolicyError, Spt};
use crate::text::BanditPrompt;

pub use advantage::{baselined, gae, rewards_to_go};
pub use loss::{TokenTerms, clipped_kl_loss, k3};
pub use shaping::{RewardShaping, RunningStd};
pub use update::{OptimizerKind, RlTrainer, Transition, UpdateConfig, UpdateStats, transitions};

/// Everything RL fine-tuning on bandits needs (Table 1's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlftConfig {
    /// Rollout–update cycles.
    pub rollouts: usize,
    /// Episodes per rollout (16).
    pub envs_per_rollout: usize,
    /// Bandits in the training pool (512).
    pub pool: usize,
    /// Answer budget `G` and sampling temperature (1.0).
    pub acting: Acting,
    /// The update.
    pub update: UpdateConfig,
    /// Penalty, bonus, normalisation.
    pub shaping: RewardShaping,
}

impl RlftConfig {
    /// Checks that the numbers can work together.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        ensure_config!(
            self.envs_per_rollout > 0,
            "`envs_per_rollout` must be positive"
        );
        ensure_config!(
            self.pool >= self.envs_per_rollout,
            "`pool` ({}) must hold at least `envs_per_rollout` ({}) bandits",
            self.pool,
            self.envs_per_rollout
        );
        ensure_config!(self.acting.budget > 0, "`budget` must be positive");
        ensure_config!(self.update.batch > 0, "`batch` must be positive");
        ensure_config!(
            self.update.clip > 0.0 && self.update.clip < 1.0,
            "`clip` ({}) must be in (0, 1)",
            self.update.clip
        );
        Ok(())
    }
}

/// What one rollout–update cycle measured.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RolloutStats {
    /// 0-based cycle.
    pub rollout: usize,
    /// Mean final coverage of the rollout's episodes (at temperature 1).
    pub coverage: f64,
    /// Mean final regret.
    pub regret: f64,
    /// Share of answers without a valid action.
    pub invalid: f64,
    /// The update that followed.
    pub update: UpdateStats,
}

/// Fine-tunes `spt` on bandits drawn from `bandits`; `on_rollout` sees every cycle's stats.
pub fn train_bandits(
    mut spt: Spt,
    bandits: &BanditConfig,
    prompt: &BanditPrompt,
    config: &RlftConfig,
    seed: u64,
    mut on_rollout: impl FnMut(&RolloutStats),
) -> Result<(Spt, Vec<RolloutStats>), PolicyError> {
    config.validate()?;
    let pool = (0..config.pool)
        .map(|i| bandits.sample(derive_seed(seed, &format!("pool-{i}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut trainer = RlTrainer::new(config.update, &spt.decoder);
    let mut rng = SeededRng::new(derive_seed(seed, "rlft"));
    let mut norm = RunningStd::default();
    let mut history = Vec::with_capacity(config.rollouts);
    for rollout in 0..config.rollouts {
        let picks = &rng.permutation(config.pool)[..config.envs_per_rollout];
        let mut envs: Vec<_> = picks.iter().map(|&i| pool[i].clone()).collect();
        for env in &mut envs {
            env.reset(rng.next_u64());
        }
        let episodes = play_bandits(&spt, &mut envs, prompt, config.acting, rng.next_u64())?;
        let rows = transitions(&episodes, &config.shaping, &mut norm);
        let (model, update) = trainer.update(spt.decoder, &rows, &mut rng);
        spt.decoder = model;
        let n = episodes.len() as f64;
        let stats = RolloutStats {
            rollout,
            coverage: episodes.iter().map(|e| e.coverage()).sum::<f64>() / n,
            regret: episodes.iter().map(|e| e.regret()).sum::<f64>() / n,
            invalid: episodes.iter().map(|e| e.invalid_rate()).sum::<f64>() / n,
            update,
        };
        on_rollout(&stats);
        history.push(stats);
    }
    Ok((spt, history))
}

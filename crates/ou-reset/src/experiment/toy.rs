//! The mean-tracking toy (the paper's Fig. 24): online SGD at two rates, the oracle reset at
//! the switches with the reset learning rate, and the learned soft reset.

use burn::optim::SgdConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::ToyConfig;
use crate::toy::Tracking;
use crate::{
    GammaSource, InitPrior, Online, PriorMean, ScalarMean, SoftReset, SoftResetConfig,
    ToyMeanTracking, VarRule,
};

/// What the toy measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToyResult {
    /// `μ_t`.
    pub means: Vec<f64>,
    /// Online SGD at each rate.
    pub sgd: Vec<(f64, Tracking)>,
    /// Reset to the prior mean at each switch, with the soft reset's learning-rate rule.
    pub oracle: Tracking,
    /// The learned soft reset.
    pub soft: Tracking,
    /// Steps per segment.
    pub switch_every: usize,
}

fn soft_tracking(
    toy: &ToyMeanTracking,
    obs: &[f64],
    cfg: SoftResetConfig,
    prior_var: f64,
    device: &Device,
) -> Tracking {
    let model = ScalarMean::new(0.0, device);
    let prior = InitPrior::from_model(&model, PriorMean::Zero, VarRule::Fixed(prior_var));
    let mut method = SoftReset::new(prior, cfg, SgdConfig::new().init(), 0);
    toy.track(&mut method, model, obs)
}

/// Runs the toy.
pub fn run(config: &ToyConfig, device: &Device) -> ToyResult {
    let toy = ToyMeanTracking::paper();
    let obs = toy.observations(config.steps, config.observation_seed);
    let sgd = config
        .sgd_lrs
        .iter()
        .map(|&lr| {
            let mut online = Online::new(SgdConfig::new().init(), lr);
            (
                lr,
                toy.track(&mut online, ScalarMean::new(0.0, device), &obs),
            )
        })
        .collect();
    let oracle_cfg = SoftResetConfig {
        gamma: GammaSource::Oracle { at_boundary: 0.0 },
        ..config.soft_reset.clone()
    };
    ToyResult {
        means: (0..config.steps).map(|t| toy.mean_at(t)).collect(),
        sgd,
        oracle: soft_tracking(&toy, &obs, oracle_cfg, config.prior_var, device),
        soft: soft_tracking(
            &toy,
            &obs,
            config.soft_reset.clone(),
            config.prior_var,
            device,
        ),
        switch_every: toy.switch_every,
    }
}

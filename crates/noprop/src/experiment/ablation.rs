//! The η = 0 ablation (§4): without the denoising term of Eq. 8 the blocks have nothing to
//! learn from, and NoProp-DT should fall to chance.

use burn::prelude::*;

use super::accuracy_of;
use super::config::{ExperimentConfig, PreparedData};
use super::table1::train_dt;

/// Test accuracy (%) of NoProp-DT trained with `η = 0` for the configured epochs.
pub fn eta_zero_ablation(
    config: &ExperimentConfig,
    data: &PreparedData,
    device: &Device,
    seed: u64,
) -> f64 {
    let c = &config.noprop;
    let model = train_dt(c, data, device, seed, 0.0, config.eta_zero_epochs, |_| {});
    let valid = model.valid();
    accuracy_of(&data.test, &data.norm, device, |x| {
        valid.predict(x, c.inference_noise)
    })
}

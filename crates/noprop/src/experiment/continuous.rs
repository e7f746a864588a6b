//! NoProp-CT (continuous time, learned schedule; §2.3, Appendix B) and NoProp-FM (flow
//! matching; §2.4), each one time-conditioned network trained on the main dataset.

use std::time::Instant;

use burn::prelude::*;
use kiln_core::InvalidConfig;
use kiln_core::cli::ExperimentError;
use kiln_core::train::derive_seed;
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, PreparedData};
use super::{EpochLoop, accuracy_of, new_embedding};
use crate::block::PaperBlock;
use crate::config::Variant;
use crate::ct::NoPropCt;
use crate::fm::NoPropFm;

/// A continuous-variant result (CT or FM): test accuracy (%) and training seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContinuousResult {
    /// `Ct` or `Fm`.
    pub variant: Variant,
    /// Test accuracy (%) on the curve test subset.
    pub test: f64,
    /// Test images it was measured on.
    pub test_images: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Steps at inference.
    pub steps: usize,
    /// Training wall seconds.
    pub seconds: f64,
}

/// Hidden units of CT's learned schedule network (OURS: 1024, as in VDM).
const CT_SCHEDULE_HIDDEN: usize = 1024;

/// Trains NoProp-CT or -FM on `data` and scores it on the curve test images.
pub fn train_continuous(
    config: &ExperimentConfig,
    data: &PreparedData,
    device: &Device,
    seed: u64,
    variant: Variant,
    epochs: usize,
) -> Result<ContinuousResult, ExperimentError> {
    let c = &config.noprop;
    let mut epoch_loop = EpochLoop::new(
        data,
        c.batch_size,
        device,
        derive_seed(seed, &format!("{variant:?}")),
    );
    let ad = epoch_loop.device.clone();
    let net = PaperBlock::new(&c.block.config(), data.block_shape(c.embedding, true), &ad);
    let embedding = new_embedding(c.embedding, data, seed, &ad);
    let label = format!(
        "NoProp-{} {} seed {seed}",
        format!("{variant:?}").to_uppercase(),
        data.name
    );
    // Table 4: Adam with weight decay for CT and FM.
    let mut optim = c.optimizer.adam();
    let started = Instant::now();
    let test = match variant {
        Variant::Ct => {
            // Table 4: η = 1 for CT.
            let model = NoPropCt::new(net, embedding, CT_SCHEDULE_HIDDEN, 1.0, &ad);
            let model = epoch_loop.fit(
                label,
                epochs,
                model,
                (&mut optim, c.optimizer.lr),
                |m, x, y| m.loss(x, y),
                |_| {},
            );
            let valid = model.valid();
            let schedule = valid.schedule.discretise(c.inference_steps, device)?;
            accuracy_of(&data.curve_test, &data.norm, device, |x| {
                valid.predict_with(x, &schedule, c.inference_noise)
            })
        }
        Variant::Fm => {
            let model = NoPropFm::new(net, embedding, &ad);
            let model = epoch_loop.fit(
                label,
                epochs,
                model,
                (&mut optim, c.optimizer.lr),
                |m, x, y| m.loss(x, y),
                |_| {},
            );
            let valid = model.valid();
            accuracy_of(&data.curve_test, &data.norm, device, |x| {
                valid.predict(x, c.inference_steps)
            })
        }
        Variant::Dt => {
            return Err(InvalidConfig::new("NoProp-DT is trained by `table1::compare_on`").into());
        }
    };
    Ok(ContinuousResult {
        variant,
        test,
        test_images: data.curve_test.len(),
        epochs,
        steps: c.inference_steps,
        seconds: started.elapsed().as_secs_f64(),
    })
}

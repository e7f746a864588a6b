//! What a training step costs: peak memory (the direction of Table 3) and wall-clock time.

use burn::prelude::*;
use kiln_core::train::{Optimize, PeakAlloc, Update, measure_time};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, PreparedData};
use super::{new_baseline, new_dt};
use crate::backprop::ChainedBaseline;
use crate::block::PaperBlock;
use crate::train::DtTrainer;

/// Peak heap bytes of one NoProp-DT step (block 1) and one backprop step, same batch.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    /// NoProp-DT step, bytes.
    pub noprop_bytes: usize,
    /// Backprop step, bytes.
    pub backprop_bytes: usize,
    /// Batch size used.
    pub batch_size: usize,
}

/// Peak heap bytes of one NoProp-DT block step and one backprop step on the same batch; `None`
/// when `alloc` counts nothing (off the CPU backend).
pub fn step_memory(
    config: &ExperimentConfig,
    data: &PreparedData,
    device: &Device,
    alloc: &PeakAlloc,
) -> Option<MemoryResult> {
    let c = &config.noprop;
    let ad = device.clone().autodiff();
    let batch: Vec<usize> = (0..c.batch_size.min(data.train.len())).collect();
    let model = new_dt(c, data, c.eta, 0, &ad);
    let mut trainer = DtTrainer::new(c.t_blocks, &c.optimizer);
    let (x, y) = data.train.batch(&batch, &data.norm, &ad);
    // One warm-up step so that optimizer state exists in both measurements.
    let (model, _) = trainer.step(model, 1, x.clone(), y.clone());
    let (_, noprop) = alloc.measure(|| trainer.step(model, 1, x.clone(), y.clone()));

    let baseline = new_baseline(c, data, 0, &ad);
    let mut optim = c.optimizer.adamw();
    let mut step = Optimize::new(&mut optim, |_| c.optimizer.lr);
    let baseline = backprop_step(&mut step, baseline, x.clone(), y.clone());
    let (_, backprop) = alloc.measure(|| backprop_step(&mut step, baseline, x, y));
    Some(MemoryResult {
        noprop_bytes: noprop?,
        backprop_bytes: backprop?,
        batch_size: batch.len(),
    })
}

/// Wall-clock time of one training step (median of [`TIMED_STEPS`], after a warm-up step), with
/// the device synchronised so that queued GPU work is counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// NoProp-DT: one block and the shared head, milliseconds.
    pub noprop_ms: f64,
    /// Backprop through all blocks, milliseconds.
    pub backprop_ms: f64,
    /// Batch size used.
    pub batch_size: usize,
}

/// Steps timed per method.
pub const TIMED_STEPS: usize = 5;

/// Times one NoProp-DT block step and one backprop step on `device` (see [`StepTiming`]).
pub fn step_timing(config: &ExperimentConfig, data: &PreparedData, device: &Device) -> StepTiming {
    let c = &config.noprop;
    let ad = device.clone().autodiff();
    let batch: Vec<usize> = (0..c.batch_size.min(data.train.len())).collect();
    let (x, y) = data.train.batch(&batch, &data.norm, &ad);
    let mut model = Some(new_dt(c, data, c.eta, 0, &ad));
    let mut trainer = DtTrainer::new(c.t_blocks, &c.optimizer);
    let noprop_ms = 1000.0
        * measure_time(TIMED_STEPS, || {
            if let Some(m) = model.take() {
                model = Some(trainer.step(m, 1, x.clone(), y.clone()).0);
            }
            // A device that cannot synchronise leaves the time of the queued work out.
            let _ = ad.sync();
        });
    let mut baseline = Some(new_baseline(c, data, 0, &ad));
    let mut optim = c.optimizer.adamw();
    let mut step = Optimize::new(&mut optim, |_| c.optimizer.lr);
    let backprop_ms = 1000.0
        * measure_time(TIMED_STEPS, || {
            if let Some(m) = baseline.take() {
                baseline = Some(backprop_step(&mut step, m, x.clone(), y.clone()));
            }
            let _ = ad.sync();
        });
    StepTiming {
        noprop_ms,
        backprop_ms,
        batch_size: batch.len(),
    }
}

/// One step of the backprop baseline, its loss read back to the host as training reads it.
fn backprop_step(
    step: &mut impl Update<ChainedBaseline<PaperBlock>>,
    model: ChainedBaseline<PaperBlock>,
    x: Tensor<4>,
    y: Tensor<1, Int>,
) -> ChainedBaseline<PaperBlock> {
    let loss = model.loss(x, y);
    let _ = loss.clone().into_scalar::<f64>();
    step.update(model, loss, 0)
}

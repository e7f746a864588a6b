//! The paper's Table 1, measured: time per step and peak memory of every method on the
//! stream MLP, as ratios to online SGD, beside the cost this crate's design implies.

use burn::prelude::*;
use kiln_core::nn::Mlp;
use kiln_core::train::{PeakAlloc, SeededRng};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, MethodKind};
use super::{init_mlp, methods, stream};
use crate::{ImagePool, StreamKind, TaskStream};

/// One method's measured cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    /// The method.
    pub method: MethodKind,
    /// Mean wall time of a step (ms).
    pub ms_per_step: f64,
    /// Peak heap memory over the steps beyond what was live before (bytes; `None` without the
    /// counting allocator).
    pub peak_bytes: Option<usize>,
}

/// The methods of the table.
pub const METHODS: [MethodKind; 7] = [
    MethodKind::OnlineSgd,
    MethodKind::HardReset,
    MethodKind::L2Init,
    MethodKind::ShrinkPerturb,
    MethodKind::SoftReset,
    MethodKind::SoftResetProximal,
    MethodKind::BayesianSoftReset,
];

/// Times `steps` steps (after 3 warm-up steps) of each method on random-label batches of `pool`.
pub fn measure(
    config: &ExperimentConfig,
    pool: &ImagePool,
    steps: usize,
    device: &Device,
    memory: &PeakAlloc,
) -> Vec<CostRow> {
    let stream_config = stream::stream_config(StreamKind::RandomLabels, 1, 1, config.batch_size);
    let stream = TaskStream::new(pool, stream_config, 0);
    let task = stream.task(0);
    METHODS
        .iter()
        .map(|&method| {
            let mut model = init_mlp(config, pool.dim(), 0, device);
            let mut learner = methods::build(method, &model, &config.methods, 0);
            let mut rng = SeededRng::new(1);
            let batches: Vec<(Tensor<2>, Tensor<1, Int>)> = (0..steps + 3)
                .map(|_| {
                    let idx: Vec<usize> = (0..config.batch_size)
                        .map(|_| rng.below(pool.len()))
                        .collect();
                    stream.batch(&task, &idx, device)
                })
                .collect();
            let mut step = |model: Mlp, (x, y): &(Tensor<2>, Tensor<1, Int>)| {
                let nll = |m: &Mlp| stream::cross_entropy_per_example(m, x.clone(), y.clone());
                learner.step(model, false, &nll).0
            };
            for b in &batches[..3] {
                model = step(model, b);
            }
            let start = std::time::Instant::now();
            let (_, peak) = memory.measure(|| {
                for b in &batches[3..] {
                    model = step(model.clone(), b);
                }
            });
            CostRow {
                method,
                ms_per_step: 1e3 * start.elapsed().as_secs_f64() / steps.max(1) as f64,
                peak_bytes: peak,
            }
        })
        .collect()
}

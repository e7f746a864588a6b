//! Table 1 at our scale: NoProp-DT against the back-propagation baseline built from the same
//! blocks, on the same budget, per dataset and seed.

use std::time::Instant;

use burn::prelude::*;
use kiln_core::cli::ExperimentError;
use kiln_core::data::{ImageDataset, Normalization};
use kiln_core::train::{Progress, Summary, count_correct, derive_seed, seed_everything};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, PreparedData};
use super::{EpochLoop, accuracy_of, new_baseline, new_dt};
use crate::NoPropDt;
use crate::backprop::ChainedBaseline;
use crate::block::PaperBlock;
use crate::config::NoPropConfig;
use crate::train::DtTrainer;

/// What one seed's comparison on one dataset measured (one resumable phase).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedResult {
    /// NoProp-DT test accuracy (%) of each stochastic inference run.
    pub noprop_runs: Vec<f64>,
    /// NoProp-DT test accuracy (%) without inference noise.
    pub noprop_deterministic: f64,
    /// NoProp-DT accuracy (%) on up to 2,000 training images.
    pub noprop_train: f64,
    /// Backprop test accuracy (%).
    pub backprop_test: f64,
    /// NoProp-DT accuracy (%) on the curve test images after each epoch.
    pub noprop_curve: Vec<f64>,
    /// Backprop accuracy (%) on the curve test images after each epoch.
    pub backprop_curve: Vec<f64>,
    /// Read-out accuracy (%) of `z_t`, `t = 1..=T`, in the first inference run.
    pub readout_along_t: Vec<f64>,
    /// Wall seconds of NoProp-DT and of backprop training.
    pub seconds: (f64, f64),
}

/// What one dataset's comparison measured, per seed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetResult {
    /// Dataset name.
    pub dataset: String,
    /// NoProp-DT test accuracy (%), mean over inference runs, per seed.
    pub noprop_test: Vec<f64>,
    /// Each inference run's accuracy (%), all seeds.
    pub noprop_runs: Vec<f64>,
    /// NoProp-DT test accuracy without inference noise (%), per seed.
    pub noprop_deterministic: Vec<f64>,
    /// NoProp-DT training accuracy (%), per seed.
    pub noprop_train: Vec<f64>,
    /// Backprop test accuracy (%), per seed.
    pub backprop_test: Vec<f64>,
    /// Test accuracy after each epoch (%), per seed: NoProp-DT.
    pub noprop_curve: Vec<Vec<f64>>,
    /// Test accuracy after each epoch (%), per seed: backprop.
    pub backprop_curve: Vec<Vec<f64>>,
    /// Read-out accuracy of `z_t`, `t = 1..=T` (%), per seed.
    pub readout_along_t: Vec<Vec<f64>>,
    /// Wall seconds of NoProp-DT and backprop training, per seed.
    pub train_seconds: Vec<(f64, f64)>,
}

impl DatasetResult {
    /// Backprop minus NoProp-DT test accuracy (points), per seed.
    pub fn gaps(&self) -> Vec<f64> {
        self.backprop_test
            .iter()
            .zip(&self.noprop_test)
            .map(|(b, n)| b - n)
            .collect()
    }

    /// Adds one seed's results.
    pub fn add(&mut self, seed: SeedResult) {
        self.noprop_test.push(Summary::of(&seed.noprop_runs).mean);
        self.noprop_runs.extend(&seed.noprop_runs);
        self.noprop_deterministic.push(seed.noprop_deterministic);
        self.noprop_train.push(seed.noprop_train);
        self.backprop_test.push(seed.backprop_test);
        self.noprop_curve.push(seed.noprop_curve);
        self.backprop_curve.push(seed.backprop_curve);
        self.readout_along_t.push(seed.readout_along_t);
        self.train_seconds.push(seed.seconds);
    }
}

/// Trains NoProp-DT and the backprop baseline with `seed` on `data` and scores both.
pub fn compare_on(
    config: &ExperimentConfig,
    data: &PreparedData,
    device: &Device,
    seed: u64,
) -> Result<SeedResult, ExperimentError> {
    let c = &config.noprop;
    // NoProp-DT, with a point on the learning curve after every epoch.
    let started = Instant::now();
    let mut noprop_curve = Vec::new();
    let model = train_dt(c, data, device, seed, c.eta, c.epochs, |m| {
        let valid = m.valid();
        noprop_curve.push(accuracy_of(&data.curve_test, &data.norm, device, |x| {
            valid.predict(x, c.inference_noise)
        }));
    });
    let noprop_seconds = started.elapsed().as_secs_f64();
    let valid = model.valid();
    device.seed(derive_seed(seed, "inference"));
    let runs: Vec<Vec<f64>> = (0..config.inference_runs)
        .map(|_| dt_accuracy_along_t(&valid, &data.test, &data.norm, device, c.inference_noise))
        .collect();
    let noprop_deterministic =
        accuracy_of(&data.test, &data.norm, device, |x| valid.predict(x, false));
    let train_probe = data
        .train
        .seeded_subset(data.train.len().min(2000), derive_seed(seed, "train-probe"))?;
    let noprop_train = accuracy_of(&train_probe, &data.norm, device, |x| {
        valid.predict(x, c.inference_noise)
    });

    // The backprop baseline: same blocks, same epochs, batch size and optimizer.
    let started = Instant::now();
    let (baseline, backprop_curve) = train_baseline(c, data, device, seed);
    let backprop_seconds = started.elapsed().as_secs_f64();
    let valid = baseline.valid();
    let backprop_test = accuracy_of(&data.test, &data.norm, device, |x| valid.predict(x));
    Ok(SeedResult {
        noprop_runs: runs.iter().map(|r| r[r.len() - 1]).collect(),
        noprop_deterministic,
        noprop_train,
        backprop_test,
        noprop_curve,
        backprop_curve,
        readout_along_t: runs[0].clone(),
        seconds: (noprop_seconds, backprop_seconds),
    })
}

/// Trains NoProp-DT by Algorithm 1 for `epochs`, calling `on_epoch` after each.
pub fn train_dt(
    config: &NoPropConfig,
    data: &PreparedData,
    device: &Device,
    seed: u64,
    eta: f64,
    epochs: usize,
    mut on_epoch: impl FnMut(&NoPropDt<PaperBlock>),
) -> NoPropDt<PaperBlock> {
    let ad = device.clone().autodiff();
    let mut rng = seed_everything(&ad, seed);
    let mut model = new_dt(config, data, eta, seed, &ad);
    let mut trainer = DtTrainer::new(config.t_blocks, &config.optimizer);
    let steps_per_pass = data.train.len().div_ceil(config.batch_size);
    let mut progress = Progress::new(
        format!("NoProp-DT {} (η = {eta}) seed {seed}", data.name),
        (epochs * config.t_blocks * steps_per_pass) as u64,
    );
    for epoch in 0..epochs {
        // Algorithm 1: each block in turn, one pass over the data each.
        let pass = |_t| {
            let ad = &ad;
            rng.batches(data.train.len(), config.batch_size)
                .into_iter()
                .map(move |batch| data.train.batch(&batch, &data.norm, ad))
        };
        model = trainer.fit_epoch(model, pass, |t, loss| {
            progress.inc(1);
            progress.set_message(format!("block {t} loss {loss:.3}"));
        });
        on_epoch(&model);
        // Evaluation draws inference noise from the device's generator; reseeding keeps the
        // training that follows independent of how (or whether) the model was evaluated.
        ad.seed(derive_seed(seed, &format!("epoch-{epoch}")));
    }
    progress.finish();
    model
}

/// Test accuracy (%) of the final `z_T` and read-out accuracy (%) of every `z_t`.
fn dt_accuracy_along_t(
    model: &NoPropDt<PaperBlock>,
    data: &ImageDataset,
    norm: &Normalization,
    device: &Device,
    noise: bool,
) -> Vec<f64> {
    let t_blocks = model.t_blocks();
    let mut correct = vec![0usize; t_blocks];
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(500) {
        let (x, y) = data.batch(chunk, norm, device);
        for (t, z) in model.trajectory(x, noise).into_iter().enumerate() {
            correct[t] += count_correct(model.head.logits(z), y.clone());
        }
    }
    correct
        .iter()
        .map(|&c| 100.0 * c as f64 / data.len() as f64)
        .collect()
}

fn train_baseline(
    config: &NoPropConfig,
    data: &PreparedData,
    device: &Device,
    seed: u64,
) -> (ChainedBaseline<PaperBlock>, Vec<f64>) {
    let mut epochs = EpochLoop::new(data, config.batch_size, device, seed);
    let model = new_baseline(config, data, seed, &epochs.device);
    let mut optim = config.optimizer.adamw();
    let mut curve = Vec::new();
    let model = epochs.fit(
        format!("backprop {} seed {seed}", data.name),
        config.epochs,
        model,
        (&mut optim, config.optimizer.lr),
        |m, x, y| m.loss(x, y),
        |m| {
            let valid = m.valid();
            curve.push(accuracy_of(&data.curve_test, &data.norm, device, |x| {
                valid.predict(x)
            }));
        },
    );
    (model, curve)
}

//! The reproduction behind `cargo xtask reproduce noprop`.
//!
//! For each seed it trains NoProp-DT (Algorithm 1) and the back-propagation baseline built from
//! the same blocks on the same budget ([`table1`]), then measures: test accuracy over several
//! stochastic inference runs (Table 1), read-out accuracy of `z_t` along `t`, the η = 0
//! ablation ([`ablation`]), NoProp-CT and -FM ([`continuous`]), and the memory and time of one
//! training step ([`cost`], the direction of Table 3). Optionally the same comparison runs on a
//! second dataset (Fashion-MNIST standing in for CIFAR offline). [`report`] writes it up, and
//! [`NoProp`] is the whole reproduction as `kiln_core::cli::main` runs it.

pub mod ablation;
pub mod config;
pub mod continuous;
pub mod cost;
pub mod report;
pub mod table1;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, ReproductionConfig, Run};
use kiln_core::data::{ImageDataset, Normalization};
use kiln_core::train::{
    FitOptions, Optimize, Progress, SeededRng, derive_seed, fit, seed_everything,
};

pub use config::{ExperimentConfig, PreparedData};
pub use kiln_core::data::DatasetChoice;

use crate::NoPropDt;
use crate::backprop::ChainedBaseline;
use crate::block::PaperBlock;
use crate::config::{NoPropConfig, Variant};
use crate::embedding::{ClassEmbedding, EmbeddingKind, prototype_rows};
use crate::schedule::DiscreteSchedule;
use continuous::ContinuousResult;
use cost::{MemoryResult, StepTiming};
use table1::DatasetResult;

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// Table 1 per dataset, the main one first.
    pub datasets: Vec<DatasetResult>,
    /// NoProp-DT test accuracy (%) with `η = 0`, if run.
    pub eta_zero: Option<f64>,
    /// NoProp-CT and -FM, if run.
    pub continuous: Vec<ContinuousResult>,
    /// Peak memory of one step of each method (CPU backend only).
    pub memory: Option<MemoryResult>,
    /// Time of one step of each method.
    pub timing: StepTiming,
}

/// The whole reproduction, as `cargo xtask reproduce noprop` runs it.
pub struct NoProp;

impl Reproduction for NoProp {
    const PAPER: &'static str = "noprop";
    const ABOUT: &'static str =
        "Reproduce NoProp's claims (Table 1 at our scale, the η = 0 ablation, memory per step).";
    type Config = ExperimentConfig;
    type Results = Results;
    const REPORT: BuildReport<ExperimentConfig, Results> = report::build;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<Results, ExperimentError> {
        let mut datasets = Vec::new();
        for choice in std::iter::once(&config.dataset).chain(config.second_dataset.as_ref()) {
            let (train, test) = choice.load()?;
            datasets.push(PreparedData::new(choice.name(), train, test, config)?);
        }
        eprintln!(
            "noprop: {} training / {} test images of {}",
            datasets[0].train.len(),
            datasets[0].test.len(),
            datasets[0].name
        );
        run_on(config, &datasets, run)
    }
}

/// Trains and evaluates on `datasets` (the main one first). Each phase (one dataset and seed,
/// the ablation, CT, FM) is looked up in the run's phases first and saved there when done, so
/// a stopped run resumes; the run's allocator measures peak memory when it counts.
///
/// # Errors
/// If a phase cannot be saved, or CT's learned schedule cannot be discretised.
pub fn run_on(
    config: &ExperimentConfig,
    datasets: &[PreparedData],
    run: &mut Run,
) -> Result<Results, ExperimentError> {
    let (device, phases) = (&run.device, &mut run.phases);
    let seeds = config.seeds(run.seed);
    let mut results = Vec::new();
    for data in datasets {
        let mut result = DatasetResult {
            dataset: data.name.clone(),
            ..Default::default()
        };
        for &seed in &seeds {
            let phase = format!("compare/{}/seed-{seed}", data.name);
            let compared = phases.run(&phase, || table1::compare_on(config, data, device, seed))?;
            result.add(compared);
        }
        results.push(result);
    }
    let main = &datasets[0];
    let eta_zero = match config.eta_zero_epochs {
        0 => None,
        _ => Some(phases.run("eta-zero", || {
            Ok::<_, ExperimentError>(ablation::eta_zero_ablation(config, main, device, seeds[0]))
        })?),
    };
    let mut continuous = Vec::new();
    for (variant, epochs) in [
        (Variant::Ct, config.ct_epochs),
        (Variant::Fm, config.fm_epochs),
    ] {
        if epochs > 0 {
            let phase = format!("{variant:?}").to_ascii_lowercase();
            continuous.push(phases.run(&phase, || {
                continuous::train_continuous(config, main, device, seeds[0], variant, epochs)
            })?);
        }
    }
    Ok(Results {
        datasets: results,
        eta_zero,
        continuous,
        memory: cost::step_memory(config, main, device, run.memory()),
        timing: cost::step_timing(config, main, device),
    })
}

/// A fresh NoProp-DT model of the paper's blocks for `data`.
pub fn new_dt(
    config: &NoPropConfig,
    data: &PreparedData,
    eta: f64,
    seed: u64,
    device: &Device,
) -> NoPropDt<PaperBlock> {
    let shape = data.block_shape(config.embedding, false);
    let blocks = (0..config.t_blocks)
        .map(|_| PaperBlock::new(&config.block.config(), shape, device))
        .collect();
    let schedule = DiscreteSchedule::new(&config.schedule, config.t_blocks)
        .unwrap_or_else(|e| unreachable!("validated: {e}"));
    NoPropDt::new(
        blocks,
        new_embedding(config.embedding, data, seed, device),
        schedule,
        eta,
        device,
    )
}

/// The class embedding of `kind` for `data` (prototypes are chosen from its training images).
pub fn new_embedding(
    kind: EmbeddingKind,
    data: &PreparedData,
    seed: u64,
    device: &Device,
) -> ClassEmbedding {
    let classes = data.train.num_classes();
    match kind {
        EmbeddingKind::OneHot => ClassEmbedding::one_hot(classes, device),
        EmbeddingKind::Learned { dim } => {
            ClassEmbedding::learned(classes, dim, derive_seed(seed, "embedding"), device)
        }
        EmbeddingKind::Prototype => ClassEmbedding::from_rows(
            &prototype_rows(&data.train, &data.norm, 1000, device),
            device,
        ),
    }
}

/// A fresh backprop baseline of the same blocks.
pub fn new_baseline(
    config: &NoPropConfig,
    data: &PreparedData,
    seed: u64,
    device: &Device,
) -> ChainedBaseline<PaperBlock> {
    let shape = data.block_shape(config.embedding, false);
    let blocks = (0..config.t_blocks)
        .map(|_| PaperBlock::new(&config.block.config(), shape, device))
        .collect();
    ChainedBaseline::new(
        blocks,
        new_embedding(config.embedding, data, seed, device),
        device,
    )
}

/// Shuffled passes over one training set on an autodiff device.
pub struct EpochLoop<'a> {
    data: &'a PreparedData,
    batch_size: usize,
    /// The autodiff device models are trained on.
    pub device: Device,
    rng: SeededRng,
    seed: u64,
}

impl<'a> EpochLoop<'a> {
    /// Seeds the device and the data order from `seed`.
    pub fn new(data: &'a PreparedData, batch_size: usize, device: &Device, seed: u64) -> Self {
        let device = device.clone().autodiff();
        let rng = seed_everything(&device, seed);
        Self {
            data,
            batch_size,
            device,
            rng,
            seed,
        }
    }

    /// Trains a single-network model (the baseline, CT, FM) for `epochs` passes with the
    /// optimizer and learning rate of `optim` on `loss`, calling `after_epoch` after each pass.
    pub fn fit<M: Module>(
        &mut self,
        label: String,
        epochs: usize,
        mut model: M,
        (optim, lr): (&mut ModuleOptimizer, f64),
        loss: impl Fn(&M, Tensor<4>, Tensor<1, Int>) -> Tensor<1>,
        mut after_epoch: impl FnMut(&M),
    ) -> M {
        let steps = self.data.train.len().div_ceil(self.batch_size);
        let mut progress = Progress::new(label, (epochs * steps) as u64);
        let mut step = Optimize::new(optim, |_| lr);
        for epoch in 0..epochs {
            let batches = self.rng.batches(self.data.train.len(), self.batch_size);
            let (data, device) = (self.data, &self.device);
            let fitted = fit(
                model,
                batches
                    .iter()
                    .map(|b| data.train.batch(b, &data.norm, device)),
                |m: &M, (x, y)| loss(m, x, y),
                &mut step,
                FitOptions::default(),
                |_, value| {
                    progress.inc(1);
                    progress.set_message(format!("loss {:.3}", value.unwrap_or(f64::NAN)));
                },
            );
            model = fitted.model;
            after_epoch(&model);
            // As in `table1::train_dt`: evaluation must not shift the training's random draws.
            self.device
                .seed(derive_seed(self.seed, &format!("epoch-{epoch}")));
        }
        progress.finish();
        model
    }
}

/// Accuracy (%) of `predict` over `data`, 500 images at a time.
pub fn accuracy_of(
    data: &ImageDataset,
    norm: &Normalization,
    device: &Device,
    predict: impl FnMut(Tensor<4>) -> Tensor<1, Int>,
) -> f64 {
    kiln_core::train::dataset_accuracy(data, norm, device, 500, predict)
}

#[cfg(test)]
mod tests {
    use kiln_core::data::ImageShape;
    use kiln_core::train::SeededRng;

    use super::table1::train_dt;
    use super::*;

    fn config_and_data() -> (ExperimentConfig, PreparedData) {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../configs/noprop/smoke.ron"
        ))
        .unwrap();
        let mut config: ExperimentConfig = ron::from_str(&text).unwrap();
        config.train_size = None;
        config.test_size = None;
        config.noprop.t_blocks = 2;
        config.noprop.batch_size = 16;
        config.noprop.epochs = 2;
        let mut rng = SeededRng::new(4);
        let images = |n: usize, rng: &mut SeededRng| {
            let pixels = (0..n * 196)
                .map(|_| (rng.next_f64() * 255.0) as u8)
                .collect();
            let labels = (0..n).map(|i| (i % 10) as u16).collect();
            ImageDataset::new(
                pixels,
                labels,
                ImageShape {
                    channels: 1,
                    height: 14,
                    width: 14,
                },
                10,
            )
            .unwrap()
        };
        let (train, test) = (images(32, &mut rng), images(20, &mut rng));
        let data = PreparedData::new("generated", train, test, &config).unwrap();
        (config, data)
    }

    fn readout_weights(model: &NoPropDt<PaperBlock>) -> Vec<f32> {
        kiln_core::host_values(model.head.readout.weight.val())
    }

    #[test]
    fn evaluating_between_epochs_does_not_change_training() {
        let _rng = kiln_core::train::device_rng_lock();
        let (config, data) = config_and_data();
        let device = Device::default();
        let c = &config.noprop;
        let quiet = train_dt(c, &data, &device, 7, c.eta, c.epochs, |_| {});
        let evaluated = train_dt(c, &data, &device, 7, c.eta, c.epochs, |m| {
            let valid = m.valid();
            accuracy_of(&data.test, &data.norm, &device, |x| valid.predict(x, true));
        });
        assert_eq!(readout_weights(&quiet), readout_weights(&evaluated));
    }
}

//! The reproduction behind `cargo xtask reproduce ou-reset`, as library functions.
//!
//! - [`stream`]: each method on each task stream (random-label memorisation on the CIFAR
//!   stand-in, data-efficient random labels on MNIST, the perfect soft resets and the
//!   non-stationarity sweep), trained `workers` at a time, each run a resumable phase;
//! - [`toy`]: the mean-tracking toy;
//! - [`rl`]: a DQN on a gridworld whose rewarded corner switches;
//! - [`cost`]: time per step and peak memory of every method against SGD (Table 1).
//!
//! [`report`] turns the results into the claims table, tables and plots.

pub mod config;
pub mod cost;
pub mod methods;
pub mod report;
pub mod rl;
pub mod stream;
pub mod toy;

use burn::prelude::*;
use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, ReproductionConfig, Run};
use kiln_core::data::DatasetChoice;
use kiln_core::nn::Mlp;
use kiln_core::train::{PhaseError, derive_seed, materialize, seed_everything};
use serde::{Deserialize, Serialize};

pub use config::{ExperimentConfig, MethodKind};

use crate::{ImagePool, StreamKind};
use stream::{StreamJob, StreamRun};

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Every stream run.
    pub streams: Vec<StreamRun>,
    /// The toy.
    pub toy: toy::ToyResult,
    /// The DQN runs.
    pub rl: Vec<rl::RlRun>,
    /// The cost table.
    pub cost: Vec<cost::CostRow>,
}

/// The whole reproduction, as `cargo xtask reproduce ou-reset` runs it.
pub struct OuReset;

impl Reproduction for OuReset {
    const PAPER: &'static str = "ou-reset";
    const ABOUT: &'static str = "Reproduce automatic soft parameter resets: plasticity on random-label streams, gamma at task switches, perfect resets, the non-stationarity sweep, the toy, a switching-reward DQN and the cost table.";
    type Config = ExperimentConfig;
    type Results = Results;
    const REPORT: BuildReport<ExperimentConfig, Results> = report::build;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<Results, ExperimentError> {
        let device = run.device.clone().autodiff();
        eprintln!("ou-reset: toy mean tracking");
        let toy = run.phases.run("toy", || {
            Ok::<_, PhaseError>(toy::run(&config.toy, &device))
        })?;
        let jobs = jobs(config, run.seed);
        let pools = Pools::load(config, &jobs)?;
        // Models are initialised here, in job order, so that the device's random draws do not
        // depend on thread timing (a finished job's model is drawn and dropped).
        let inputs: Vec<(String, (StreamJob, Mlp))> = jobs
            .into_iter()
            .map(|job| {
                let model = init_mlp(config, pools.get(&job.dataset).dim(), job.seed, &device);
                (job.name(), (job, model))
            })
            .collect();
        let streams = run
            .phases
            .run_parallel(inputs, config.workers, |(job, model)| {
                Ok::<_, ExperimentError>(stream::run(config, pools.get(&job.dataset), job, model))
            })?;
        let rl = match &config.rl {
            Some(_) => rl::run_all(config, run.seed, &device, &mut run.phases)?,
            None => Vec::new(),
        };
        let cost = match config.cost_steps {
            Some(steps) => {
                eprintln!("ou-reset: cost per step");
                let (pool, memory) = (pools.any(), run.memory());
                run.phases.run("cost", || {
                    Ok::<_, PhaseError>(cost::measure(config, pool, steps, &device, memory))
                })?
            }
            None => Vec::new(),
        };
        Ok(Results {
            streams,
            toy,
            rl,
            cost,
        })
    }
}

/// The MLP `dim-hidden…-10` initialised from `seed` (device generator, in the calling thread).
pub fn init_mlp(config: &ExperimentConfig, dim: usize, seed: u64, device: &Device) -> Mlp {
    seed_everything(device, derive_seed(seed, "init"));
    let widths: Vec<usize> = std::iter::once(dim)
        .chain(config.hidden.iter().copied())
        .chain([10])
        .collect();
    let model = Mlp::new(&widths, device);
    materialize(&model);
    model
}

/// Every stream run of `config`, seeds offset by `offset`.
pub fn jobs(config: &ExperimentConfig, offset: u64) -> Vec<StreamJob> {
    let b = config.batch_size;
    let mut out = Vec::new();
    let mut study =
        |name: String, dataset: &DatasetChoice, kind, tasks, epochs, methods: &[MethodKind]| {
            for &seed in &ReproductionConfig::seeds(config, offset) {
                for &method in methods {
                    out.push(StreamJob {
                        study: name.clone(),
                        dataset: dataset.name().to_string(),
                        stream: stream::stream_config(kind, tasks, epochs, b),
                        method,
                        seed,
                    });
                }
            }
        };
    for (name, s) in [
        ("memorisation", &config.memorisation),
        ("data_efficient", &config.data_efficient),
        ("perfect_reset", &config.perfect_reset),
    ] {
        if let Some(s) = s {
            study(
                name.to_string(),
                &s.dataset,
                s.kind,
                s.tasks,
                s.epochs,
                &s.methods,
            );
        }
    }
    if let Some(s) = &config.sweep {
        for &fraction in &s.fractions {
            for &epochs in &s.epochs {
                let kind = StreamKind::PartialRandomLabels { fraction };
                let name = format!("sweep-p{fraction}-e{epochs}");
                study(name, &s.dataset, kind, s.tasks, epochs, &s.methods);
            }
        }
    }
    // Longest first, so that the last run to start is a short one.
    out.sort_by_key(|j| std::cmp::Reverse(j.stream.tasks * j.stream.epochs));
    out
}

/// The image pool of each dataset the jobs use.
struct Pools(Vec<(String, ImagePool)>);

impl Pools {
    fn load(config: &ExperimentConfig, jobs: &[StreamJob]) -> Result<Self, ExperimentError> {
        let mut choices: Vec<&DatasetChoice> = Vec::new();
        let studies = [
            &config.memorisation,
            &config.data_efficient,
            &config.perfect_reset,
        ];
        for s in studies.into_iter().flatten() {
            choices.push(&s.dataset);
        }
        if let Some(s) = &config.sweep {
            choices.push(&s.dataset);
        }
        if choices.is_empty() || config.cost_steps.is_some() && jobs.is_empty() {
            choices.push(&DatasetChoice::Synthetic);
        }
        let mut pools: Vec<(String, ImagePool)> = Vec::new();
        for choice in choices {
            if pools.iter().any(|(n, _)| n == choice.name()) {
                continue;
            }
            let (train, _) = choice.load()?;
            if config.images > train.len() {
                return Err(kiln_core::InvalidConfig::new(format!(
                    "images = {} but {} has {} training images",
                    config.images,
                    choice.name(),
                    train.len()
                ))
                .into());
            }
            let subset = train.seeded_subset(config.images, derive_seed(0, "ou-reset-pool"))?;
            pools.push((
                choice.name().to_string(),
                ImagePool::from_images(&subset, config.pool),
            ));
        }
        Ok(Self(pools))
    }

    fn get(&self, name: &str) -> &ImagePool {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&self.0[0].1, |(_, p)| p)
    }

    fn any(&self) -> &ImagePool {
        &self.0[0].1
    }
}

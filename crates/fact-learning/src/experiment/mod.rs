//! The reproduction behind `cargo xtask reproduce fact-learning`, as library functions.
//!
//! Every study is a set of pre-training runs of one decoder on biographies ([`training`]):
//! - the three phases and the plateau against the number of people `N` (§2.1, Fig. 2): uniform
//!   runs for each `N` of the config;
//! - the imbalance trade-off (§3.1, Fig. 4): power-law runs at one `N` and budget;
//! - hallucinations (§4.1): every run is also evaluated on people it never saw;
//! - fine-tuning on new people, with and without replay (§4.2, Fig. 5), from one uniform run.
//!
//! Runs are independent, so [`FactLearning`] trains `workers` of them at a time, one per
//! thread, and saves each as a phase as it finishes (an interrupted run resumes). [`report`]
//! turns the results into the claims table, CSVs and plots.

pub mod config;
pub mod report;
pub mod training;

use std::sync::{Mutex, mpsc};

use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, ReproductionConfig as _, Run};
use kiln_core::nn::Decoder;
use kiln_core::train::{PhaseError, derive_seed, materialize, seed_everything, trainable_params};
use serde::{Deserialize, Serialize};

pub use config::ExperimentConfig;
use training::{Job, RunResult, Setting};

use crate::metrics::no_knowledge_baseline;
use crate::world::{Population, World};

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The no-knowledge baseline of the world (nats).
    pub baseline: f64,
    /// Trainable parameters of the decoder, and of them the non-embedding ones.
    pub parameters: (usize, usize),
    /// Every job, in the order of [`jobs`].
    pub runs: Vec<RunResult>,
}

/// The whole reproduction, as `cargo xtask reproduce fact-learning` runs it.
pub struct FactLearning;

impl Reproduction for FactLearning {
    const PAPER: &'static str = "fact-learning";
    const ABOUT: &'static str = "Reproduce how language models learn facts: the three phases, plateau length against the number of people, imbalanced sampling, hallucination and fine-tuning damage.";
    type Config = ExperimentConfig;
    type Results = Results;
    const REPORT: BuildReport<ExperimentConfig, Results> = report::build;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<Results, ExperimentError> {
        let world = World::new(config.world)?;
        let seed = config.seeds(run.seed)[0];
        let population = Population::generate(
            &world,
            config.population_size(),
            derive_seed(seed, "population"),
        )?;
        let device = run.device.clone().autodiff();
        let setting = Setting {
            config,
            world: &world,
            population: &population,
            device: &device,
        };
        let jobs = jobs(config, run.seed);
        train_pending(setting, &jobs, &mut run.phases)?;
        let mut runs = Vec::with_capacity(jobs.len());
        for job in &jobs {
            runs.push(run.phases.run(&job.name(), || {
                Err(ExperimentError::failed(
                    "fact-learning",
                    format!("run {} did not finish", job.name()),
                ))
            })?);
        }
        let decoder = config
            .model
            .config(world.vocab_size(), config::MAX_LEN, false)
            .init(&device);
        let total = trainable_params(&decoder);
        let embedding = 2 * world.vocab_size() * config.model.d_model;
        Ok(Results {
            baseline: no_knowledge_baseline(&world),
            parameters: (total, total.saturating_sub(embedding)),
            runs,
        })
    }
}

/// The pre-training runs of `config`, each once: the size study, the α sweep (its α = 0 run
/// is the size run with the same `N` and budget, when there is one) and the fine-tuning base.
pub fn jobs(config: &ExperimentConfig, seed_offset: u64) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    let mut add = |job: Job| {
        if !jobs
            .iter()
            .any(|j| (j.n, j.steps, j.alpha, j.seed) == (job.n, job.steps, job.alpha, job.seed))
        {
            jobs.push(job);
        }
    };
    for seed in config.seeds(seed_offset) {
        let job = |n, steps, alpha| Job {
            n,
            steps,
            alpha,
            finetune: false,
            seed,
        };
        if let Some(ft) = &config.finetune {
            add(Job {
                finetune: true,
                ..job(ft.base.n, ft.base.steps, 0.0)
            });
        }
        for size in &config.sizes {
            add(job(size.n, size.steps, 0.0));
        }
        for &alpha in config.alpha.iter().flat_map(|a| &a.alphas) {
            let run = config.alpha.as_ref().map_or(config.sizes[0], |a| a.run);
            add(job(run.n, run.steps, alpha));
        }
    }
    jobs
}

/// Trains the jobs that `phases` has not finished, `workers` at a time, saving each as it
/// finishes. Models are initialised here, in job order, so the device's random draws do not
/// depend on thread timing.
fn train_pending(
    setting: Setting<'_>,
    jobs: &[Job],
    phases: &mut kiln_core::train::PhaseStore,
) -> Result<(), ExperimentError> {
    let vocab = setting.world.vocab_size();
    let mut queue: Vec<(Job, Decoder)> = jobs
        .iter()
        .filter(|job| !phases.is_done(&job.name()))
        .map(|&job| {
            seed_everything(setting.device, derive_seed(job.seed, &job.name()));
            let model = setting
                .config
                .model
                .config(vocab, config::MAX_LEN, false)
                .init(setting.device);
            materialize(&model);
            (job, model)
        })
        .collect();
    // Longest first, so that the last job to start is a short one.
    queue.sort_by_key(|(job, _)| job.steps);
    let queue = Mutex::new(queue);
    let (sender, results) = mpsc::channel();
    let baseline = no_knowledge_baseline(setting.world);
    std::thread::scope(|scope| -> Result<(), ExperimentError> {
        for _ in 0..setting.config.workers {
            let (queue, sender) = (&queue, sender.clone());
            scope.spawn(move || {
                while let Some((job, model)) = next(queue) {
                    let mut report = progress(job, baseline);
                    let result = training::run_job(setting, job, model, &mut report);
                    if sender.send(result).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for result in results {
            let result = result?;
            eprintln!(
                "fact-learning: {} done in {:.0} s",
                result.job.name(),
                result.seconds
            );
            phases.run(&result.job.name(), || Ok::<_, PhaseError>(result.clone()))?;
        }
        Ok(())
    })
}

/// The next job of the queue, if any (a poisoned lock means another worker panicked: stop).
fn next(queue: &Mutex<Vec<(Job, Decoder)>>) -> Option<(Job, Decoder)> {
    queue.lock().ok()?.pop()
}

/// A progress line at every tenth of a job.
fn progress(job: Job, baseline: f64) -> impl FnMut(usize, f64) {
    let every = (job.steps / 10).max(1);
    let mut next_line = 0;
    move |step, loss| {
        if step >= next_line {
            eprintln!(
                "fact-learning: {} step {step}/{}: attribute loss {loss:.3} (baseline {baseline:.3})",
                job.name(),
                job.steps
            );
            next_line = step + every;
        }
    }
}

//! `cargo xtask reproduce attn-sinks`: the paper's pre-training experiments at CPU scale.
//!
//! For each language (the synthetic back-copy language, and English bytes of the Brown corpus):
//! 1. **Context sweep** (§4.1, Fig. 5): the same model and token budget at several context
//!    lengths, ⟨bos⟩ pinned at position 0; the sink rate of each, measured at one common length.
//! 2. **Packing grid** (§4.2, Table 2): causal or intra-document masking × ⟨bos⟩ pinned or not,
//!    each model fed held-out text with and without a leading ⟨bos⟩.
//! 3. **Perturbation propagation** (§3, Fig. 2): how far a one-token swap spreads through the
//!    pinned-⟨bos⟩ causal model, with ⟨bos⟩ and without.
//!
//! Then, if the config asks, the same measurements on SmolLM2-135M ([`pretrained`]). Each
//! trained model is one resumable phase; [`report`] sets every finding beside the paper's, and
//! [`AttnSinks`] is the whole reproduction as `kiln_core::cli::main` runs it.

pub mod config;
pub mod pretrained;
pub mod report;

use burn::prelude::*;
use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, Run};
use kiln_core::data::brown_tarball;
use kiln_core::data::text::BosMode;
use kiln_core::nn::Decoder;
use kiln_core::train::{PhaseStore, Progress, derive_seed};
use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, Language};
use crate::probe::{
    ActiveDormant, Feed, FeedProbes, PerturbationReport, SinkProbe, active_dormant,
    perturbation_propagation, probe,
};
use crate::train::{Masking, RunSpec, TrainingConfig, train};
pub use config::{EvalConfig, ExperimentConfig, LanguagePlan};
use pretrained::{PretrainedResult, run_pretrained};

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// The trained models of each language.
    pub languages: Vec<LanguageResults>,
    /// The pretrained analysis, if the config asked for it.
    pub pretrained: Option<PretrainedResult>,
}

/// The whole reproduction, as `cargo xtask reproduce attn-sinks` runs it.
pub struct AttnSinks;

impl Reproduction for AttnSinks {
    const PAPER: &'static str = "attn-sinks";
    const ABOUT: &'static str = "Reproduce the pre-training findings of \"Why do LLMs attend to the first token?\" at small scale: the context sweep (Fig. 5), the packing grid (Table 2) and perturbation spread (Fig. 2).";
    type Config = ExperimentConfig;
    type Results = Results;
    const REPORT: BuildReport<ExperimentConfig, Results> = report::build_report;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<Results, ExperimentError> {
        let config = &ExperimentConfig {
            seed: config.seed + run.seed,
            ..config.clone()
        };
        let models: usize = config
            .languages
            .iter()
            .map(|p| planned_runs(p, config.grid_context).len())
            .sum();
        eprintln!("attn-sinks: {models} models to train");
        let languages = config
            .languages
            .iter()
            .map(|plan| run_language(config, plan, &run.device, &mut run.phases))
            .collect::<Result<_, _>>()?;
        let pretrained = run_pretrained_phase(config, &run.device, &mut run.phases)?;
        Ok(Results {
            languages,
            pretrained,
        })
    }
}

/// Everything measured on one trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The language trained on.
    pub language: Language,
    /// What the run varied.
    pub spec: RunSpec,
    /// Training wall-clock seconds.
    pub seconds: f64,
    /// `(step, training loss)`.
    pub curve: Vec<(usize, f64)>,
    /// Probes at `eval.length` (when the model's context allows it).
    pub probes: Option<FeedProbes>,
    /// Probe at the sweep's common length, fed as trained (sweep runs only).
    pub sweep_probe: Option<SinkProbe>,
    /// The back-copy head (synthetic language, pinned-⟨bos⟩ runs).
    pub active_dormant: Option<ActiveDormant>,
    /// Perturbation spread with ⟨bos⟩ and text only (the causal pinned-⟨bos⟩ grid run).
    pub perturbation: Option<[PerturbationReport; 2]>,
}

/// The untrained model's probes, the baseline "at initialisation, there are no sinks".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UntrainedResult {
    /// The language of the prompts.
    pub language: Language,
    /// Its probes at `eval.length`.
    pub probes: FeedProbes,
}

/// All results of one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageResults {
    /// The language.
    pub language: Language,
    /// Sweep contexts, in order.
    pub contexts: Vec<usize>,
    /// Every trained model.
    pub runs: Vec<RunResult>,
    /// The untrained reference.
    pub untrained: UntrainedResult,
}

impl LanguageResults {
    /// The run of `spec`, if it was trained.
    pub fn run(&self, spec: RunSpec) -> Option<&RunResult> {
        self.runs.iter().find(|r| r.spec == spec)
    }
}

/// The grid's four training settings, in the paper's order.
pub fn grid_specs(context: usize) -> [RunSpec; 4] {
    let spec = |masking, bos| RunSpec {
        context,
        bos,
        masking,
    };
    [
        spec(Masking::Causal, BosMode::NoBos),
        spec(Masking::Causal, BosMode::FixedBos),
        spec(Masking::IntraDocument, BosMode::NoBos),
        spec(Masking::IntraDocument, BosMode::FixedBos),
    ]
}

/// The runs of one language: the sweep, then grid runs not already in it.
pub fn planned_runs(plan: &LanguagePlan, grid_context: usize) -> Vec<RunSpec> {
    let mut runs: Vec<RunSpec> = plan
        .contexts
        .iter()
        .map(|&context| RunSpec {
            context,
            bos: BosMode::FixedBos,
            masking: Masking::Causal,
        })
        .collect();
    if plan.grid {
        for spec in grid_specs(grid_context) {
            if !runs.contains(&spec) {
                runs.push(spec);
            }
        }
    }
    runs
}

/// Loads the corpus of a language.
///
/// # Errors
/// If the Brown corpus is missing or unreadable (the message says how to fetch it).
pub fn load_corpus(
    config: &ExperimentConfig,
    plan: &LanguagePlan,
) -> Result<Corpus, ExperimentError> {
    match plan.language {
        Language::Backcopy => {
            let steps = plan.steps.unwrap_or(config.training.steps);
            // Enough text that no window is seen twice, whatever the context.
            let tokens = steps * config.training.tokens_per_step * 11 / 10;
            Ok(Corpus::backcopy(
                config.backcopy,
                tokens,
                config.eval.prompts,
                config.seed,
            ))
        }
        Language::Brown => Ok(Corpus::brown(&brown_tarball()?)?),
    }
}

/// Trains and measures every planned model of one language; finished models are kept in
/// `phases`, so an interrupted run resumes where it stopped.
///
/// # Errors
/// If the corpus cannot be loaded or a run's sizes are inconsistent.
pub fn run_language(
    config: &ExperimentConfig,
    plan: &LanguagePlan,
    device: &Device,
    phases: &mut PhaseStore,
) -> Result<LanguageResults, ExperimentError> {
    let corpus = load_corpus(config, plan)?;
    let name = plan.language.name();
    let prompts = corpus.prompts(
        config.eval.prompts,
        config.eval.length + 1,
        derive_seed(config.seed, "prompts"),
    )?;
    let sweep_prompts = match plan.contexts.iter().copied().min() {
        Some(t) => corpus.prompts(
            config.eval.prompts,
            t + 1,
            derive_seed(config.seed, "sweep"),
        )?,
        None => vec![],
    };
    let untrained = phases.run(&format!("{name} untrained"), || {
        device.seed(derive_seed(config.seed, "untrained"));
        let model = config
            .model
            .config(corpus.vocab_size, config.grid_context, true)
            .init(device);
        Ok::<_, ExperimentError>(UntrainedResult {
            language: plan.language,
            probes: probe_both(&model, &prompts, &corpus, config, device),
        })
    })?;
    let mut training = config.training;
    training.steps = plan.steps.unwrap_or(training.steps);
    let language = LanguageRun {
        config,
        plan,
        corpus: &corpus,
        prompts: &prompts,
        sweep_prompts: &sweep_prompts,
        training,
        device,
    };
    let mut runs = Vec::new();
    for spec in planned_runs(plan, config.grid_context) {
        let phase = format!("{name} {}", spec.label());
        runs.push(phases.run(&phase, || language.train_and_measure(spec))?);
    }
    Ok(LanguageResults {
        language: plan.language,
        contexts: plan.contexts.clone(),
        runs,
        untrained,
    })
}

/// What every model of one language is trained and measured with.
struct LanguageRun<'a> {
    config: &'a ExperimentConfig,
    plan: &'a LanguagePlan,
    corpus: &'a Corpus,
    /// Held-out prompts of `eval.length + 1` tokens.
    prompts: &'a [Vec<u32>],
    /// Held-out prompts at the sweep's shortest context.
    sweep_prompts: &'a [Vec<u32>],
    training: TrainingConfig,
    device: &'a Device,
}

impl LanguageRun<'_> {
    /// Trains the model of `spec` and takes the measurements its place in the plan calls for.
    fn train_and_measure(&self, spec: RunSpec) -> Result<RunResult, ExperimentError> {
        let (config, corpus, device) = (self.config, self.corpus, self.device);
        let mut progress = Progress::new(spec.label(), self.training.steps as u64);
        let trained = train(
            corpus,
            spec,
            &config.model,
            &self.training,
            device,
            config.seed,
            |_, mean| {
                if let Some(mean) = mean {
                    progress.set_message(format!("loss {mean:.3}"));
                }
                progress.inc(1);
            },
        )?;
        progress.finish();
        let model = &trained.model;
        let bos = corpus.specials.bos;
        let in_grid = self.plan.grid && spec.context == config.grid_context;
        let pinned = spec.bos == BosMode::FixedBos;
        let probes = (spec.context >= config.eval.length)
            .then(|| probe_both(model, self.prompts, corpus, config, device));
        let sweep_probe = (self.plan.contexts.contains(&spec.context) && pinned).then(|| {
            let epsilons = &config.eval.epsilons;
            probe(
                model,
                self.sweep_prompts,
                Feed::WithBos,
                bos,
                epsilons,
                device,
            )
        });
        let active_dormant = (pinned && in_grid)
            .then(|| active_dormant(model, self.prompts, bos, |t| corpus.is_trigger(t), device))
            .flatten();
        let perturbation = (pinned && in_grid && spec.masking == Masking::Causal).then(|| {
            let texts = &self.prompts[..config.eval.perturb_prompts];
            [Feed::WithBos, Feed::TextOnly].map(|feed| {
                perturbation_propagation(
                    model,
                    texts,
                    feed,
                    bos,
                    config.eval.perturb_position,
                    |t| substitute(corpus, t),
                    device,
                )
            })
        });
        Ok(RunResult {
            language: self.plan.language,
            spec,
            seconds: trained.seconds,
            curve: trained.curve,
            probes,
            sweep_probe,
            active_dormant,
            perturbation,
        })
    }
}

/// The pretrained analysis as a resumable phase, when the config asks for it.
///
/// # Errors
/// If the model or the Brown corpus is missing.
pub fn run_pretrained_phase(
    config: &ExperimentConfig,
    device: &Device,
    phases: &mut PhaseStore,
) -> Result<Option<PretrainedResult>, ExperimentError> {
    let Some(pretrained) = &config.pretrained else {
        return Ok(None);
    };
    let seed = derive_seed(config.seed, "pretrained prompts");
    phases
        .run("smollm2", || {
            run_pretrained(pretrained, &config.eval, seed, device)
        })
        .map(Some)
}

fn probe_both(
    model: &Decoder,
    prompts: &[Vec<u32>],
    corpus: &Corpus,
    config: &ExperimentConfig,
    device: &Device,
) -> FeedProbes {
    let at = |feed| {
        probe(
            model,
            prompts,
            feed,
            corpus.specials.bos,
            &config.eval.epsilons,
            device,
        )
    };
    FeedProbes {
        with_bos: at(Feed::WithBos),
        text_only: at(Feed::TextOnly),
    }
}

/// The token swapped in by the perturbation experiment: another ordinary token of the synthetic
/// language, or another lower-case letter (a letter stays a letter, so the text stays English-
/// like; anything else becomes `e`).
pub fn substitute(corpus: &Corpus, token: u32) -> u32 {
    match &corpus.generator {
        Some(g) => {
            let k = g.config().triggers as u32;
            let n = g.config().vocab as u32 - k;
            k + (token.saturating_sub(k) + 1) % n
        }
        None => match u8::try_from(token) {
            Ok(b) if b.is_ascii_lowercase() => u32::from(b'a' + (b - b'a' + 1) % 26),
            _ => u32::from(b'e'),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backcopy::BackcopyConfig;

    #[test]
    fn the_grid_shares_its_pinned_causal_run_with_the_sweep() {
        let plan = LanguagePlan {
            language: Language::Backcopy,
            contexts: vec![32, 64, 128],
            grid: true,
            steps: None,
        };
        let runs = planned_runs(&plan, 128);
        assert_eq!(runs.len(), 6, "3 sweep runs + 3 more grid runs");
        for spec in grid_specs(128) {
            assert!(runs.contains(&spec));
        }
    }

    #[test]
    fn substitutes_stay_in_the_language() {
        let corpus = Corpus::backcopy(BackcopyConfig::default(), 100, 1, 0);
        for t in 3..64 {
            let s = substitute(&corpus, t);
            assert!(s != t && (3..64).contains(&s), "{t} -> {s}");
        }
        let brown = Corpus {
            generator: None,
            ..corpus
        };
        assert_eq!(substitute(&brown, u32::from(b'z')), u32::from(b'a'));
        assert_eq!(substitute(&brown, u32::from(b' ')), u32::from(b'e'));
    }
}

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
//! Each trained model is one resumable phase; [`crate::report`] sets every finding beside the
//! paper's.

use std::path::Path;

use burn::prelude::*;
use kiln_core::data::corpus::brown_tarball;
use kiln_core::data::text::BosMode;
use kiln_core::train::{PhaseStore, derive_seed};
use serde::{Deserialize, Serialize};

use crate::backcopy::BackcopyConfig;
use crate::corpus::{Corpus, Language};
use crate::pretrained::{PretrainedConfig, PretrainedResult, run_pretrained};
use crate::probe::{
    ActiveDormant, Feed, PerturbationReport, SinkProbe, active_dormant, perturbation_propagation,
    probe,
};
use crate::train::{Masking, ModelConfig, RunSpec, TrainingConfig, train};

/// How trained models are measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out single-document prompts per measurement.
    pub prompts: usize,
    /// Prompt length `T` of the packing grid, the checks and the perturbations (Gu et al. use
    /// 64). The context sweep is measured at its shortest context instead, the one length every
    /// model of the sweep can read.
    pub length: usize,
    /// Thresholds `ε` of the sink metric; the first is the headline one.
    pub epsilons: Vec<f64>,
    /// Text position of the swapped token in the perturbation experiment.
    pub perturb_position: usize,
    /// Prompts used for the perturbation experiment (at most `prompts`).
    pub perturb_prompts: usize,
}

/// Which experiments run on one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePlan {
    /// The language.
    pub language: Language,
    /// Context lengths of the sweep (causal, ⟨bos⟩ pinned); empty for no sweep.
    pub contexts: Vec<usize>,
    /// Whether the packing grid runs (at the experiment's `grid_context`).
    pub grid: bool,
    /// Optimizer steps per run, when they differ from `training.steps`.
    pub steps: Option<usize>,
}

/// A whole reproduction, as read from `configs/attn-sinks/<scale>.ron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// Decoder size, shared by every run.
    pub model: ModelConfig,
    /// Optimisation, shared by every run.
    pub training: TrainingConfig,
    /// The synthetic language.
    pub backcopy: BackcopyConfig,
    /// Languages and their experiments.
    pub languages: Vec<LanguagePlan>,
    /// Context length of the packing grid and the perturbation model.
    pub grid_context: usize,
    /// Measurement settings.
    pub eval: EvalConfig,
    /// Seed of data, initialisation and prompts.
    pub seed: u64,
    /// The pretrained analysis on SmolLM2-135M, if wanted (needs `cargo xtask data fetch
    /// smollm2`).
    #[serde(default)]
    pub pretrained: Option<PretrainedConfig>,
}

impl ExperimentConfig {
    /// Reads and checks a RON config.
    ///
    /// # Errors
    /// If the file cannot be read, does not parse (unknown fields included) or is inconsistent.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Ok(kiln_core::cli::load_config(path, Self::validate)?)
    }

    /// Checks sizes that would otherwise fail deep inside a run.
    ///
    /// # Errors
    /// A message naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let e = &self.eval;
        if e.epsilons.is_empty() || e.epsilons.iter().any(|x| !(0.0..1.0).contains(x)) {
            return Err("eval.epsilons must be one or more thresholds in [0, 1)".into());
        }
        if e.prompts == 0 || e.perturb_prompts == 0 || e.perturb_prompts > e.prompts {
            return Err(
                "eval.prompts and eval.perturb_prompts must be ≥ 1, the latter ≤ the former".into(),
            );
        }
        if e.length < 4 || e.length > self.grid_context {
            return Err(format!(
                "eval.length ({}) must be between 4 and grid_context ({})",
                e.length, self.grid_context
            ));
        }
        if e.perturb_position + 2 >= e.length {
            return Err(format!(
                "eval.perturb_position ({}) must leave later positions in a prompt of {}",
                e.perturb_position, e.length
            ));
        }
        let m = &self.model;
        if m.n_layers == 0 || m.ffn_hidden == 0 {
            return Err("model.n_layers and model.ffn_hidden must be ≥ 1".into());
        }
        let b = &self.backcopy;
        if b.triggers == 0 || b.vocab <= b.triggers + 1 {
            return Err(format!(
                "backcopy.vocab ({}) must exceed backcopy.triggers ({}) by at least 2, and triggers be ≥ 1",
                b.vocab, b.triggers
            ));
        }
        if !(0.0..1.0).contains(&b.trigger_rate) || b.concentration <= 0.0 || b.mean_length < 2.0 {
            return Err(
                "backcopy.trigger_rate must be in [0, 1), concentration > 0 and mean_length ≥ 2"
                    .into(),
            );
        }
        if let Some(p) = &self.pretrained
            && (p.prompts == 0 || p.perturb_prompts == 0 || p.perturb_prompts > p.prompts)
        {
            return Err(
                "pretrained.prompts and pretrained.perturb_prompts must be ≥ 1, the latter ≤ the former"
                    .into(),
            );
        }
        if self.model.n_heads == 0 || !self.model.d_model.is_multiple_of(self.model.n_heads) {
            return Err("model.d_model must be a multiple of model.n_heads".into());
        }
        if self.languages.is_empty() {
            return Err("languages is empty: nothing to run".into());
        }
        for plan in &self.languages {
            for &t in plan.contexts.iter().chain([&self.grid_context]) {
                if t < 4 || !self.training.tokens_per_step.is_multiple_of(t) {
                    return Err(format!(
                        "context {t} must be ≥ 4 and divide training.tokens_per_step ({})",
                        self.training.tokens_per_step
                    ));
                }
            }
        }
        if self.training.steps == 0 || self.training.warmup > self.training.steps {
            return Err("training.steps must be ≥ 1 and ≥ training.warmup".into());
        }
        Ok(())
    }
}

/// The sink probes of a model on the evaluation prompts, fed both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedProbes {
    /// `⟨bos⟩ + text`.
    pub with_bos: SinkProbe,
    /// `text only`.
    pub text_only: SinkProbe,
}

impl FeedProbes {
    /// The probe of one feed.
    pub fn get(&self, feed: Feed) -> &SinkProbe {
        match feed {
            Feed::WithBos => &self.with_bos,
            Feed::TextOnly => &self.text_only,
        }
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
pub fn load_corpus(config: &ExperimentConfig, plan: &LanguagePlan) -> anyhow::Result<Corpus> {
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

/// Trains and measures every planned model of every language; finished models are kept in
/// `phases`, so an interrupted run resumes where it stopped.
///
/// # Errors
/// If a corpus cannot be loaded or a run's sizes are inconsistent.
pub fn run(
    config: &ExperimentConfig,
    device: &Device,
    phases: &mut PhaseStore,
) -> anyhow::Result<Vec<LanguageResults>> {
    let mut all = Vec::new();
    for plan in &config.languages {
        let corpus = load_corpus(config, plan)?;
        let name = plan.language.name();
        let prompts = corpus
            .prompts(
                config.eval.prompts,
                config.eval.length + 1,
                derive_seed(config.seed, "prompts"),
            )
            .map_err(anyhow::Error::msg)?;
        let sweep_length = plan.contexts.iter().copied().min();
        let sweep_prompts = match sweep_length {
            Some(t) => corpus
                .prompts(
                    config.eval.prompts,
                    t + 1,
                    derive_seed(config.seed, "sweep"),
                )
                .map_err(anyhow::Error::msg)?,
            None => vec![],
        };
        let untrained = phases.run(&format!("{name} untrained"), || {
            device.seed(derive_seed(config.seed, "untrained"));
            let model = config
                .model
                .decoder(corpus.vocab_size, config.grid_context)
                .init(device);
            anyhow::Ok(UntrainedResult {
                language: plan.language,
                probes: probe_both(&model, &prompts, &corpus, config, device),
            })
        })?;
        let mut training = config.training;
        training.steps = plan.steps.unwrap_or(training.steps);
        let mut runs = Vec::new();
        for spec in planned_runs(plan, config.grid_context) {
            let phase = format!("{name} {}", spec.label());
            runs.push(phases.run(&phase, || -> anyhow::Result<RunResult> {
                let trained = train(&corpus, spec, &config.model, &training, device, config.seed)
                    .map_err(anyhow::Error::msg)?;
                let model = &trained.model;
                let bos = corpus.specials.bos;
                let in_grid = plan.grid && spec.context == config.grid_context;
                let pinned = spec.bos == BosMode::FixedBos;
                let probes = (spec.context >= config.eval.length)
                    .then(|| probe_both(model, &prompts, &corpus, config, device));
                let sweep_probe = (plan.contexts.contains(&spec.context) && pinned).then(|| {
                    probe(
                        model,
                        &sweep_prompts,
                        Feed::WithBos,
                        bos,
                        &config.eval.epsilons,
                        device,
                    )
                });
                let active_dormant = (pinned && in_grid)
                    .then(|| active_dormant(model, &prompts, bos, |t| corpus.is_trigger(t), device))
                    .flatten();
                let perturbation =
                    (pinned && in_grid && spec.masking == Masking::Causal).then(|| {
                        let texts = &prompts[..config.eval.perturb_prompts];
                        [Feed::WithBos, Feed::TextOnly].map(|feed| {
                            perturbation_propagation(
                                model,
                                texts,
                                feed,
                                bos,
                                config.eval.perturb_position,
                                |t| substitute(&corpus, t),
                                device,
                            )
                        })
                    });
                Ok(RunResult {
                    language: plan.language,
                    spec,
                    seconds: trained.seconds,
                    curve: trained.curve,
                    probes,
                    sweep_probe,
                    active_dormant,
                    perturbation,
                })
            })?);
        }
        all.push(LanguageResults {
            language: plan.language,
            contexts: plan.contexts.clone(),
            runs,
            untrained,
        });
    }
    Ok(all)
}

/// The pretrained analysis as a resumable phase, when the config asks for it.
///
/// # Errors
/// If the model or the Brown corpus is missing.
pub fn run_pretrained_phase(
    config: &ExperimentConfig,
    device: &Device,
    phases: &mut PhaseStore,
) -> anyhow::Result<Option<PretrainedResult>> {
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
    model: &kiln_core::nn::Decoder,
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

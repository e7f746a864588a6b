//! The pretrained analysis: SmolLM2-135M-Instruct, read from its GGUF file onto
//! the shared decoder, measured like our own models. It is the small-scale analogue of the
//! paper's Table 1 (sink rates of LLaMA 3.1), Table 3 (removing ⟨bos⟩ from Gemma 7B) and Fig. 2
//! (perturbations spread further without ⟨bos⟩).

use burn::prelude::*;
use kiln_core::cli::ExperimentError;
use kiln_core::data::corpus::read_brown;
use kiln_core::data::text::Tokenizer;
use kiln_core::data::{DataError, brown_tarball};
use kiln_core::gguf::{BpeTokenizer, GgufFile, load_llama};
use serde::{Deserialize, Serialize};

use super::EvalConfig;
use crate::corpus::{Corpus, Language, is_held_out};
use crate::probe::{Feed, FeedProbes, PerturbationReport, perturbation_propagation, probe};

/// The model file `cargo xtask data fetch smollm2` provides.
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// How much of the analysis to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainedConfig {
    /// Held-out Brown prompts for the sink metric and the loss (Gu et al. use 100 or more; each
    /// costs about a second per feed on 2 cores).
    pub prompts: usize,
    /// Prompts for the perturbation experiment.
    pub perturb_prompts: usize,
}

/// What was measured on the pretrained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainedResult {
    /// The model's name.
    pub model: String,
    /// Its layers and query heads per layer.
    pub layers: usize,
    /// Query heads per layer.
    pub heads: usize,
    /// Prompts measured, each of `length` tokens.
    pub prompts: usize,
    /// Prompts of the perturbation experiment.
    pub perturb_prompts: usize,
    /// Tokens per prompt.
    pub length: usize,
    /// Sink rates, per-head α, loss and value norms, with ⟨bos⟩ (id 1) and without.
    pub probes: FeedProbes,
    /// Spread of a one-word swap, with ⟨bos⟩ and without.
    pub perturbation: [PerturbationReport; 2],
    /// The swap: `(word at the position, word put there)` of the first prompt.
    pub swap_example: (String, String),
}

/// Runs the analysis on held-out Brown text (the same 25 texts our models never trained on),
/// cut into SmolLM2's own tokens.
///
/// # Errors
/// If the model or the Brown corpus is missing (the messages say how to fetch them), or the
/// file is not a Llama model.
pub fn run_pretrained(
    config: &PretrainedConfig,
    eval: &EvalConfig,
    seed: u64,
    device: &Device,
) -> Result<PretrainedResult, ExperimentError> {
    let path = kiln_core::data::dataset_dir("smollm2")?.join(SMOLLM2_FILE);
    let failed = |e| {
        ExperimentError::failed(
            "reading SmolLM2 (run `cargo xtask data fetch smollm2` if the file is missing)",
            e,
        )
    };
    let file = GgufFile::read(&path).map_err(failed)?;
    let tokenizer = BpeTokenizer::from_gguf(&file).map_err(failed)?;
    let valid: Vec<Vec<u32>> = read_brown(&brown_tarball()?)?
        .iter()
        .enumerate()
        .filter(|(i, _)| is_held_out(*i))
        .map(|(_, doc)| tokenizer.encode(&doc.text))
        .collect();
    let corpus = Corpus {
        language: Language::Brown,
        train: vec![],
        valid,
        vocab_size: tokenizer.vocab_size(),
        specials: tokenizer.specials(),
        generator: None,
    };
    let prompts = corpus.prompts(config.prompts, eval.length + 1, seed)?;
    let (model, decoder) = load_llama(&file, eval.length + 1, device).map_err(failed)?;
    let bos = tokenizer.specials().bos;
    let at = |feed| probe(&model, &prompts, feed, bos, &eval.epsilons, device);
    let probes = FeedProbes {
        with_bos: at(Feed::WithBos),
        text_only: at(Feed::TextOnly),
    };
    // A one-word swap in the spirit of the paper's "greatest" → "best".
    let word = |w: &str| {
        tokenizer.id(w).ok_or_else(|| {
            DataError::Invalid(format!("SmolLM2's vocabulary lacks the common word {w}"))
        })
    };
    let (best, greatest) = (word("Ġbest")?, word("Ġgreatest")?);
    let substitute = |t: u32| if t == best { greatest } else { best };
    let texts = &prompts[..config.perturb_prompts.min(prompts.len())];
    let perturbation = [Feed::WithBos, Feed::TextOnly].map(|feed| {
        perturbation_propagation(
            &model,
            texts,
            feed,
            bos,
            eval.perturb_position,
            substitute,
            device,
        )
    });
    let original = texts[0][eval.perturb_position];
    Ok(PretrainedResult {
        model: "SmolLM2-135M-Instruct (Q4_1)".into(),
        layers: decoder.n_layers,
        heads: decoder.n_heads,
        prompts: prompts.len(),
        perturb_prompts: texts.len(),
        length: eval.length,
        probes,
        perturbation,
        swap_example: (
            tokenizer.decode(&[original]),
            tokenizer.decode(&[substitute(original)]),
        ),
    })
}

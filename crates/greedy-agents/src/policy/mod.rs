//! Language-model policies: text in, text out, with the log-probability of every generated
//! token (what RL fine-tuning needs) and the score of given continuations (what the
//! frequency-bias probe needs).

pub mod spt;

use kiln_core::lm::LmError;

use crate::text::LexError;

pub use spt::{Spt, SptConfig};

/// Why a policy could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// The prompt (or a continuation) is not text this policy reads.
    #[error("cannot read the text: {0}")]
    Lex(#[from] LexError),
    /// A config whose values cannot work together.
    #[error(transparent)]
    Config(#[from] kiln_core::InvalidConfig),
    /// The language model refused the request (too long, bad sampler settings).
    #[error(transparent)]
    Lm(#[from] LmError),
}

/// One generated answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TextGeneration {
    /// The prompt as the policy's tokens.
    pub prompt: Vec<u32>,
    /// The generated tokens (a stop token, if one ended the answer, is the last).
    pub tokens: Vec<u32>,
    /// `log π(token | before)` of each generated token at temperature 1.
    pub logprobs: Vec<f32>,
    /// The answer as text, for the action extractor.
    pub text: String,
}

/// A policy that reads prompts and writes answers.
pub trait TextPolicy {
    /// One answer per prompt, each at most `budget` tokens, at `temperature` (0: greedy);
    /// `seeds[i]` seeds the draws of answer `i`.
    fn generate(
        &self,
        prompts: &[String],
        budget: usize,
        temperature: f32,
        seeds: &[u64],
    ) -> Result<Vec<TextGeneration>, PolicyError>;

    /// `log π(c | prompt)` of every continuation `c`, the prompt run once.
    fn score(&self, prompt: &str, continuations: &[String]) -> Result<Vec<f64>, PolicyError>;
}

//! The synthetic-prior transformer (SPT): a small causal decoder over the lexer's tokens
//! (kiln-core's Llama-style decoder: RMSNorm, RoPE, SwiGLU), the paper's language model
//! scaled down to 2 cores. Its "pre-training" is behaviour cloning on a corpus that plants
//! the biases under study ([`crate::sft`]); RL fine-tuning then trains it like the paper's
//! Gemma ([`crate::rlft`]).
//!
//! Generation and scoring run on kiln-core's inference engine, a copy of the weights taken
//! by [`Spt::engine`]; training runs the Burn [`Decoder`].

use burn::prelude::*;
use kiln_core::lm::{GenerateOptions, LmEngine, Request, Sampler};
use kiln_core::nn::decoder::{Decoder, DecoderConfig, DecoderShape};
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use super::{PolicyError, TextGeneration, TextPolicy};
use crate::text::Lexer;
use crate::text::lexer::{ACT, EOS};

/// The size of an SPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SptConfig {
    /// Width, depth, heads and MLP width.
    pub shape: DecoderShape,
    /// Longest prompt + answer, in tokens.
    pub max_len: usize,
}

impl Default for SptConfig {
    /// 2 layers, d = 64, 4 heads, MLP 256, 256 tokens.
    fn default() -> Self {
        Self {
            shape: DecoderShape {
                d_model: 64,
                n_layers: 2,
                n_heads: 4,
                ffn_hidden: 256,
            },
            max_len: 256,
        }
    }
}

impl SptConfig {
    /// The decoder's whole configuration.
    pub fn decoder(&self) -> Result<DecoderConfig, InvalidConfig> {
        let s = self.shape;
        ensure_config!(
            s.n_heads > 0 && s.d_model.is_multiple_of(2 * s.n_heads),
            "`n_heads` ({}) must divide `d_model` ({}) into heads of even width",
            s.n_heads,
            s.d_model
        );
        ensure_config!(s.n_layers > 0, "`n_layers` must be positive");
        ensure_config!(
            self.max_len >= 16,
            "`max_len` ({}) is too short",
            self.max_len
        );
        Ok(s.config(Lexer::vocab_size(), self.max_len, true))
    }
}

/// A decoder over the lexer's tokens, and the lexer of its arms.
#[derive(Debug, Clone)]
pub struct Spt {
    /// The model (on the training device; inference goes through [`engine`](Self::engine)).
    pub decoder: Decoder,
    /// Its configuration.
    pub config: DecoderConfig,
    /// Text ↔ tokens.
    pub lexer: Lexer,
}

impl Spt {
    /// A freshly initialised SPT on `device`.
    pub fn new(config: &SptConfig, lexer: Lexer, device: &Device) -> Result<Self, InvalidConfig> {
        let config = config.decoder()?;
        Ok(Self {
            decoder: config.init(device),
            config,
            lexer,
        })
    }

    /// The inference engine of the weights as they are now.
    pub fn engine(&self) -> LmEngine {
        LmEngine::from_decoder(&self.decoder.clone().valid(), &self.config)
    }

    /// Generation on token prompts with an engine from [`engine`](Self::engine).
    pub fn generate_tokens(
        &self,
        engine: &LmEngine,
        prompts: &[Vec<u32>],
        budget: usize,
        temperature: f32,
        seeds: &[u64],
    ) -> Result<Vec<TextGeneration>, PolicyError> {
        let requests: Vec<Request> = prompts
            .iter()
            .zip(seeds)
            .map(|(p, &seed)| Request {
                prompt: p.clone(),
                max_new_tokens: budget.min(self.config.max_len.saturating_sub(p.len())),
                seed,
            })
            .collect();
        let options = GenerateOptions {
            sampler: Sampler::temperature(temperature),
            stop_tokens: vec![EOS],
        };
        let generations = engine.generate(&requests, &options)?;
        Ok(prompts
            .iter()
            .zip(generations)
            .map(|(p, g)| TextGeneration {
                text: self.lexer.decode(&g.tokens),
                prompt: p.clone(),
                tokens: g.tokens,
                logprobs: g.logprobs,
            })
            .collect())
    }

    /// `π(action = a | prompt)` for every arm, the rationale tokens marginalised exactly:
    /// `Σ_{u, g} π([UCB] u [GRD] g [ACT] a [EOS])` with chain of thought, `π([ACT] a [EOS])`
    /// without (the frequency-bias probe conditions on a rationale this way instead of
    /// sampling one). Answers outside the grammar get no mass, so the values may sum to less
    /// than 1.
    pub fn action_distribution(
        &self,
        engine: &LmEngine,
        prompt: &[u32],
        arms: usize,
        chain_of_thought: bool,
    ) -> Result<Vec<f64>, PolicyError> {
        let mut answers = Vec::new();
        for a in 0..arms {
            if chain_of_thought {
                for u in 0..arms {
                    for g in 0..arms {
                        answers.push((a, Lexer::rationale(u, g, a)));
                    }
                }
            } else {
                answers.push((a, vec![ACT, Lexer::arm(a), EOS]));
            }
        }
        let continuations: Vec<Vec<u32>> = answers.iter().map(|(_, c)| c.clone()).collect();
        let scores = engine.score(prompt, &continuations)?;
        let mut p = vec![0.0; arms];
        for ((a, _), s) in answers.iter().zip(scores) {
            p[*a] += s.total().exp();
        }
        Ok(p)
    }
}

impl TextPolicy for Spt {
    fn generate(
        &self,
        prompts: &[String],
        budget: usize,
        temperature: f32,
        seeds: &[u64],
    ) -> Result<Vec<TextGeneration>, PolicyError> {
        let tokens = prompts
            .iter()
            .map(|p| self.lexer.lex(p))
            .collect::<Result<Vec<_>, _>>()?;
        self.generate_tokens(&self.engine(), &tokens, budget, temperature, seeds)
    }

    fn score(&self, prompt: &str, continuations: &[String]) -> Result<Vec<f64>, PolicyError> {
        let prompt = self.lexer.lex(prompt)?;
        let continuations = continuations
            .iter()
            .map(|c| self.lexer.encode_answer(c))
            .collect::<Result<Vec<_>, _>>()?;
        let scores = self.engine().score(&prompt, &continuations)?;
        Ok(scores.iter().map(|s| s.total()).collect())
    }
}

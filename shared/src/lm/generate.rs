//! Batched generation and continuation scoring on an [`LmEngine`].
//!
//! **Generation.** All prompts go through the model in one prefill pass; then every unfinished
//! sequence advances by one token per batched step, and a sequence leaves the batch when it
//! emits a stop token or reaches its length. Each sequence draws from its own seeded
//! generator, so what it generates does not depend on the rest of the batch.
//!
//! **Scoring.** `log p(c | x) = Σ_j log p(c_j | x, c_{<j})` for many continuations `c` of one
//! prompt `x`: the prompt is run once, and each continuation starts from a copy of its cache.

use serde::{Deserialize, Serialize};

use super::LmError;
use super::attention::SeqCache;
use super::engine::{LmEngine, Positions, Step};
use super::kernels::log_softmax;
use super::sampling::Sampler;
use crate::train::SeededRng;

/// Continuation tokens scored per batched pass, bounding the logits held at once.
const SCORE_TOKENS_PER_PASS: usize = 512;

/// One sequence to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The prompt's tokens (at least one).
    pub prompt: Vec<u32>,
    /// The most tokens to generate.
    pub max_new_tokens: usize,
    /// Seed of this sequence's draws (unused when greedy).
    pub seed: u64,
}

/// Settings shared by a batch of requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateOptions {
    /// How each token is chosen.
    pub sampler: Sampler,
    /// Tokens that end a sequence (kept as its last token).
    pub stop_tokens: Vec<u32>,
}

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Finish {
    /// It emitted one of the stop tokens.
    Stop,
    /// It reached `max_new_tokens`.
    Length,
}

/// What one request generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The new tokens (a stop token, if one ended the sequence, is the last).
    pub tokens: Vec<u32>,
    /// `log p(token | everything before it)` of each new token under the model itself (before
    /// temperature, top-k or top-p).
    pub logprobs: Vec<f32>,
    /// Why it ended.
    pub finish: Finish,
}

/// The log-probabilities of one continuation's tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// `log p(c_j | x, c_{<j})` per token.
    pub token_logprobs: Vec<f32>,
}

impl Score {
    /// `log p(c | x)`, the sum.
    pub fn total(&self) -> f64 {
        self.token_logprobs.iter().map(|&l| f64::from(l)).sum()
    }
}

impl LmEngine {
    /// Continues every request, batched.
    ///
    /// # Errors
    /// If the sampler's settings are invalid, a prompt is empty, has a token outside the
    /// vocabulary or would grow past the engine's `max_len`.
    pub fn generate(
        &self,
        requests: &[Request],
        options: &GenerateOptions,
    ) -> Result<Vec<Generation>, LmError> {
        if let Some(problem) = options.sampler.problem() {
            return Err(LmError::InvalidSampler(problem));
        }
        for (i, r) in requests.iter().enumerate() {
            let length = r.prompt.len() + r.max_new_tokens;
            if length > self.config().max_len {
                return Err(LmError::TooLong {
                    sequence: i,
                    length,
                    max_len: self.config().max_len,
                });
            }
        }
        let mut caches = vec![SeqCache::new(); requests.len()];
        let mut rngs: Vec<SeededRng> = requests.iter().map(|r| SeededRng::new(r.seed)).collect();
        let mut out: Vec<Generation> = requests
            .iter()
            .map(|r| Generation {
                tokens: Vec::with_capacity(r.max_new_tokens),
                logprobs: Vec::with_capacity(r.max_new_tokens),
                finish: Finish::Length,
            })
            .collect();
        let mut active: Vec<usize> = (0..requests.len())
            .filter(|&i| requests[i].max_new_tokens > 0)
            .collect();
        let mut inputs: Vec<Vec<u32>> = requests.iter().map(|r| r.prompt.clone()).collect();
        while !active.is_empty() {
            let logits = self.step_batch(&active, &inputs, &mut caches)?;
            let mut still = Vec::with_capacity(active.len());
            for (&i, logits) in active.iter().zip(&logits) {
                let token = options.sampler.choose(logits, &mut rngs[i]);
                let generation = &mut out[i];
                generation.tokens.push(token);
                generation
                    .logprobs
                    .push(log_softmax(logits)[token as usize]);
                if options.stop_tokens.contains(&token) {
                    generation.finish = Finish::Stop;
                } else if generation.tokens.len() < requests[i].max_new_tokens {
                    inputs[i] = vec![token];
                    still.push(i);
                }
            }
            active = still;
        }
        Ok(out)
    }

    /// One batched pass over the sequences `active`, each fed `inputs[i]`.
    fn step_batch(
        &self,
        active: &[usize],
        inputs: &[Vec<u32>],
        caches: &mut [SeqCache],
    ) -> Result<Vec<Vec<f32>>, LmError> {
        let mut steps: Vec<Step<'_>> = caches
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| active.binary_search(i).is_ok())
            .map(|(i, cache)| Step {
                cache,
                tokens: &inputs[i],
            })
            .collect();
        self.forward(&mut steps, Positions::Last)
    }

    /// `log p(c | prompt)` for every continuation `c`, token by token, the prompt run once.
    /// An empty continuation scores 0.
    ///
    /// # Errors
    /// If the prompt is empty, a token is outside the vocabulary or a prompt and continuation
    /// together pass the engine's `max_len`.
    pub fn score(&self, prompt: &[u32], continuations: &[Vec<u32>]) -> Result<Vec<Score>, LmError> {
        let vocab = self.config().vocab_size;
        if let Some(&token) = continuations
            .iter()
            .flatten()
            .find(|&&t| t as usize >= vocab)
        {
            return Err(LmError::TokenOutOfRange { token, vocab });
        }
        let mut prompt_cache = SeqCache::new();
        let mut step = [Step {
            cache: &mut prompt_cache,
            tokens: prompt,
        }];
        let first = log_softmax(&self.forward(&mut step, Positions::Last)?[0]);
        let mut scores: Vec<Score> = continuations
            .iter()
            .map(|c| Score {
                token_logprobs: c.first().map(|&t| first[t as usize]).into_iter().collect(),
            })
            .collect();
        // Each continuation feeds all but its last token; its first token was scored above.
        let longer: Vec<usize> = (0..continuations.len())
            .filter(|&i| continuations[i].len() > 1)
            .collect();
        for pass in batches(&longer, |i| continuations[i].len(), SCORE_TOKENS_PER_PASS) {
            let mut caches = vec![prompt_cache.clone(); pass.len()];
            let mut steps: Vec<Step<'_>> = caches
                .iter_mut()
                .zip(&pass)
                .map(|(cache, &i)| Step {
                    cache,
                    tokens: &continuations[i][..continuations[i].len() - 1],
                })
                .collect();
            let logits = self.forward(&mut steps, Positions::All)?;
            for (&i, rows) in pass.iter().zip(&logits) {
                for (row, &next) in rows.chunks_exact(vocab).zip(&continuations[i][1..]) {
                    scores[i]
                        .token_logprobs
                        .push(log_softmax(row)[next as usize]);
                }
            }
        }
        Ok(scores)
    }
}

/// `items` split into runs whose `size`s add up to at most `budget` (an item larger than the
/// budget runs alone).
fn batches(items: &[usize], size: impl Fn(usize) -> usize, budget: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for &item in items {
        let s = size(item);
        if out.is_empty() || used + s > budget {
            out.push(Vec::new());
            used = 0;
        }
        used += s;
        if let Some(run) = out.last_mut() {
            run.push(item);
        }
    }
    out
}

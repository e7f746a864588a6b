//! A small pre-norm decoder language model shared by the language papers.
//!
//! `h_0 = E[tokens]`; per layer `h ← h + Attn(RMSNorm(h))`, `h ← h + SwiGLU(RMSNorm(h))`;
//! `logits = RMSNorm(h) W_outᵀ` (with `W_out = E` when embeddings are tied). This is the Llama
//! architecture, so the same module runs a model trained here or a pretrained one (SmolLM2).

use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::attention::{AttentionMask, CausalSelfAttention, KvCache};
use super::mlp::SwiGlu;
use super::norm::{RmsNorm, rms_norm};
use super::rope::{Rope, RopeLayout};
use crate::train::SeededRng;

/// The shape of a decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of layers.
    pub n_layers: usize,
    /// Query heads per layer.
    pub n_heads: usize,
    /// Key/value heads per layer (grouped-query attention when fewer than `n_heads`).
    pub n_kv_heads: usize,
    /// Hidden width of the SwiGLU block.
    pub ffn_hidden: usize,
    /// Longest sequence (RoPE table size).
    pub max_len: usize,
    /// RoPE base.
    pub rope_base: f64,
    /// RoPE feature pairing.
    pub rope_layout: RopeLayout,
    /// RMSNorm `ε`.
    pub norm_eps: f64,
    /// Whether the output projection is the token embedding (tied).
    pub tied_embeddings: bool,
}

/// The four numbers that size a small decoder trained from scratch; [`config`](Self::config)
/// fills in the rest the way the papers trained here do (RoPE base 10,000 in halves, RMSNorm
/// ε = 1e-5, one key/value head per query head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderShape {
    /// Residual width.
    pub d_model: usize,
    /// Number of decoder blocks.
    pub n_layers: usize,
    /// Attention heads per block.
    pub n_heads: usize,
    /// Hidden width of the SwiGLU MLP.
    pub ffn_hidden: usize,
}

impl DecoderShape {
    /// The whole configuration, for `vocab_size` tokens and sequences up to `max_len`.
    pub fn config(
        &self,
        vocab_size: usize,
        max_len: usize,
        tied_embeddings: bool,
    ) -> DecoderConfig {
        DecoderConfig {
            vocab_size,
            d_model: self.d_model,
            n_layers: self.n_layers,
            n_heads: self.n_heads,
            n_kv_heads: self.n_heads,
            ffn_hidden: self.ffn_hidden,
            max_len,
            rope_base: 10_000.0,
            rope_layout: RopeLayout::Halves,
            norm_eps: 1e-5,
            tied_embeddings,
        }
    }
}

impl DecoderConfig {
    /// Builds a randomly initialised decoder.
    pub fn init(&self, device: &Device) -> Decoder {
        let blocks = (0..self.n_layers)
            .map(|_| DecoderBlock {
                attn_norm: rms_norm(self.d_model, self.norm_eps, device),
                attn: CausalSelfAttention::new(self.d_model, self.n_heads, self.n_kv_heads, device),
                mlp_norm: rms_norm(self.d_model, self.norm_eps, device),
                mlp: SwiGlu::new(self.d_model, self.ffn_hidden, device),
            })
            .collect();
        Decoder {
            // N(0, 0.02²) as in GPT-2 and Llama; Burn's default N(0, 1) makes tied output
            // logits huge at initialisation (a loss near 30 instead of ln V).
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_model)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
            blocks,
            norm: rms_norm(self.d_model, self.norm_eps, device),
            lm_head: (!self.tied_embeddings).then(|| {
                LinearConfig::new(self.d_model, self.vocab_size)
                    .with_bias(false)
                    .init(device)
            }),
            rope: Rope::new(
                self.d_model / self.n_heads,
                self.max_len,
                self.rope_base,
                self.rope_layout,
            ),
        }
    }
}

/// One pre-norm layer.
#[derive(Module, Debug)]
pub struct DecoderBlock {
    /// Norm before attention.
    pub attn_norm: RmsNorm,
    /// Self-attention.
    pub attn: CausalSelfAttention,
    /// Norm before the MLP.
    pub mlp_norm: RmsNorm,
    /// SwiGLU MLP.
    pub mlp: SwiGlu,
}

impl DecoderBlock {
    /// The rest of the layer once attention has run: `h ← h + a`, `h ← h + SwiGLU(RMSNorm(h))`.
    fn finish(&self, h: Tensor<3>, a: Tensor<3>) -> Tensor<3> {
        let h = h + a;
        h.clone() + self.mlp.forward(self.mlp_norm.forward(h))
    }
}

/// Attention probabilities to use instead of a decoder's own, per layer (`None`: the layer's
/// own attention), each `[B, H, T, T]`. Built from another model's captured maps
/// ([`DecoderOutput::attention`]), detached so that no gradient flows into that model.
#[derive(Debug, Clone, Default)]
pub struct AttentionOverride {
    /// One entry per layer from the first; missing trailing layers use their own attention.
    pub maps: Vec<Option<Tensor<4>>>,
}

impl AttentionOverride {
    /// Every layer patched with `maps` (one per layer), detached: a stop-gradient.
    pub fn all_layers(maps: Vec<Tensor<4>>) -> Self {
        Self {
            maps: maps.into_iter().map(|m| Some(m.detach())).collect(),
        }
    }
}

/// The decoder.
#[derive(Module, Debug)]
pub struct Decoder {
    /// Token embedding `E`.
    pub embedding: Embedding,
    /// The layers.
    pub blocks: Vec<DecoderBlock>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Output projection, absent when tied to the embedding.
    pub lm_head: Option<Linear>,
    /// Rotary tables.
    #[module(skip)]
    pub rope: Rope,
}

/// The key/value caches of every layer.
#[derive(Debug, Clone, Default)]
pub struct DecoderCache {
    layers: Vec<KvCache>,
}

impl DecoderCache {
    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, KvCache::len)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Logits and, when asked for, every layer's attention probabilities `[B, H, T, S]`.
#[derive(Debug, Clone)]
pub struct DecoderOutput {
    /// `[B, T, vocab]`.
    pub logits: Tensor<3>,
    /// One map per layer (empty unless requested).
    pub attention: Vec<Tensor<4>>,
    /// The residual stream after each layer, `[B, T, d_model]` (empty unless requested).
    pub hidden: Vec<Tensor<3>>,
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most likely token.
    Greedy,
    /// A draw from `softmax(logits / temperature)`, seeded.
    Temperature {
        /// Softmax temperature (> 0).
        temperature: f64,
        /// Seed of the draws.
        seed: u64,
    },
}

impl Decoder {
    /// Runs `tokens` (`[B, T]`). `segments` (document ids per position, covering cached
    /// positions too) switches on intra-document masking; `cache` makes this an incremental
    /// step; `keep_internals` returns attention maps and hidden states.
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        segments: Option<&[Vec<usize>]>,
        cache: Option<&mut DecoderCache>,
        keep_internals: bool,
    ) -> DecoderOutput {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let offset = cache.as_ref().map_or(0, |c| c.len());
        let mask = match segments {
            Some(segments) => AttentionMask::within_documents(segments, t, offset, &device),
            None => AttentionMask::causal(b, t, offset, &device),
        };
        let mut layer_caches = cache.map(|c| {
            c.layers.resize_with(self.blocks.len(), KvCache::new);
            &mut c.layers
        });
        let mut h = self.embedding.forward(tokens);
        let (mut attention, mut hidden) = (Vec::new(), Vec::new());
        for (i, block) in self.blocks.iter().enumerate() {
            let layer_cache = layer_caches.as_mut().map(|c| &mut c[i]);
            let (a, maps) = block.attn.forward(
                block.attn_norm.forward(h.clone()),
                &self.rope,
                &mask,
                layer_cache,
                keep_internals,
            );
            h = block.finish(h, a);
            if keep_internals {
                attention.extend(maps);
                hidden.push(h.clone());
            }
        }
        self.head(h, attention, hidden)
    }

    /// Runs `tokens` (`[B, T]`, causal, no cache) with the attention probabilities of layer
    /// `l` replaced by `attention.maps[l]` wherever it is `Some` (`[B, H, T, T]`): the
    /// attention-override path for patching one model's attention patterns into another.
    /// Given the model's own maps it reproduces [`forward`](Self::forward). Returns the
    /// logits and, when `keep_internals`, the maps actually used and the hidden states.
    ///
    /// # Panics
    /// If `attention` names more layers than the model has.
    pub fn forward_with_attention(
        &self,
        tokens: Tensor<2, Int>,
        attention: &AttentionOverride,
        keep_internals: bool,
    ) -> DecoderOutput {
        assert!(
            attention.maps.len() <= self.blocks.len(),
            "an attention override for {} layers, but the model has {}",
            attention.maps.len(),
            self.blocks.len()
        );
        let [b, t] = tokens.dims();
        let mask = AttentionMask::causal(b, t, 0, &tokens.device());
        let mut h = self.embedding.forward(tokens);
        let (mut used, mut hidden) = (Vec::new(), Vec::new());
        for (i, block) in self.blocks.iter().enumerate() {
            let x = block.attn_norm.forward(h.clone());
            let (a, maps) = match attention.maps.get(i).cloned().flatten() {
                Some(probs) => (
                    block.attn.forward_with_probs(x, probs.clone()),
                    keep_internals.then_some(probs),
                ),
                None => block
                    .attn
                    .forward(x, &self.rope, &mask, None, keep_internals),
            };
            h = block.finish(h, a);
            if keep_internals {
                used.extend(maps);
                hidden.push(h.clone());
            }
        }
        self.head(h, used, hidden)
    }

    /// The final norm and the output projection.
    fn head(
        &self,
        h: Tensor<3>,
        attention: Vec<Tensor<4>>,
        hidden: Vec<Tensor<3>>,
    ) -> DecoderOutput {
        let h = self.norm.forward(h);
        let logits = match &self.lm_head {
            Some(head) => head.forward(h),
            None => h.matmul(
                self.embedding
                    .weight
                    .val()
                    .transpose()
                    .unsqueeze_dim::<3>(0),
            ),
        };
        DecoderOutput {
            logits,
            attention,
            hidden,
        }
    }

    /// Continues `prompt` by `max_new` tokens, one at a time, with the key/value cache
    /// (`use_cache`) or by re-running the whole sequence each step.
    ///
    /// # Panics
    /// If the prompt is empty or the result would exceed the model's `max_len`.
    pub fn generate(
        &self,
        prompt: &[u32],
        max_new: usize,
        sampling: Sampling,
        use_cache: bool,
        device: &Device,
    ) -> Vec<u32> {
        assert!(
            !prompt.is_empty(),
            "generation needs a prompt of at least one token"
        );
        assert!(
            prompt.len() + max_new <= self.rope.max_len(),
            "sequence longer than max_len"
        );
        let mut rng = match sampling {
            Sampling::Temperature { seed, .. } => SeededRng::new(seed),
            Sampling::Greedy => SeededRng::new(0),
        };
        let to_tensor = |ids: &[u32]| {
            let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
            let n = ids.len();
            Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), device)
        };
        let mut tokens = prompt.to_vec();
        let mut cache = DecoderCache::default();
        for _ in 0..max_new {
            let logits = if use_cache {
                let new = if cache.is_empty() {
                    &tokens[..]
                } else {
                    &tokens[tokens.len() - 1..]
                };
                self.forward(to_tensor(new), None, Some(&mut cache), false)
                    .logits
            } else {
                self.forward(to_tensor(&tokens), None, None, false).logits
            };
            let [_, t, v] = logits.dims();
            let last = crate::host_values(logits.slice(s![0..1, t - 1..t, ..]).reshape([v]));
            tokens.push(choose(&last, sampling, &mut rng));
        }
        tokens
    }
}

/// The next token from one row of logits.
fn choose(logits: &[f32], sampling: Sampling, rng: &mut SeededRng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32)
    };
    match sampling {
        Sampling::Greedy => argmax(),
        Sampling::Temperature { temperature, .. } => {
            let max = logits.iter().copied().fold(f32::MIN, f32::max);
            let weights: Vec<f64> = logits
                .iter()
                .map(|&l| ((f64::from(l) - f64::from(max)) / temperature).exp())
                .collect();
            let total: f64 = weights.iter().sum();
            let mut u = rng.next_f64() * total;
            for (i, w) in weights.iter().enumerate() {
                u -= w;
                if u <= 0.0 {
                    return i as u32;
                }
            }
            argmax()
        }
    }
}

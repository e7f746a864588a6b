//! The decoder of [`crate::nn::Decoder`] as an inference engine on host memory.
//!
//! Same equations (`h_0 = E[x]`; per layer `h ← h + Attn(RMSNorm(h))`,
//! `h ← h + W_down(silu(W_gate u) ⊙ W_up u)` with `u = RMSNorm(h)`; `logits = RMSNorm(h) W_outᵀ`),
//! but the weights stay in the file's blocks, `W_Q, W_K, W_V` are one stacked matrix and so are
//! `W_gate, W_up`, and a batch is a list of sequences of any lengths, each with its own cache.
//! The tied output projection reads the embedding table row by row as it is stored: no
//! transpose, ever.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;

use super::LmError;
use super::attention::{Heads, SeqCache, SeqQueries, attend};
use super::kernels::{add_into, matmul, rms_norm, swiglu};
use super::matrix::QuantMatrix;
use crate::gguf::{GgufError, GgufFile, llama_config};
use crate::nn::{Decoder, DecoderConfig, Rope};

/// One layer's weights.
#[derive(Debug, Clone)]
struct Layer {
    attn_norm: Vec<f32>,
    /// `[W_Q; W_K; W_V]`, `(d + 2 · d_kv) × d`.
    qkv: QuantMatrix,
    output: QuantMatrix,
    ffn_norm: Vec<f32>,
    /// `[W_gate; W_up]`, `2f × d`.
    gate_up: QuantMatrix,
    down: QuantMatrix,
}

/// A pretrained (or trained-here) decoder ready for fast generation and scoring.
#[derive(Debug, Clone)]
pub struct LmEngine {
    config: DecoderConfig,
    embedding: QuantMatrix,
    head: Option<QuantMatrix>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    rope: Rope,
}

/// One sequence's part of a batched [`LmEngine::forward`]: new `tokens` after what `cache`
/// holds.
#[derive(Debug)]
pub struct Step<'a> {
    /// The sequence's cache; the new tokens' keys and values are appended to it.
    pub cache: &'a mut SeqCache,
    /// The new tokens (at least one).
    pub tokens: &'a [u32],
}

/// Which positions' logits a forward pass returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// Only each sequence's last new token (generation).
    Last,
    /// Every new token (scoring).
    All,
}

impl LmEngine {
    /// Loads a Llama-architecture GGUF file, keeping F32, F16 (as F32), Q8_0 and Q4_1 weights
    /// in their blocks, for sequences up to `max_len` positions (at most the trained context).
    ///
    /// # Errors
    /// If the file is not a Llama model or a tensor is missing, misshapen or of another type.
    pub fn from_gguf(file: &GgufFile, max_len: usize) -> Result<Self, GgufError> {
        let config = llama_config(file, max_len)?;
        let matrix = |name: &str, rows: usize, cols: usize| -> Result<QuantMatrix, GgufError> {
            let (info, bytes) = file.tensor_data(name)?;
            if info.shape() != [rows, cols] {
                return Err(GgufError::Malformed(format!(
                    "tensor `{name}` has shape {:?}, expected [{rows}, {cols}]",
                    info.shape()
                )));
            }
            QuantMatrix::from_gguf(info.kind, rows, cols, bytes)
                .map_err(|e| GgufError::Malformed(format!("tensor `{name}`: {e}")))
        };
        let vector = |name: &str| file.tensor_f32(name).map(|(values, _)| values);
        let (d, f) = (config.d_model, config.ffn_hidden);
        let kv = config.n_kv_heads * (d / config.n_heads);
        let stacked = |parts: Vec<QuantMatrix>| {
            QuantMatrix::stack_rows(parts).map_err(|e| GgufError::Malformed(e.to_string()))
        };
        let mut layers = Vec::with_capacity(config.n_layers);
        for i in 0..config.n_layers {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            layers.push(Layer {
                attn_norm: vector(&name("attn_norm"))?,
                qkv: stacked(vec![
                    matrix(&name("attn_q"), d, d)?,
                    matrix(&name("attn_k"), kv, d)?,
                    matrix(&name("attn_v"), kv, d)?,
                ])?,
                output: matrix(&name("attn_output"), d, d)?,
                ffn_norm: vector(&name("ffn_norm"))?,
                gate_up: stacked(vec![
                    matrix(&name("ffn_gate"), f, d)?,
                    matrix(&name("ffn_up"), f, d)?,
                ])?,
                down: matrix(&name("ffn_down"), d, f)?,
            });
        }
        let head = if config.tied_embeddings {
            None
        } else {
            Some(matrix("output.weight", config.vocab_size, d)?)
        };
        Ok(Self::assemble(
            matrix("token_embd.weight", config.vocab_size, d)?,
            head,
            layers,
            vector("output_norm.weight")?,
            config,
        ))
    }

    /// The engine of a Burn [`Decoder`] (trained here or loaded with
    /// [`load_llama`](crate::gguf::load_llama)), its weights copied as `f32`.
    pub fn from_decoder(decoder: &Decoder, config: &DecoderConfig) -> Self {
        let host = |p: &Param<Tensor<2>>| crate::host_values(p.val());
        let vector = |p: &Param<Tensor<1>>| crate::host_values(p.val());
        // Burn's `Linear` is `[in, out]`; the engine's rows are outputs.
        let rows_of = |linear: &Linear| {
            let [d_in, d_out] = linear.weight.dims();
            let t = crate::host_values(linear.weight.val().transpose());
            QuantMatrix::from_f32(d_out, d_in, t).expect("a tensor holds its own shape")
        };
        let stack = |parts: Vec<QuantMatrix>| {
            QuantMatrix::stack_rows(parts).expect("a layer's projections share their input width")
        };
        let layers = decoder
            .blocks
            .iter()
            .map(|b| Layer {
                attn_norm: vector(&b.attn_norm.gamma),
                qkv: stack(vec![
                    rows_of(&b.attn.query),
                    rows_of(&b.attn.key),
                    rows_of(&b.attn.value),
                ]),
                output: rows_of(&b.attn.output),
                ffn_norm: vector(&b.mlp_norm.gamma),
                gate_up: stack(vec![rows_of(&b.mlp.gate), rows_of(&b.mlp.up)]),
                down: rows_of(&b.mlp.down),
            })
            .collect();
        let embedding = QuantMatrix::from_f32(
            config.vocab_size,
            config.d_model,
            host(&decoder.embedding.weight),
        )
        .expect("the embedding is vocab × d");
        Self::assemble(
            embedding,
            decoder.lm_head.as_ref().map(rows_of),
            layers,
            vector(&decoder.norm.gamma),
            config.clone(),
        )
    }

    fn assemble(
        embedding: QuantMatrix,
        head: Option<QuantMatrix>,
        layers: Vec<Layer>,
        norm: Vec<f32>,
        config: DecoderConfig,
    ) -> Self {
        let rope = Rope::new(
            config.d_model / config.n_heads,
            config.max_len,
            config.rope_base,
            config.rope_layout,
        );
        Self {
            config,
            embedding,
            head,
            layers,
            norm,
            rope,
        }
    }

    /// The model's shape.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Bytes the weights take in memory.
    pub fn weight_bytes(&self) -> usize {
        let layer = |l: &Layer| {
            l.qkv.byte_size()
                + l.output.byte_size()
                + l.gate_up.byte_size()
                + l.down.byte_size()
                + 4 * (l.attn_norm.len() + l.ffn_norm.len())
        };
        self.embedding.byte_size()
            + self.head.as_ref().map_or(0, QuantMatrix::byte_size)
            + self.layers.iter().map(layer).sum::<usize>()
    }

    /// Runs the new tokens of every step through the model in one batched pass, appending
    /// their keys and values to each step's cache, and returns logits per step: one row of
    /// `vocab` values ([`Positions::Last`]) or one per new token ([`Positions::All`]), rows
    /// one after another.
    ///
    /// # Errors
    /// If a step has no tokens, a token is outside the vocabulary or a sequence would pass
    /// the engine's `max_len`; nothing is computed or cached then.
    pub fn forward(
        &self,
        steps: &mut [Step<'_>],
        positions: Positions,
    ) -> Result<Vec<Vec<f32>>, LmError> {
        self.check(steps)?;
        let (d, eps) = (self.config.d_model, self.config.norm_eps as f32);
        let tokens: Vec<u32> = steps
            .iter()
            .flat_map(|s| s.tokens.iter().copied())
            .collect();
        let mut h = vec![0.0; tokens.len() * d];
        for (row, &token) in h.chunks_exact_mut(d).zip(&tokens) {
            self.embedding.dequantize_rows(token as usize, row);
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let attended = self.attention(l, layer, &rms_norm(&h, &layer.attn_norm, eps), steps);
            add_into(&mut h, &matmul(&layer.output, &attended, tokens.len()));
            let u = rms_norm(&h, &layer.ffn_norm, eps);
            let gate_up = matmul(&layer.gate_up, &u, tokens.len());
            let f = self.config.ffn_hidden;
            add_into(
                &mut h,
                &matmul(&layer.down, &swiglu(&gate_up, f), tokens.len()),
            );
        }
        for step in steps.iter_mut() {
            step.cache.advance(step.tokens.len());
        }
        Ok(self.logits(&h, steps, positions))
    }

    fn check(&self, steps: &[Step<'_>]) -> Result<(), LmError> {
        for (i, step) in steps.iter().enumerate() {
            if step.tokens.is_empty() {
                return Err(LmError::EmptySequence { sequence: i });
            }
            if let Some(&token) = step
                .tokens
                .iter()
                .find(|&&t| t as usize >= self.config.vocab_size)
            {
                return Err(LmError::TokenOutOfRange {
                    token,
                    vocab: self.config.vocab_size,
                });
            }
            let end = step.cache.len() + step.tokens.len();
            if end > self.config.max_len {
                return Err(LmError::TooLong {
                    sequence: i,
                    length: end,
                    max_len: self.config.max_len,
                });
            }
        }
        Ok(())
    }

    /// Self-attention of layer `l` for the normed inputs `x` of every step.
    fn attention(&self, l: usize, layer: &Layer, x: &[f32], steps: &mut [Step<'_>]) -> Vec<f32> {
        let c = &self.config;
        let head_dim = c.d_model / c.n_heads;
        let (d, kv) = (c.d_model, c.n_kv_heads * head_dim);
        let n: usize = steps.iter().map(|s| s.tokens.len()).sum();
        let mut qkv = matmul(&layer.qkv, x, n);
        let mut queries = Vec::with_capacity(n * d);
        let mut row = 0;
        for step in steps.iter_mut() {
            let (mut keys, mut values) = (Vec::new(), Vec::new());
            for i in 0..step.tokens.len() {
                let position = step.cache.len() + i;
                let token = &mut qkv[row * (d + 2 * kv)..(row + 1) * (d + 2 * kv)];
                let (q, rest) = token.split_at_mut(d);
                let (k, v) = rest.split_at_mut(kv);
                self.rope.rotate_host(q, position);
                self.rope.rotate_host(k, position);
                queries.extend_from_slice(q);
                keys.extend_from_slice(k);
                values.extend_from_slice(v);
                row += 1;
            }
            step.cache.append(l, &keys, &values);
        }
        let mut first = 0;
        let seqs: Vec<SeqQueries<'_>> = steps
            .iter()
            .map(|s| {
                let rows = first..first + s.tokens.len();
                first = rows.end;
                SeqQueries {
                    cache: s.cache,
                    rows,
                    start: s.cache.len(),
                }
            })
            .collect();
        let heads = Heads {
            n_heads: c.n_heads,
            n_kv_heads: c.n_kv_heads,
            head_dim,
        };
        attend(heads, l, &queries, &seqs)
    }

    /// The final norm and the output projection for the asked-for positions.
    fn logits(&self, h: &[f32], steps: &[Step<'_>], positions: Positions) -> Vec<Vec<f32>> {
        let d = self.config.d_model;
        let mut picked = Vec::new();
        let mut counts = Vec::with_capacity(steps.len());
        let mut first = 0;
        for step in steps {
            let rows = match positions {
                Positions::Last => first + step.tokens.len() - 1..first + step.tokens.len(),
                Positions::All => first..first + step.tokens.len(),
            };
            counts.push(rows.len());
            picked.extend_from_slice(&h[rows.start * d..rows.end * d]);
            first += step.tokens.len();
        }
        let normed = rms_norm(&picked, &self.norm, self.config.norm_eps as f32);
        let head = self.head.as_ref().unwrap_or(&self.embedding);
        let all = matmul(head, &normed, picked.len() / d);
        let vocab = self.config.vocab_size;
        let mut out = Vec::with_capacity(steps.len());
        let mut start = 0;
        for count in counts {
            out.push(all[start * vocab..(start + count) * vocab].to_vec());
            start += count;
        }
        out
    }
}

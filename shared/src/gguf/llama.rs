//! A Llama-architecture GGUF file (SmolLM2, TinyLlama, Llama 2/3) loaded into the shared
//! [`Decoder`].
//!
//! Names and layouts, as llama.cpp's converter writes them:
//! - `token_embd.weight` `[vocab, d]`; `output.weight` only when the head is not tied;
//! - per block `blk.{i}.`: `attn_norm`, `attn_q`, `attn_k`, `attn_v`, `attn_output`,
//!   `ffn_norm`, `ffn_gate`, `ffn_up`, `ffn_down`; then `output_norm`;
//! - linear weights are `[out, in]` row-major (PyTorch's layout); Burn's `Linear` holds
//!   `[in, out]`, so each is transposed;
//! - the converter permutes the rows of `W_Q` and `W_K` so that RoPE rotates *adjacent*
//!   feature pairs: the decoder uses [`RopeLayout::Adjacent`].

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;

use super::{GgufError, GgufFile};
use crate::nn::{Decoder, DecoderConfig, RopeLayout};

/// The decoder configuration a Llama GGUF file describes, for sequences up to `max_len` (at
/// most the model's trained context).
///
/// # Errors
/// If the architecture is not `llama` or a size is missing.
pub fn llama_config(file: &GgufFile, max_len: usize) -> Result<DecoderConfig, GgufError> {
    let arch = file.meta_str("general.architecture")?;
    if arch != "llama" {
        return Err(GgufError::Malformed(format!(
            "architecture `{arch}` is not `llama`, the one this loader knows"
        )));
    }
    let size = |key: &str| file.meta_u64(&format!("llama.{key}")).map(|v| v as usize);
    let context = size("context_length").unwrap_or(max_len);
    let embedding = file.tensor_info("token_embd.weight")?;
    Ok(DecoderConfig {
        vocab_size: embedding.shape()[0],
        d_model: size("embedding_length")?,
        n_layers: size("block_count")?,
        n_heads: size("attention.head_count")?,
        n_kv_heads: size("attention.head_count_kv").or_else(|_| size("attention.head_count"))?,
        ffn_hidden: size("feed_forward_length")?,
        max_len: max_len.min(context),
        rope_base: file.meta_f64("llama.rope.freq_base").unwrap_or(10_000.0),
        rope_layout: RopeLayout::Adjacent,
        norm_eps: file.meta_f64("llama.attention.layer_norm_rms_epsilon")?,
        tied_embeddings: file.tensor_info("output.weight").is_err(),
    })
}

/// Loads the model of a Llama GGUF file into a [`Decoder`] on `device`, dequantising every
/// weight to `f32`.
///
/// # Errors
/// If the file is not a Llama model, a tensor is missing, has an unexpected shape, or is of a
/// type without a dequantiser.
pub fn load_llama(
    file: &GgufFile,
    max_len: usize,
    device: &Device,
) -> Result<(Decoder, DecoderConfig), GgufError> {
    let config = llama_config(file, max_len)?;
    let mut model = config.init(device);
    let tensor = |name: &str, expected: &[usize]| -> Result<Tensor<2>, GgufError> {
        let (values, shape) = file.tensor_f32(name)?;
        if shape != expected {
            return Err(GgufError::Malformed(format!(
                "tensor `{name}` has shape {shape:?}, expected {expected:?}"
            )));
        }
        let (rows, cols) = (shape[0], shape.get(1).copied().unwrap_or(1));
        Ok(Tensor::from_data(
            TensorData::new(values, [rows, cols]),
            device,
        ))
    };
    let vector = |name: &str, len: usize| -> Result<Param<Tensor<1>>, GgufError> {
        Ok(Param::from_tensor(tensor(name, &[len])?.reshape([len])))
    };
    // `[out, in]` in the file, `[in, out]` in Burn.
    let linear = |name: &str, d_in: usize, d_out: usize| -> Result<Linear, GgufError> {
        Ok(Linear {
            weight: Param::from_tensor(tensor(name, &[d_out, d_in])?.transpose()),
            bias: None,
        })
    };
    let (d, ffn) = (config.d_model, config.ffn_hidden);
    let head_dim = d / config.n_heads;
    let kv = config.n_kv_heads * head_dim;
    model.embedding.weight =
        Param::from_tensor(tensor("token_embd.weight", &[config.vocab_size, d])?);
    for (i, block) in model.blocks.iter_mut().enumerate() {
        let name = |part: &str| format!("blk.{i}.{part}.weight");
        block.attn_norm.gamma = vector(&name("attn_norm"), d)?;
        block.attn.query = linear(&name("attn_q"), d, d)?;
        block.attn.key = linear(&name("attn_k"), d, kv)?;
        block.attn.value = linear(&name("attn_v"), d, kv)?;
        block.attn.output = linear(&name("attn_output"), d, d)?;
        block.mlp_norm.gamma = vector(&name("ffn_norm"), d)?;
        block.mlp.gate = linear(&name("ffn_gate"), d, ffn)?;
        block.mlp.up = linear(&name("ffn_up"), d, ffn)?;
        block.mlp.down = linear(&name("ffn_down"), ffn, d)?;
    }
    model.norm.gamma = vector("output_norm.weight", d)?;
    if !config.tied_embeddings {
        model.lm_head = Some(linear("output.weight", d, config.vocab_size)?);
    }
    Ok((model, config))
}

//! The released checkpoint format: an `.npz` archive whose keys are the `/`-joined flax
//! parameter paths of the JAX model (`tokenizer/…`, `encoder/…`, `decoder/…`), as the released
//! `utils.load_ckpt` reads them.
//!
//! One table, [`flax_slots`], pairs every flax key with one of our parameters and says how the
//! two layouts differ; [`load_flax_npz`] reads through it and [`save_flax_npz`] writes through
//! it, so the two directions cannot drift apart. The differences:
//!
//! | flax | ours |
//! |---|---|
//! | `tokenizer/embedding/kernel` `[1, ph, pw, C, D]` (a 3-D conv) | patch `Linear` `[ph·pw·C, D]`, same flattening |
//! | `tokenizer/pos_embedding` `[1, N, D]`, `tokenizer/cls` `[1, 1, D]` | `[N, D]`, `[D]` |
//! | `temporal_pre_norm/scale` `s` (RMSNorm gain `1 + s`) | the gain itself |
//! | `rg_lru/{input_gate,a_gate}/b` `[H, W/H]` | `[W]` |
//! | `rg_lru/a_param`, `rg_lru/a_imag_param` | `Λ`, `θ` |
//! | attention `query/key/value/kernel` `[D, H, D/H]`, biases `[H, D/H]` | `[D, D]`, `[D]` (heads outer) |
//! | attention `out/kernel` `[H, D/H, D]` | `[D, D]` |
//!
//! Dense kernels are `[in, out]` in both, the Conv1D's `w[K−1]` weighs the current frame in
//! both, and LayerNorm's `scale`/`bias` are Burn's `gamma`/`beta` (ε = 1e-6 in both).
//!
//! The table was pinned against checkpoints written by the released JAX code itself
//! (`tests/fixtures/make_flax_tiny.py`); `tests/checkpoint.rs` checks that the loaded model
//! reproduces the JAX model's outputs.

use std::collections::BTreeSet;
use std::path::Path;

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use kiln_core::npz::{NpyArray, Npz, NpzError, write_npz};

use crate::TRecViT;
use crate::config::{HeadConfig, Pool, TRecViTConfig};

/// A checkpoint that does not fit the model, or could not be read. Messages name the key and
/// the file, and say which config would fit.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The archive could not be read or written.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// The config cannot describe a released model.
    #[error("this config cannot hold a released checkpoint: {0}")]
    Config(String),
    /// A parameter of the model is not in the checkpoint.
    #[error(
        "{} has no `{key}`, which this model needs ({count} more are missing); is it a TRecViT \
         checkpoint of the same depth and head?",
        path.display()
    )]
    Missing {
        /// The archive.
        path: std::path::PathBuf,
        /// The first key missing.
        key: String,
        /// How many other keys are missing.
        count: usize,
    },
    /// An array has another shape than the model's parameter.
    #[error(
        "{}: `{key}` has shape {found:?} but this config needs {expected:?}; the released \
         checkpoint needs `TRecViTConfig::base_release()` (or the config `flax_config` reads \
         from the file)",
        path.display()
    )]
    Shape {
        /// The archive.
        path: std::path::PathBuf,
        /// The key.
        key: String,
        /// The shape in the file.
        found: Vec<usize>,
        /// The shape the config gives.
        expected: Vec<usize>,
    },
    /// The checkpoint holds parameters the model has no place for.
    #[error(
        "{} holds {} parameters this model has no place for, e.g. `{}`; the checkpoint is of \
         another configuration (deeper, complex LRU, …)",
        path.display(), keys.len(), keys.first().map_or("", String::as_str)
    )]
    Unexpected {
        /// The archive.
        path: std::path::PathBuf,
        /// The keys left over.
        keys: Vec<String>,
    },
}

/// A parameter of ours, borrowed for reading or replacing.
enum Target<'a> {
    Rank1(&'a mut Param<Tensor<1>>),
    Rank2(&'a mut Param<Tensor<2>>),
    Rank3(&'a mut Param<Tensor<3>>),
}

impl Target<'_> {
    fn dims(&self) -> Vec<usize> {
        match self {
            Target::Rank1(p) => p.dims().to_vec(),
            Target::Rank2(p) => p.dims().to_vec(),
            Target::Rank3(p) => p.dims().to_vec(),
        }
    }

    fn values(&self) -> NpyArray {
        match self {
            Target::Rank1(p) => NpyArray::from_tensor(p.val()),
            Target::Rank2(p) => NpyArray::from_tensor(p.val()),
            Target::Rank3(p) => NpyArray::from_tensor(p.val()),
        }
    }

    /// Replaces the value, keeping the parameter's id. `array` has our shape.
    fn set(&mut self, array: NpyArray, device: &Device) {
        fn put<const D: usize>(param: &mut Param<Tensor<D>>, array: NpyArray, device: &Device) {
            if let Some(tensor) = array.into_tensor::<D>(device) {
                let id = param.id;
                *param = Param::from_tensor(tensor);
                param.id = id;
            }
        }
        match self {
            Target::Rank1(p) => put(p, array, device),
            Target::Rank2(p) => put(p, array, device),
            Target::Rank3(p) => put(p, array, device),
        }
    }
}

/// One row of the table: a flax key, its shape there, and our parameter. Ours holds
/// `flax + offset`, reshaped (C order) to our shape.
struct Slot<'a> {
    key: String,
    flax_shape: Vec<usize>,
    offset: f32,
    target: Target<'a>,
}

/// Builds the table row by row.
struct Table<'a> {
    slots: Vec<Slot<'a>>,
}

impl<'a> Table<'a> {
    /// A parameter stored in the same layout.
    fn same<const D: usize>(&mut self, key: String, param: &'a mut Param<Tensor<D>>)
    where
        Target<'a>: From<&'a mut Param<Tensor<D>>>,
    {
        let target = Target::from(param);
        let flax_shape = target.dims();
        self.slots.push(Slot {
            key,
            flax_shape,
            offset: 0.0,
            target,
        });
    }

    /// A parameter stored under another shape with the same elements in the same order.
    fn reshaped<const D: usize>(
        &mut self,
        key: String,
        flax_shape: Vec<usize>,
        param: &'a mut Param<Tensor<D>>,
    ) where
        Target<'a>: From<&'a mut Param<Tensor<D>>>,
    {
        self.slots.push(Slot {
            key,
            flax_shape,
            offset: 0.0,
            target: Target::from(param),
        });
    }

    /// A flax `nn.Dense` (`kernel [in, out]`, `bias [out]`), or attention's `[D, H, D/H]`
    /// projections when `heads` is given.
    fn dense(&mut self, prefix: &str, linear: &'a mut Linear, heads: Option<usize>) {
        let [d_in, d_out] = linear.weight.dims();
        match heads {
            Some(h) => {
                self.reshaped(
                    format!("{prefix}/kernel"),
                    vec![d_in, h, d_out / h],
                    &mut linear.weight,
                );
                if let Some(bias) = linear.bias.as_mut() {
                    self.reshaped(format!("{prefix}/bias"), vec![h, d_out / h], bias);
                }
            }
            None => {
                self.same(format!("{prefix}/kernel"), &mut linear.weight);
                if let Some(bias) = linear.bias.as_mut() {
                    self.same(format!("{prefix}/bias"), bias);
                }
            }
        }
    }

    /// A flax `nn.LayerNorm` (`scale`, `bias`).
    fn layer_norm(&mut self, prefix: &str, norm: &'a mut LayerNorm) {
        self.same(format!("{prefix}/scale"), &mut norm.gamma);
        if let Some(beta) = norm.beta.as_mut() {
            self.same(format!("{prefix}/bias"), beta);
        }
    }
}

impl<'a> From<&'a mut Param<Tensor<1>>> for Target<'a> {
    fn from(p: &'a mut Param<Tensor<1>>) -> Self {
        Target::Rank1(p)
    }
}
impl<'a> From<&'a mut Param<Tensor<2>>> for Target<'a> {
    fn from(p: &'a mut Param<Tensor<2>>) -> Self {
        Target::Rank2(p)
    }
}
impl<'a> From<&'a mut Param<Tensor<3>>> for Target<'a> {
    fn from(p: &'a mut Param<Tensor<3>>) -> Self {
        Target::Rank3(p)
    }
}

/// Every parameter of `model` with its flax key and layout, in the released module tree's
/// naming: `tokenizer`, then per layer `encoder/residualblock_{ii}` (the temporal block) and
/// `encoder/encoderblock_{i}` (the ViT block), `encoder/encoder_norm`, and `decoder`.
fn flax_slots(model: &mut TRecViT) -> Vec<Slot<'_>> {
    let mut table = Table { slots: Vec::new() };
    let tokenizer = &mut model.tokenizer;
    let [ph, pw] = tokenizer.patch;
    let [patch_len, d] = tokenizer.patch_embed.weight.dims();
    let channels = patch_len / (ph * pw);
    table.reshaped(
        "tokenizer/embedding/kernel".into(),
        vec![1, ph, pw, channels, d],
        &mut tokenizer.patch_embed.weight,
    );
    if let Some(bias) = tokenizer.patch_embed.bias.as_mut() {
        table.same("tokenizer/embedding/bias".into(), bias);
    }
    let n = tokenizer.position.dims()[0];
    table.reshaped(
        "tokenizer/pos_embedding".into(),
        vec![1, n, d],
        &mut tokenizer.position,
    );
    table.reshaped("tokenizer/cls".into(), vec![1, 1, d], &mut tokenizer.cls);

    for (i, layer) in model.layers.iter_mut().enumerate() {
        let temporal = &mut layer.temporal;
        let prefix = format!("encoder/residualblock_{i:02}");
        table.slots.push(Slot {
            key: format!("{prefix}/temporal_pre_norm/scale"),
            flax_shape: temporal.norm.weight.dims().to_vec(),
            offset: 1.0,
            target: Target::Rank1(&mut temporal.norm.weight),
        });
        let block = format!("{prefix}/recurrent_block");
        table.dense(&format!("{block}/linear_y"), &mut temporal.gate, None);
        table.dense(&format!("{block}/linear_x"), &mut temporal.input, None);
        table.dense(&format!("{block}/linear_out"), &mut temporal.output, None);
        if let Some(conv) = temporal.conv.as_mut() {
            table.same(format!("{block}/conv_1d/w"), &mut conv.weight);
            table.same(format!("{block}/conv_1d/b"), &mut conv.bias);
        }
        let lru = &mut temporal.lru;
        let gates = [
            ("input_gate", lru.input_gate.as_mut()),
            ("a_gate", lru.decay_gate.as_mut()),
        ];
        for (name, gate) in gates.into_iter().filter_map(|(n, g)| Some((n, g?))) {
            let [heads, _, size_out] = gate.weight.dims();
            table.same(format!("{block}/rg_lru/{name}/w"), &mut gate.weight);
            table.reshaped(
                format!("{block}/rg_lru/{name}/b"),
                vec![heads, size_out],
                &mut gate.bias,
            );
        }
        table.same(format!("{block}/rg_lru/a_param"), &mut lru.lambda);
        if let Some(theta) = lru.theta.as_mut() {
            table.same(format!("{block}/rg_lru/a_imag_param"), theta);
        }

        let spatial = &mut layer.spatial;
        let prefix = format!("encoder/encoderblock_{i}");
        let heads = spatial.attention.n_heads;
        table.layer_norm(
            &format!("{prefix}/LayerNorm_0"),
            &mut spatial.attention_norm,
        );
        let attention = format!("{prefix}/MultiHeadDotProductAttention_0");
        table.dense(
            &format!("{attention}/query"),
            &mut spatial.attention.query,
            Some(heads),
        );
        table.dense(
            &format!("{attention}/key"),
            &mut spatial.attention.key,
            Some(heads),
        );
        table.dense(
            &format!("{attention}/value"),
            &mut spatial.attention.value,
            Some(heads),
        );
        let out = &mut spatial.attention.output;
        let [d_in, d_out] = out.weight.dims();
        table.reshaped(
            format!("{attention}/out/kernel"),
            vec![heads, d_in / heads, d_out],
            &mut out.weight,
        );
        if let Some(bias) = out.bias.as_mut() {
            table.same(format!("{attention}/out/bias"), bias);
        }
        table.layer_norm(&format!("{prefix}/LayerNorm_1"), &mut spatial.mlp_norm);
        table.dense(
            &format!("{prefix}/MlpBlock_0/Dense_0"),
            &mut spatial.mlp_in,
            None,
        );
        table.dense(
            &format!("{prefix}/MlpBlock_0/Dense_1"),
            &mut spatial.mlp_out,
            None,
        );
    }
    table.layer_norm("encoder/encoder_norm", &mut model.norm);

    if let Some(head) = model.head.as_mut() {
        if let Some(pre_logits) = head.pre_logits.as_mut() {
            table.dense("decoder/pre_logits", pre_logits, None);
        }
        table.dense("decoder/cls_head", &mut head.classifier, None);
    }
    table.slots
}

/// Loads a released-format checkpoint into a model of `config`.
///
/// Every parameter of the model must be in the file with the flax shape the config implies;
/// every `tokenizer/` and `encoder/` array in the file must be used. `decoder/` arrays are
/// read when the config has a head and ignored when it has none (so the encoder of a
/// checkpoint with another decoder, such as the MAE one, loads as a feature extractor).
///
/// The released K400 checkpoint fits `TRecViTConfig::base_release()`; [`flax_config`] reads a
/// fitting config from any file. Only the CLS-pooled model is supported: the released
/// GAP-pooled variant has no CLS token, which ours always has.
pub fn load_flax_npz(
    path: impl AsRef<Path>,
    config: &TRecViTConfig,
    device: &Device,
) -> Result<TRecViT, CheckpointError> {
    let path = path.as_ref();
    if config.pool != Pool::Cls {
        return Err(CheckpointError::Config(
            "only CLS pooling is supported (the released GAP models have no CLS token)".into(),
        ));
    }
    config
        .validate()
        .map_err(|e| CheckpointError::Config(e.0))?;
    let mut npz = Npz::open(path)?;
    let mut model = config
        .init(device)
        .map_err(|e| CheckpointError::Config(e.0))?;
    let mut used = BTreeSet::new();
    let slots = flax_slots(&mut model);
    let missing: Vec<&str> = slots
        .iter()
        .map(|s| s.key.as_str())
        .filter(|k| !npz.contains(k))
        .collect();
    if let Some(first) = missing.first() {
        return Err(CheckpointError::Missing {
            path: path.to_path_buf(),
            key: (*first).to_string(),
            count: missing.len() - 1,
        });
    }
    for mut slot in slots {
        let array = npz.read(&slot.key)?;
        if array.shape() != slot.flax_shape.as_slice() {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                key: slot.key,
                found: array.shape().to_vec(),
                expected: slot.flax_shape,
            });
        }
        let ours = slot.target.dims();
        let values = array.into_values();
        let values = if slot.offset == 0.0 {
            values
        } else {
            values.into_iter().map(|v| v + slot.offset).collect()
        };
        if let Some(array) = NpyArray::new(ours, values) {
            slot.target.set(array, device);
        }
        used.insert(slot.key);
    }
    let reads_decoder = config.head.is_some();
    let unexpected: Vec<String> = npz
        .names()
        .iter()
        .filter(|k| !used.contains(*k) && (reads_decoder || !k.starts_with("decoder/")))
        .cloned()
        .collect();
    if !unexpected.is_empty() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            keys: unexpected,
        });
    }
    Ok(model)
}

/// Writes `model` in the released format, which [`load_flax_npz`] and the released JAX
/// `utils.load_ckpt` read (a model trained here can be evaluated with the JAX code).
pub fn save_flax_npz(model: &TRecViT, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let mut copy = model.clone();
    let arrays: Vec<(String, NpyArray)> = flax_slots(&mut copy)
        .into_iter()
        .filter_map(|slot| {
            let ours = slot.target.values();
            let values = ours.into_values();
            let values = if slot.offset == 0.0 {
                values
            } else {
                values.into_iter().map(|v| v - slot.offset).collect()
            };
            NpyArray::new(slot.flax_shape, values).map(|a| (slot.key, a))
        })
        .collect();
    write_npz(path.as_ref(), arrays.iter().map(|(k, a)| (k.as_str(), a)))?;
    Ok(())
}

/// The config of the model stored in a released-format checkpoint, for frames of
/// `image_size` (the file fixes the number of patches, not the frame's shape).
///
/// Sizes, depth, heads, the LRU's width and kind (real or complex), the Conv1D taps and the
/// head are read from the arrays' shapes. What only matters for fresh weights (the decay
/// radii's range and law) is set to the release's values.
pub fn flax_config(
    path: impl AsRef<Path>,
    image_size: [usize; 2],
) -> Result<TRecViTConfig, CheckpointError> {
    let path = path.as_ref();
    let mut npz = Npz::open(path)?;
    let names = npz.names().to_vec();
    // The shape of `key`, which must have as many axes as `layout` names.
    let mut shape = |key: &str, layout: &str| -> Result<Vec<usize>, CheckpointError> {
        let found = npz.read(key)?.shape().to_vec();
        if found.len() != layout.split(',').count() {
            return Err(CheckpointError::Config(format!(
                "`{key}` in {} has shape {found:?}, expected [{layout}]",
                path.display()
            )));
        }
        Ok(found)
    };
    let kernel_key = "tokenizer/embedding/kernel";
    let kernel = shape(kernel_key, "1, patch_h, patch_w, channels, width")?;
    let [1, ph, pw, channels, width] = kernel[..] else {
        return Err(CheckpointError::Config(format!(
            "`{kernel_key}` in {} has shape {kernel:?}; its first axis (frames per patch) must \
             be 1",
            path.display()
        )));
    };
    let positions = shape("tokenizer/pos_embedding", "1, patches, width")?[1];
    let grid = (image_size[0] / ph.max(1)) * (image_size[1] / pw.max(1));
    if grid != positions {
        return Err(CheckpointError::Config(format!(
            "{} was trained on {positions} patches per frame; {}×{} frames cut into {ph}×{pw} \
             patches give {grid}",
            path.display(),
            image_size[0],
            image_size[1]
        )));
    }
    let depth = (0..)
        .take_while(|i| {
            names
                .iter()
                .any(|k| k.starts_with(&format!("encoder/encoderblock_{i}/")))
        })
        .count();
    let query_key = "encoder/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel";
    let heads = shape(query_key, "width, heads, head_dim")?[1];
    let dense = "in, out";
    let mlp_dim = shape("encoder/encoderblock_0/MlpBlock_0/Dense_0/kernel", dense)?[1];
    let block = "encoder/residualblock_00/recurrent_block";
    let lru_width = shape(&format!("{block}/linear_x/kernel"), dense)?[1];
    // Our ablations (no Conv1D, no gates) are saved without those arrays.
    let conv_key = format!("{block}/conv_1d/w");
    let conv_taps = if names.contains(&conv_key) {
        shape(&conv_key, "taps, lru_width")?[0]
    } else {
        0
    };
    let lru_gates = names.contains(&format!("{block}/rg_lru/a_gate/w"));
    let complex_lru = names.contains(&format!("{block}/rg_lru/a_imag_param"));
    let head = if names.iter().any(|k| k == "decoder/cls_head/kernel") {
        let classes = shape("decoder/cls_head/kernel", dense)?[1];
        let rep_size = names
            .iter()
            .any(|k| k == "decoder/pre_logits/kernel")
            .then(|| shape("decoder/pre_logits/kernel", dense).map(|s| s[1]))
            .transpose()?;
        Some(HeadConfig {
            rep_size,
            num_classes: classes,
        })
    } else {
        None
    };
    let config = TRecViTConfig {
        image_size,
        patch: [ph, pw],
        in_channels: channels,
        width,
        depth,
        heads,
        mlp_dim,
        lru_width,
        complex_lru,
        conv_taps,
        lru_gates,
        head,
        ..TRecViTConfig::base_release()
    };
    config
        .validate()
        .map_err(|e| CheckpointError::Config(e.0))?;
    Ok(config)
}

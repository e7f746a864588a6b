//! The released checkpoint format: an `.npz` archive whose keys are the `/`-joined flax
//! parameter paths of the JAX model (`tokenizer/…`, `encoder/…`, `decoder/…`), as the released
//! `utils.load_ckpt` reads them.
//!
//! One table (`keys::flax_slots`) pairs every flax key with one of our parameters and says how the
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

mod keys;

use std::collections::BTreeSet;
use std::path::Path;

use burn::prelude::*;
use kiln_core::npz::{NpyArray, Npz, NpzError, write_npz};

use keys::flax_slots;

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
    let mut file = Shapes {
        npz: Npz::open(path)?,
        path,
    };
    let names = file.npz.names().to_vec();
    let ([ph, pw], channels, width) = file.tokenizer(image_size)?;
    let depth = (0..)
        .take_while(|i| {
            names
                .iter()
                .any(|k| k.starts_with(&format!("encoder/encoderblock_{i}/")))
        })
        .count();
    let query_key = "encoder/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel";
    let heads = file.shape(query_key, "width, heads, head_dim")?[1];
    let mlp_dim = file.shape("encoder/encoderblock_0/MlpBlock_0/Dense_0/kernel", DENSE)?[1];
    let block = "encoder/residualblock_00/recurrent_block";
    let lru_width = file.shape(&format!("{block}/linear_x/kernel"), DENSE)?[1];
    // Our ablations (no Conv1D, no gates) are saved without those arrays.
    let conv_key = format!("{block}/conv_1d/w");
    let conv_taps = if names.contains(&conv_key) {
        file.shape(&conv_key, "taps, lru_width")?[0]
    } else {
        0
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
        complex_lru: names.contains(&format!("{block}/rg_lru/a_imag_param")),
        conv_taps,
        lru_gates: names.contains(&format!("{block}/rg_lru/a_gate/w")),
        head: file.head(&names)?,
        ..TRecViTConfig::base_release()
    };
    config
        .validate()
        .map_err(|e| CheckpointError::Config(e.0))?;
    Ok(config)
}

/// The layout of a dense kernel.
const DENSE: &str = "in, out";

/// A checkpoint read for the shapes of its arrays.
struct Shapes<'a> {
    npz: Npz,
    path: &'a Path,
}

impl Shapes<'_> {
    /// The shape of `key`, which must have as many axes as `layout` names.
    fn shape(&mut self, key: &str, layout: &str) -> Result<Vec<usize>, CheckpointError> {
        let found = self.npz.read(key)?.shape().to_vec();
        if found.len() != layout.split(',').count() {
            return Err(CheckpointError::Config(format!(
                "`{key}` in {} has shape {found:?}, expected [{layout}]",
                self.path.display()
            )));
        }
        Ok(found)
    }

    /// The patch size, channels and width, checked against frames of `image_size`.
    fn tokenizer(
        &mut self,
        image_size: [usize; 2],
    ) -> Result<([usize; 2], usize, usize), CheckpointError> {
        let kernel_key = "tokenizer/embedding/kernel";
        let kernel = self.shape(kernel_key, "1, patch_h, patch_w, channels, width")?;
        let [1, ph, pw, channels, width] = kernel[..] else {
            return Err(CheckpointError::Config(format!(
                "`{kernel_key}` in {} has shape {kernel:?}; its first axis (frames per patch) \
                 must be 1",
                self.path.display()
            )));
        };
        let positions = self.shape("tokenizer/pos_embedding", "1, patches, width")?[1];
        let grid = (image_size[0] / ph.max(1)) * (image_size[1] / pw.max(1));
        if grid != positions {
            return Err(CheckpointError::Config(format!(
                "{} was trained on {positions} patches per frame; {}×{} frames cut into \
                 {ph}×{pw} patches give {grid}",
                self.path.display(),
                image_size[0],
                image_size[1]
            )));
        }
        Ok(([ph, pw], channels, width))
    }

    /// The classification head, if the file has one.
    fn head(&mut self, names: &[String]) -> Result<Option<HeadConfig>, CheckpointError> {
        if !names.iter().any(|k| k == "decoder/cls_head/kernel") {
            return Ok(None);
        }
        let classes = self.shape("decoder/cls_head/kernel", DENSE)?[1];
        let rep_size = names
            .iter()
            .any(|k| k == "decoder/pre_logits/kernel")
            .then(|| self.shape("decoder/pre_logits/kernel", DENSE).map(|s| s[1]))
            .transpose()?;
        Ok(Some(HeadConfig {
            rep_size,
            num_classes: classes,
        }))
    }
}

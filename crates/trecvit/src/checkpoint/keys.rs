//! The key table of the released checkpoints: every flax key beside the parameter of ours it
//! fills, and how the two layouts differ.

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use kiln_core::npz::NpyArray;

use crate::{RecurrentBlock, TRecViT, Tokenizer, VitBlock};

/// A parameter of ours, borrowed for reading or replacing.
pub(super) enum Target<'a> {
    Rank1(&'a mut Param<Tensor<1>>),
    Rank2(&'a mut Param<Tensor<2>>),
    Rank3(&'a mut Param<Tensor<3>>),
}

impl Target<'_> {
    pub(super) fn dims(&self) -> Vec<usize> {
        match self {
            Target::Rank1(p) => p.dims().to_vec(),
            Target::Rank2(p) => p.dims().to_vec(),
            Target::Rank3(p) => p.dims().to_vec(),
        }
    }

    pub(super) fn values(&self) -> NpyArray {
        match self {
            Target::Rank1(p) => NpyArray::from_tensor(p.val()),
            Target::Rank2(p) => NpyArray::from_tensor(p.val()),
            Target::Rank3(p) => NpyArray::from_tensor(p.val()),
        }
    }

    /// Replaces the value, keeping the parameter's id. `array` has our shape.
    pub(super) fn set(&mut self, array: NpyArray, device: &Device) {
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
pub(super) struct Slot<'a> {
    /// The flax key.
    pub(super) key: String,
    /// Its shape in the file.
    pub(super) flax_shape: Vec<usize>,
    /// What ours adds to the stored value (1 for the `1 + s` RMSNorm gain).
    pub(super) offset: f32,
    /// Our parameter.
    pub(super) target: Target<'a>,
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
pub(super) fn flax_slots(model: &mut TRecViT) -> Vec<Slot<'_>> {
    let mut table = Table { slots: Vec::new() };
    tokenizer_slots(&mut table, &mut model.tokenizer);
    for (i, layer) in model.layers.iter_mut().enumerate() {
        temporal_slots(
            &mut table,
            &format!("encoder/residualblock_{i:02}"),
            &mut layer.temporal,
        );
        spatial_slots(
            &mut table,
            &format!("encoder/encoderblock_{i}"),
            &mut layer.spatial,
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

/// The patch embedding, position embeddings and CLS token.
fn tokenizer_slots<'a>(table: &mut Table<'a>, tokenizer: &'a mut Tokenizer) {
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
}

/// Griffin's recurrent block: its norm, the three projections, the Conv1D and the RG-LRU.
fn temporal_slots<'a>(table: &mut Table<'a>, prefix: &str, temporal: &'a mut RecurrentBlock) {
    table.slots.push(Slot {
        key: format!("{prefix}/temporal_pre_norm/scale"),
        flax_shape: temporal.norm.gamma.dims().to_vec(),
        offset: 1.0,
        target: Target::Rank1(&mut temporal.norm.gamma),
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
}

/// The ViT block: two LayerNorms, multi-head attention and the MLP.
fn spatial_slots<'a>(table: &mut Table<'a>, prefix: &str, spatial: &'a mut VitBlock) {
    let heads = spatial.attention.n_heads;
    table.layer_norm(
        &format!("{prefix}/LayerNorm_0"),
        &mut spatial.attention_norm,
    );
    let attention = format!("{prefix}/MultiHeadDotProductAttention_0");
    for (name, dense) in [
        ("query", &mut spatial.attention.query),
        ("key", &mut spatial.attention.key),
        ("value", &mut spatial.attention.value),
    ] {
        table.dense(&format!("{attention}/{name}"), dense, Some(heads));
    }
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

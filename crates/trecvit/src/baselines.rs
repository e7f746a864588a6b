//! The two models TRecViT is compared with in the reproduction, built from the same tokenizer,
//! ViT blocks and head:
//!
//! - [`FrameVit`]: no temporal mixing at all. Each frame is encoded alone and the head averages
//!   the frames' features, so the order of frames cannot matter: on a task whose label is in
//!   the motion it must stay at chance.
//! - [`JointAttention`]: every token of every frame attends to every other, with a learned
//!   temporal position embedding (ViViT's unfactorised "spatio-temporal attention" model, its
//!   Model 1). It sees everything, at a cost quadratic in the number of frames.

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use kiln_core::nn::{VitBlock, VitBlockConfig};

use crate::{Head, Pool, TRecViTConfig, Tokenizer, pool_frames};

/// What both baselines run after their tokens: ViT blocks, a final LayerNorm and the head.
#[derive(Module, Debug)]
pub struct Trunk {
    /// ViT blocks.
    pub layers: Vec<VitBlock>,
    /// LayerNorm after the last block.
    pub norm: LayerNorm,
    /// The classification head.
    pub head: Head,
    #[module(skip)]
    pool: Pool,
}

impl Trunk {
    /// `config`'s ViT sizes and head.
    ///
    /// # Panics
    /// If `config` has no head.
    fn new(config: &TRecViTConfig, device: &Device) -> Self {
        let block = VitBlockConfig {
            d_model: config.width,
            heads: config.heads,
            mlp_dim: config.mlp_dim,
        };
        let head = config
            .head
            .expect("the baselines classify: give the config a head");
        Self {
            layers: (0..config.depth).map(|_| block.init(device)).collect(),
            norm: LayerNormConfig::new(config.width)
                .with_epsilon(1e-6)
                .init(device),
            head: head.init(config.width, device),
            pool: config.pool,
        }
    }

    /// Runs the blocks over `x` (sequences of tokens, `[S, L, D]`, holding the `[B, T, N + 1, D]`
    /// tokens of `clip`), then classifies each clip from its pooled frames.
    fn classify(&self, mut x: Tensor<3>, clip: [usize; 4]) -> Tensor<2> {
        for layer in &self.layers {
            x = layer.forward(x);
        }
        let x = self.norm.forward(x).reshape(clip);
        self.head.clip_logits(pool_frames(x, self.pool))
    }
}

/// A ViT applied to each frame alone; the head averages over frames.
#[derive(Module, Debug)]
pub struct FrameVit {
    /// Frames to tokens.
    pub tokenizer: Tokenizer,
    /// Blocks, norm and head.
    pub trunk: Trunk,
}

impl FrameVit {
    /// The frame model with `config`'s tokenizer, ViT sizes and head (its temporal settings
    /// are unused).
    ///
    /// # Panics
    /// If `config` has no head.
    pub fn new(config: &TRecViTConfig, device: &Device) -> Self {
        let model = Self {
            tokenizer: config.tokenizer(device),
            trunk: Trunk::new(config, device),
        };
        kiln_core::train::materialize(&model);
        model
    }

    /// Class logits `[B, classes]` of clips `[B, T, H, W, C]`.
    pub fn forward(&self, video: Tensor<5>) -> Tensor<2> {
        let tokens = self.tokenizer.clip(video);
        let [b, t, n, d] = tokens.dims();
        // Each frame is its own sequence.
        self.trunk
            .classify(tokens.reshape([b * t, n, d]), [b, t, n, d])
    }
}

/// Joint space-time attention over all tokens of a clip.
#[derive(Module, Debug)]
pub struct JointAttention {
    /// Frames to tokens.
    pub tokenizer: Tokenizer,
    /// Learned temporal position embedding, `[max_frames, D]`.
    pub time: Param<Tensor<2>>,
    /// Blocks over all `T·(N + 1)` tokens, norm and head.
    pub trunk: Trunk,
}

impl JointAttention {
    /// The joint model with `config`'s tokenizer, ViT sizes and head, for clips of up to
    /// `max_frames` frames.
    ///
    /// # Panics
    /// If `config` has no head.
    pub fn new(config: &TRecViTConfig, max_frames: usize, device: &Device) -> Self {
        let d = config.width;
        let model = Self {
            tokenizer: config.tokenizer(device),
            time: Param::from_tensor(Tensor::random(
                [max_frames, d],
                Distribution::Normal(0.0, 1.0 / (d as f64).sqrt()),
                device,
            )),
            trunk: Trunk::new(config, device),
        };
        kiln_core::train::materialize(&model);
        model
    }

    /// Class logits `[B, classes]` of clips `[B, T, H, W, C]` (`T ≤ max_frames`).
    ///
    /// # Panics
    /// If the clip is longer than `max_frames`.
    pub fn forward(&self, video: Tensor<5>) -> Tensor<2> {
        let tokens = self.tokenizer.clip(video);
        let [b, t, n, d] = tokens.dims();
        let max_frames = self.time.dims()[0];
        assert!(
            t <= max_frames,
            "a clip of {t} frames; this model takes at most {max_frames}"
        );
        let time = self.time.val().slice(s![0..t, ..]).reshape([1, t, 1, d]);
        // The whole clip is one sequence.
        self.trunk
            .classify((tokens + time).reshape([b, t * n, d]), [b, t, n, d])
    }
}

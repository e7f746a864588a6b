//! # kiln-trecvit: TRecViT, a recurrent video transformer
//!
//! Pătrăucean, He, Heyward, Zhang, Sajjadi, Muraru, Zholus, Karami, Goroshin, Chen, Osindero,
//! Carreira, Pascanu (2024), *TRecViT: A Recurrent Video Transformer*, arXiv 2412.14294.
//!
//! A video is factorised into time, space and channels (§3, Fig. 1). Every frame is cut into
//! patches; each layer then
//!
//! 1. mixes every patch position's tokens **over time** with a gated linear recurrent unit
//!    (the temporal block, [`RecurrentBlock`]): parameters are shared over space and the
//!    positions do not mix;
//! 2. mixes the tokens **of each frame** and their channels with a ViT block ([`VitBlock`]).
//!
//! Because the only thing carried across time is each position's recurrent state, the model is
//! causal and runs frame by frame with a state whose size does not depend on the length of the
//! video ([`TRecViT::step`]); [`TRecViT::forward`] runs a whole clip at once and gives the same
//! numbers.
//!
//! The temporal block is Griffin's recurrent block (`x̂ = RMSNorm(x)`, a GeLU gate branch
//! `y = GeLU(W_y x̂)`, a recurrent branch `u = RG-LRU(Conv1D(W_u x̂))`, `out = x + W_o (u ⊙ y)`),
//! and its RG-LRU is, as §3.1 writes it, for every patch position's token sequence `u_t`:
//!
//! ```text
//! g_x = σ(W_x u_t + b_x)                       input gate          (Eq. 1)
//! g_a = σ(W_a u_t + b_a)                       recurrence gate     (Eq. 2)
//! a_t = exp(−c · g_a · softplus(Λ))            decay, = r^(c·g_a)  (Eq. 3, c = 8)
//! h_t = a_t ⊙ h_{t−1} + √(1 − a_t²) ⊙ (g_x ⊙ u_t)                  (Eq. 4)
//! ```
//!
//! with the decay radii `r` initialised in `[λ_min, λ_max] = [0.6, 0.999]` (§3.1; Griffin uses
//! `[0.9, 0.999]`). These layers are computed in `kiln_core::nn` ([`RecurrentBlock`], with the
//! RG-LRU's three scans and the causal Conv1D), which other sequence models share. The
//! mini-ablations of Table 1 switch them off one at a time: `conv_taps: 0` drops the Conv1D, and
//! `lru_gates: false` drops both gates (`g_x = 1`, `a_t = r`).
//!
//! The released JAX checkpoints load through `checkpoint::load_flax_npz` (feature `npz`), and
//! [`TRecViT::classify_clips`] classifies a long video as the released wrapper does: clips of a
//! fixed length, each from a fresh state, their predictions averaged.
//!
//! ```
//! use burn::prelude::*;
//! use kiln_trecvit::{TRecViTConfig, StreamState};
//!
//! let device = Device::default();
//! let model = TRecViTConfig::tiny(4).init(&device)?;
//! let video = Tensor::<5>::zeros([2, 6, 32, 32, 1], &device); // [B, T, H, W, C]
//! let out = model.forward(video.clone());
//! assert_eq!(out.tokens.dims(), [2, 6, 17, 64]);              // 16 patches + CLS per frame
//!
//! // The same clip one frame at a time:
//! let mut state = StreamState::default();
//! for t in 0..6 {
//!     let frame = video.clone().slice(s![.., t..t + 1]).squeeze_dim::<4>(1);
//!     let (_tokens, next) = model.step(frame, state);
//!     state = next;
//! }
//! let logits = model.stream_logits(&state).expect("a head and six frames");
//! assert_eq!(logits.dims(), [2, 4]);
//! # Ok::<(), kiln_core::InvalidConfig>(())
//! ```

pub mod baselines;
#[cfg(feature = "npz")]
pub mod checkpoint;
pub mod config;
pub mod cost;
pub mod data;
#[cfg(feature = "reproduce")]
pub mod experiment;

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::softmax;
pub use kiln_core::nn::{
    RecurrentBlock, RecurrentBlockConfig, RecurrentState, VitBlock, VitBlockConfig,
};

#[cfg(feature = "npz")]
pub use checkpoint::{CheckpointError, flax_config, load_flax_npz, save_flax_npz};
pub use config::{HeadConfig, Pool, TRecViTConfig};
use kiln_core::InvalidConfig;

/// A video that [`TRecViT::classify_clips`] cannot cut into clips.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VideoError {
    /// `T = 0`.
    #[error("the video has no frames")]
    Empty,
    /// The clips would differ in length.
    #[error(
        "{frames} frames cannot be cut into {clips} clips of equal length ({frames_per_clip} frames per clip); trim the video to {} frames",
        clips * (frames / clips)
    )]
    Uneven {
        /// Frames of the video.
        frames: usize,
        /// Clips it would be cut into.
        clips: usize,
        /// Frames per clip asked for.
        frames_per_clip: usize,
    },
}

impl TRecViTConfig {
    /// A model with fresh weights.
    ///
    /// # Errors
    /// If the config is invalid ([`TRecViTConfig::validate`] says why).
    pub fn init(&self, device: &Device) -> Result<TRecViT, InvalidConfig> {
        self.validate()?;
        let d = self.width;
        let temporal = RecurrentBlockConfig {
            d_model: d,
            lru: self.lru(),
            conv_taps: self.conv_taps,
            depth: self.depth,
        };
        let spatial = VitBlockConfig {
            d_model: d,
            heads: self.heads,
            mlp_dim: self.mlp_dim,
        };
        let layers = (0..self.depth)
            .map(|_| Layer {
                temporal: temporal.init(device),
                spatial: spatial.init(device),
            })
            .collect();
        let head = self.head.map(|h| h.init(d, device));
        let model = TRecViT {
            tokenizer: self.tokenizer(device),
            layers,
            norm: LayerNormConfig::new(d).with_epsilon(1e-6).init(device),
            head,
            pool: self.pool,
        };
        // Weights depend on the seed alone, not on when they are first used.
        kiln_core::train::materialize(&model);
        Ok(model)
    }
}

impl TRecViTConfig {
    /// The patch tokenizer of this config, with fresh weights.
    pub fn tokenizer(&self, device: &Device) -> Tokenizer {
        let d = self.width;
        Tokenizer {
            patch_embed: LinearConfig::new(self.patch[0] * self.patch[1] * self.in_channels, d)
                .init(device),
            position: Param::from_tensor(Tensor::random(
                [self.patches_per_frame(), d],
                Distribution::Normal(0.0, 1.0 / (d as f64).sqrt()),
                device,
            )),
            cls: Param::from_tensor(Tensor::zeros([d], device)),
            patch: self.patch,
        }
    }
}

impl HeadConfig {
    /// The head over `d`-wide tokens, with fresh weights.
    pub fn init(&self, d: usize, device: &Device) -> Head {
        let pre_logits = self.rep_size.map(|r| LinearConfig::new(d, r).init(device));
        let features = self.rep_size.unwrap_or(d);
        Head {
            pre_logits,
            classifier: LinearConfig::new(features, self.num_classes).init(device),
        }
    }
}

/// Cuts frames into patch tokens: a linear map of each flattened patch (a convolution with
/// kernel = stride = the patch, applied to each frame alone), a learned spatial position
/// embedding (no temporal code: the recurrence orders frames), and a CLS token in front.
#[derive(Module, Debug)]
pub struct Tokenizer {
    /// The patch embedding.
    pub patch_embed: Linear,
    /// Learned spatial position embedding, `[N, D]`.
    pub position: Param<Tensor<2>>,
    /// The CLS token prepended to every frame, `[D]`.
    pub cls: Param<Tensor<1>>,
    #[module(skip)]
    patch: [usize; 2],
}

impl Tokenizer {
    /// Frames `[B, H, W, C]` → tokens `[B, N + 1, D]`.
    pub fn forward(&self, frames: Tensor<4>) -> Tensor<3> {
        let [b, h, w, c] = frames.dims();
        let [ph, pw] = self.patch;
        let (gh, gw) = (h / ph, w / pw);
        let patches = frames
            .reshape([b, gh, ph, gw, pw, c])
            .permute([0, 1, 3, 2, 4, 5])
            .reshape([b, gh * gw, ph * pw * c]);
        let d = self.cls.dims()[0];
        let tokens = self.patch_embed.forward(patches) + self.position.val().unsqueeze::<3>();
        let cls = self.cls.val().reshape([1, 1, d]).expand([b, 1, d]);
        Tensor::cat(vec![cls, tokens], 1)
    }

    /// A whole clip `[B, T, H, W, C]` → tokens `[B, T, N + 1, D]`.
    pub fn clip(&self, video: Tensor<5>) -> Tensor<4> {
        let [b, t, h, w, c] = video.dims();
        let tokens = self.forward(video.reshape([b * t, h, w, c]));
        let [_, n, d] = tokens.dims();
        tokens.reshape([b, t, n, d])
    }
}

/// One layer: time, then space.
#[derive(Module, Debug)]
pub struct Layer {
    /// Mixes each patch position over time.
    pub temporal: RecurrentBlock,
    /// Mixes the tokens of each frame.
    pub spatial: VitBlock,
}

/// The classification head.
#[derive(Module, Debug)]
pub struct Head {
    /// `W_r`, followed by tanh (absent when `rep_size` is `None`).
    pub pre_logits: Option<Linear>,
    /// The classifier.
    pub classifier: Linear,
}

impl Head {
    /// Logits `[B, classes]` of a clip from its pooled frames `[B, T, D]`: the per-frame
    /// features averaged over every frame, then the classifier.
    pub fn clip_logits(&self, pooled: Tensor<3>) -> Tensor<2> {
        let features = self.frame_features(pooled).mean_dim(1).squeeze_dim::<2>(1);
        self.classifier.forward(features)
    }

    /// Per-frame features `[B, T, D]` → `tanh(W_r ·)` (or the features themselves).
    fn frame_features(&self, pooled: Tensor<3>) -> Tensor<3> {
        match &self.pre_logits {
            Some(layer) => layer.forward(pooled).tanh(),
            None => pooled,
        }
    }
}

/// The model.
#[derive(Module, Debug)]
pub struct TRecViT {
    /// Frames to tokens.
    pub tokenizer: Tokenizer,
    /// The layers.
    pub layers: Vec<Layer>,
    /// LayerNorm after the last layer.
    pub norm: LayerNorm,
    /// The classification head, if any.
    pub head: Option<Head>,
    #[module(skip)]
    pool: Pool,
}

/// What the head reads from each frame of `tokens` (`[B, T, N + 1, D]`): `[B, T, D]`.
pub fn pool_frames(tokens: Tensor<4>, pool: Pool) -> Tensor<3> {
    let [b, t, n, d] = tokens.dims();
    match pool {
        Pool::Cls => tokens.slice(s![.., .., 0..1, ..]).reshape([b, t, d]),
        Pool::Gap => tokens
            .slice(s![.., .., 1..n, ..])
            .mean_dim(2)
            .reshape([b, t, d]),
    }
}

/// What [`TRecViT::forward`] returns.
#[derive(Debug, Clone)]
pub struct TRecViTOutput {
    /// The encoder's tokens, `[B, T, N + 1, D]` (CLS first).
    pub tokens: Tensor<4>,
    /// Class logits `[B, classes]` from all frames, if the model has a head.
    pub logits: Option<Tensor<2>>,
}

/// What [`TRecViT::classify_clips`] returns.
#[derive(Debug, Clone)]
pub struct ClipsOutput {
    /// The encoder's tokens per clip, `[B·n, T/n, N + 1, D]` (video-major).
    pub tokens: Tensor<4>,
    /// Every clip's logits, `[B, n, classes]`, if the model has a head.
    pub clip_logits: Option<Tensor<3>>,
}

impl ClipsOutput {
    /// The videos' logits `[B, classes]`: the mean of their clips' logits (the release's
    /// `logits`).
    pub fn logits(&self) -> Option<Tensor<2>> {
        let logits = self.clip_logits.clone()?;
        let [b, _, classes] = logits.dims();
        Some(logits.mean_dim(1).reshape([b, classes]))
    }

    /// The videos' class probabilities `[B, classes]`: the mean of their clips' softmax (the
    /// release's `probs`, whose argmax its demo reports).
    pub fn probabilities(&self) -> Option<Tensor<2>> {
        let logits = self.clip_logits.clone()?;
        let [b, _, classes] = logits.dims();
        Some(softmax(logits, 2).mean_dim(1).reshape([b, classes]))
    }
}

/// Everything [`TRecViT::step`] carries from one frame to the next: per layer the temporal
/// block's state for every patch position, and the running sum of the head's per-frame
/// features. Its size does not depend on how many frames came before.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    /// Per layer; empty before the first frame.
    pub layers: Vec<RecurrentState>,
    /// Sum of the head's per-frame features, `[B, F]`.
    pub head_sum: Option<Tensor<2>>,
    /// Frames seen.
    pub frames: usize,
}

impl StreamState {
    /// Values held, for all the videos together: recurrent states and the head's running sum.
    pub fn len(&self) -> usize {
        let recurrent: usize = self
            .layers
            .iter()
            .map(|s| s.len_per_sequence() * s.lru.dims()[0])
            .sum();
        recurrent
            + self
                .head_sum
                .as_ref()
                .map_or(0, |h| h.shape().num_elements())
    }

    /// Whether nothing has been streamed yet.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }
}

impl TRecViT {
    /// Runs the layers on `x` (`[B, T, N', D]`), continuing from `states` (one per layer, for
    /// `B·N'` sequences) when given. Returns the normalised tokens and the new states.
    fn encode(
        &self,
        mut x: Tensor<4>,
        states: Option<Vec<RecurrentState>>,
    ) -> (Tensor<4>, Vec<RecurrentState>) {
        let [b, t, n, d] = x.dims();
        let mut states = states.map(Vec::into_iter);
        let mut next = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            // Time: each patch position is a sequence of T tokens.
            let tubes = x.permute([0, 2, 1, 3]).reshape([b * n, t, d]);
            let state = states.as_mut().and_then(Iterator::next);
            let (tubes, state) = layer.temporal.forward(tubes, state);
            next.push(state);
            x = tubes.reshape([b, n, t, d]).permute([0, 2, 1, 3]);
            // Space: each frame is a set of N' tokens.
            let frames = layer.spatial.forward(x.reshape([b * t, n, d]));
            x = frames.reshape([b, t, n, d]);
        }
        (self.norm.forward(x), next)
    }

    /// A whole clip `[B, T, H, W, C]` (values in [0, 1], channels last as in the release).
    pub fn forward(&self, video: Tensor<5>) -> TRecViTOutput {
        let (tokens, _) = self.encode(self.tokenizer.clip(video), None);
        let logits = self
            .head
            .as_ref()
            .map(|head| head.clip_logits(pool_frames(tokens.clone(), self.pool)));
        TRecViTOutput { tokens, logits }
    }

    /// Classifies whole videos as the released wrapper does: the `T` frames are cut into
    /// `n = max(⌊T / frames_per_clip⌋, 1)` consecutive clips of `T / n` frames, and every clip
    /// runs from a fresh state. [`ClipsOutput`] averages over the clips.
    ///
    /// # Errors
    /// If the video has no frames, or `n` does not divide `T` (the released code refuses such
    /// videos too).
    pub fn classify_clips(
        &self,
        video: Tensor<5>,
        frames_per_clip: usize,
    ) -> Result<ClipsOutput, VideoError> {
        let [b, t, h, w, c] = video.dims();
        if t == 0 {
            return Err(VideoError::Empty);
        }
        let clips = (t / frames_per_clip.max(1)).max(1);
        if !t.is_multiple_of(clips) {
            return Err(VideoError::Uneven {
                frames: t,
                clips,
                frames_per_clip,
            });
        }
        let out = self.forward(video.reshape([b * clips, t / clips, h, w, c]));
        let clip_logits = out.logits.map(|logits| {
            let classes = logits.dims()[1];
            logits.reshape([b, clips, classes])
        });
        Ok(ClipsOutput {
            tokens: out.tokens,
            clip_logits,
        })
    }

    /// The next frame `[B, H, W, C]` of the videos summarised by `state` (start from
    /// `StreamState::default()`). Returns the frame's tokens `[B, N + 1, D]` and the new state.
    pub fn step(&self, frame: Tensor<4>, state: StreamState) -> (Tensor<3>, StreamState) {
        let tokens = self.tokenizer.forward(frame).unsqueeze_dim::<4>(1);
        let previous = (!state.layers.is_empty()).then_some(state.layers);
        let (tokens, layers) = self.encode(tokens, previous);
        let head_sum = self.head.as_ref().map(|head| {
            let features = head
                .frame_features(pool_frames(tokens.clone(), self.pool))
                .squeeze_dim::<2>(1);
            match state.head_sum {
                Some(sum) => sum + features,
                None => features,
            }
        });
        let [b, _, n, d] = tokens.dims();
        let next = StreamState {
            layers,
            head_sum,
            frames: state.frames + 1,
        };
        (tokens.reshape([b, n, d]), next)
    }

    /// The logits of everything streamed so far (the head's mean over all frames seen).
    pub fn stream_logits(&self, state: &StreamState) -> Option<Tensor<2>> {
        let head = self.head.as_ref()?;
        let sum = state.head_sum.clone()?;
        Some(head.classifier.forward(sum.div_scalar(state.frames as f64)))
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "npz"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! Model sizes: the paper's (§4.2, Table 8) and the released checkpoint's.

use kiln_core::nn::{DecayInit, RgLruConfig, ScanImpl};
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

/// What summarises a frame for the classification head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pool {
    /// The frame's CLS token (the released model).
    Cls,
    /// The mean over the frame's patch tokens.
    Gap,
}

/// The classification head of the released code: per frame `tanh(W_r pooled)`, averaged over
/// every frame of the clip, then a linear classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadConfig {
    /// Width of the pre-logits layer (3072 in the release); `None` classifies the pooled
    /// token directly.
    pub rep_size: Option<usize>,
    /// Classes.
    pub num_classes: usize,
}

/// Settings of a [`TRecViT`](crate::TRecViT).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TRecViTConfig {
    /// Frame height and width in pixels.
    pub image_size: [usize; 2],
    /// Patch height and width (each frame is cut alone: temporal patch 1).
    pub patch: [usize; 2],
    /// Colour channels.
    pub in_channels: usize,
    /// Model width `D`.
    pub width: usize,
    /// Layers, each a temporal block then a ViT block.
    pub depth: usize,
    /// Attention heads (also the blocks of the LRU's gates).
    pub heads: usize,
    /// Hidden width of the ViT MLP.
    pub mlp_dim: usize,
    /// Width `W` of the recurrent branch: `D` in the paper, `2D` in the release.
    pub lru_width: usize,
    /// Smallest initial decay radius (0.6 paper, 0.5 release).
    pub min_rad: f64,
    /// How decay radii are drawn.
    pub decay_init: DecayInit,
    /// How the recurrence runs over time.
    pub scan: ScanImpl,
    /// Complex decays with a learned phase (Griffin's option; the paper found no gain, §3.1).
    #[serde(default)]
    pub complex_lru: bool,
    /// Taps of the temporal convolution (4; 0 for none, the "no Conv1D" ablation).
    pub conv_taps: usize,
    /// The LRU's input and recurrence gates (`false`: the ungated LRU, `a = r`, an ablation of
    /// Table 1).
    #[serde(default = "gated_by_default")]
    pub lru_gates: bool,
    /// What summarises a frame for the head.
    pub pool: Pool,
    /// The classification head (`None`: features only).
    pub head: Option<HeadConfig>,
}

fn gated_by_default() -> bool {
    true
}

impl TRecViTConfig {
    /// The paper's B: 12 layers, D = 768, MLP 3072, 12 heads, LRU width D, radii U[0.6, 0.999],
    /// at 224² with 16² patches and the released head (400 classes): 111,913,360 parameters.
    pub fn base_paper() -> Self {
        Self {
            image_size: [224, 224],
            patch: [16, 16],
            in_channels: 3,
            width: 768,
            depth: 12,
            heads: 12,
            mlp_dim: 3072,
            lru_width: 768,
            min_rad: 0.6,
            decay_init: DecayInit::UniformRadius,
            scan: ScanImpl::Sequential,
            complex_lru: false,
            conv_taps: 4,
            lru_gates: true,
            pool: Pool::Cls,
            head: Some(HeadConfig {
                rep_size: Some(3072),
                num_classes: 400,
            }),
        }
    }

    /// The released K400 checkpoint's B: LRU width 2D, `r² ~ U[0.5², 0.999²]`:
    /// 136,778,128 parameters.
    pub fn base_release() -> Self {
        Self {
            lru_width: 1536,
            min_rad: 0.5,
            decay_init: DecayInit::UniformRadiusSquared,
            ..Self::base_paper()
        }
    }

    /// L with the release's settings (24 layers, D = 1024, MLP 4096, 16 heads, LRU 2D):
    /// 471,797,136 parameters.
    pub fn large() -> Self {
        Self {
            width: 1024,
            depth: 24,
            heads: 16,
            mlp_dim: 4096,
            lru_width: 2048,
            ..Self::base_release()
        }
    }

    /// S with the paper's settings (12 layers, D = 384, MLP 1536, 6 heads, LRU width D).
    pub fn small() -> Self {
        Self {
            width: 384,
            heads: 6,
            mlp_dim: 1536,
            lru_width: 384,
            ..Self::base_paper()
        }
    }

    /// Our 2-core model: 32² frames, 8² patches (16 tokens + CLS), D = 64, 4 layers,
    /// 4 heads, MLP 256, LRU width 64, no pre-logits layer.
    pub fn tiny(num_classes: usize) -> Self {
        Self {
            image_size: [32, 32],
            patch: [8, 8],
            in_channels: 1,
            width: 64,
            depth: 4,
            heads: 4,
            mlp_dim: 256,
            lru_width: 64,
            head: Some(HeadConfig {
                rep_size: None,
                num_classes,
            }),
            ..Self::base_paper()
        }
    }

    /// Patch tokens per frame, `N`.
    pub fn patches_per_frame(&self) -> usize {
        (self.image_size[0] / self.patch[0]) * (self.image_size[1] / self.patch[1])
    }

    /// The LRU's settings.
    pub fn lru(&self) -> RgLruConfig {
        RgLruConfig {
            width: self.lru_width,
            blocks: self.heads,
            c: 8.0,
            min_rad: self.min_rad,
            max_rad: 0.999,
            init: self.decay_init,
            scan: self.scan,
            only_real: !self.complex_lru,
            gated: self.lru_gates,
        }
    }

    /// Checks the shapes fit together.
    ///
    /// # Errors
    /// If patches do not tile the frames, the heads do not divide the widths, a complex LRU
    /// has an odd width, a size is zero, or `min_rad` leaves `(0, 0.999)`.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let [h, w] = self.image_size;
        let [ph, pw] = self.patch;
        ensure_config!(
            ph > 0 && pw > 0 && h.is_multiple_of(ph) && w.is_multiple_of(pw),
            "patches of {ph}×{pw} must tile the {h}×{w} frames exactly"
        );
        let state_width = if self.complex_lru {
            self.lru_width / 2
        } else {
            self.lru_width
        };
        ensure_config!(
            !self.complex_lru || self.lru_width.is_multiple_of(2),
            "a complex LRU needs an even lru_width, found {}",
            self.lru_width
        );
        ensure_config!(
            self.heads > 0
                && self.width.is_multiple_of(self.heads)
                && self.lru_width.is_multiple_of(self.heads)
                && state_width.is_multiple_of(self.heads),
            "{} heads must divide the width {} and the LRU width {}",
            self.heads,
            self.width,
            self.lru_width
        );
        ensure_config!(
            self.depth > 0 && self.in_channels > 0,
            "depth and in_channels must be at least 1"
        );
        ensure_config!(
            0.0 < self.min_rad && self.min_rad < 0.999,
            "min_rad must lie in (0, 0.999), found {}",
            self.min_rad
        );
        Ok(())
    }
}

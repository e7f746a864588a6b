//! The denoising block (paper Fig. 5) and the [`Denoiser`] trait for bringing your own.
//!
//! A block sees the image `x` and a noisy label `z`, and for the continuous variants the time
//! `t`; it returns class logits, which the model turns into a prediction of `u_y`. Conv layers are
//! unpadded ("valid"): with that, the block reproduces every parameter count of the paper's
//! Table 5 (e.g. 919,946 for NoProp-DT on MNIST with one-hot embeddings).

use burn::module::ModuleDisplay;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

/// A network that denoises a label: class logits from image `x` (`[B, C, H, W]`), noisy label
/// `z` (`[B, d]`) and, for NoProp-CT and -FM, time `t ∈ [0, 1]` (`[B]`).
///
/// Implement it for any Burn module to train that module with NoProp.
pub trait Denoiser: Module + ModuleDisplay {
    /// Class logits `[B, m]`.
    fn logits(&self, x: Tensor<4>, z: Tensor<2>, t: Option<Tensor<1>>) -> Tensor<2>;
}

/// Widths of the paper's block; [`BlockConfig::paper`] is Fig. 5, [`BlockConfig::cpu`] is our
/// smaller variant for 2-core runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// Output channels of the three 3×3 convolutions.
    pub conv_channels: [usize; 3],
    /// Width of the image path's last fully connected layer.
    pub image_features: usize,
    /// Width of the label path.
    pub label_features: usize,
    /// Widths of the two hidden layers after concatenation.
    pub head_features: [usize; 2],
    /// Width of the sinusoidal time embedding (continuous variants).
    pub time_embedding: usize,
    /// Width of the time path's fully connected layer (continuous variants).
    pub time_features: usize,
    /// Dropout probability in the image path.
    pub dropout: f64,
}

impl BlockConfig {
    /// The paper's block (Fig. 5): convs 32/64/128, FC 256, head 256/128.
    pub fn paper() -> Self {
        Self {
            conv_channels: [32, 64, 128],
            image_features: 256,
            label_features: 256,
            head_features: [256, 128],
            time_embedding: 64,
            time_features: 256,
            dropout: 0.2,
        }
    }

    /// Our 2-core block (OURS): convs 16/32/64, FC 128, head 128/64 — 232,138 parameters for
    /// NoProp-DT on MNIST with one-hot embeddings.
    pub fn cpu() -> Self {
        Self {
            conv_channels: [16, 32, 64],
            image_features: 128,
            label_features: 128,
            head_features: [128, 64],
            time_embedding: 64,
            time_features: 128,
            dropout: 0.2,
        }
    }
}

/// The smallest image side the block accepts: three valid 3×3 convolutions and two 2×2 poolings
/// leave one pixel of a 14×14 image.
pub const MIN_IMAGE_SIDE: usize = 14;

/// What the block is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockShape {
    /// Image channels, height, width.
    pub image: [usize; 3],
    /// Number of classes `m`.
    pub num_classes: usize,
    /// Label embedding width `d`.
    pub embed_dim: usize,
    /// Whether the label is an image-sized prototype embedding (then the label path is a second
    /// copy of the image path, reading `z` as an image).
    pub prototype: bool,
    /// NoProp-DT (batch norm, residual label path, no time) or continuous (no batch norm, plain
    /// label path, a time path).
    pub continuous: bool,
}

/// Image path: `conv3×3(c1)-ReLU-maxpool2-drop-conv3×3(c2)-ReLU-drop-conv3×3(c3)-ReLU-maxpool2-drop
/// -flatten-FC-BN` (DT) or `…-FC-ReLU` (continuous).
#[derive(Module, Debug)]
pub struct ConvPath {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    pool: MaxPool2d,
    dropout: Dropout,
    fc: Linear,
    norm: Option<BatchNorm>,
}

impl ConvPath {
    fn new(image: [usize; 3], config: &BlockConfig, batch_norm: bool, device: &Device) -> Self {
        let [c, h, w] = image;
        let [c1, c2, c3] = config.conv_channels;
        assert!(
            h >= MIN_IMAGE_SIDE && w >= MIN_IMAGE_SIDE,
            "the paper's block needs images of at least {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE}, got {h}×{w}"
        );
        // Valid 3×3 convolutions shrink by 2; 2×2 pooling halves, rounding down.
        let side = |s: usize| ((s - 2) / 2 - 2 - 2) / 2;
        let flat = c3 * side(h) * side(w);
        let conv = |i, o| Conv2dConfig::new([i, o], [3, 3]).init(device);
        Self {
            conv1: conv(c, c1),
            conv2: conv(c1, c2),
            conv3: conv(c2, c3),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            dropout: DropoutConfig::new(config.dropout).init(),
            fc: LinearConfig::new(flat, config.image_features).init(device),
            norm: batch_norm.then(|| BatchNormConfig::new(config.image_features).init(device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .dropout
            .forward(self.pool.forward(relu(self.conv1.forward(x))));
        let x = self.dropout.forward(relu(self.conv2.forward(x)));
        let x = self
            .dropout
            .forward(self.pool.forward(relu(self.conv3.forward(x))));
        let x = self.fc.forward(x.flatten(1, 3));
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => relu(x),
        }
    }
}

/// NoProp-DT label path: `FC-BN-ReLU → [FC-BN-ReLU-FC-BN] + skip`.
#[derive(Module, Debug)]
pub struct ResidualLabelPath {
    input: Linear,
    input_norm: BatchNorm,
    hidden: Linear,
    hidden_norm: BatchNorm,
    output: Linear,
    output_norm: BatchNorm,
}

impl ResidualLabelPath {
    fn new(embed_dim: usize, width: usize, device: &Device) -> Self {
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let norm = || BatchNormConfig::new(width).init(device);
        Self {
            input: linear(embed_dim, width),
            input_norm: norm(),
            hidden: linear(width, width),
            hidden_norm: norm(),
            output: linear(width, width),
            output_norm: norm(),
        }
    }

    fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let h = relu(self.input_norm.forward(self.input.forward(z)));
        let r = relu(self.hidden_norm.forward(self.hidden.forward(h.clone())));
        h + self.output_norm.forward(self.output.forward(r))
    }
}

/// The label path, by variant and embedding.
#[derive(Module, Debug)]
pub enum LabelPath {
    /// NoProp-DT with one-hot or learned embeddings.
    Residual(ResidualLabelPath),
    /// Continuous variants: `FC-ReLU`.
    Plain(Linear),
    /// Prototype embeddings: a second image path reading `z` as an image.
    Image(ConvPath),
}

/// After concatenation: `FC-BN-ReLU-FC-BN-ReLU-FC(m)` (batch norm only in DT).
#[derive(Module, Debug)]
pub struct Head {
    fc1: Linear,
    norm1: Option<BatchNorm>,
    fc2: Linear,
    norm2: Option<BatchNorm>,
    out: Linear,
}

impl Head {
    fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        let norm = |n: &Option<BatchNorm>, x: Tensor<2>| match n {
            Some(n) => n.forward(x),
            None => x,
        };
        let h = relu(norm(&self.norm1, self.fc1.forward(h)));
        let h = relu(norm(&self.norm2, self.fc2.forward(h)));
        self.out.forward(h)
    }
}

/// The paper's block (Fig. 5).
#[derive(Module, Debug)]
pub struct PaperBlock {
    image: ConvPath,
    label: LabelPath,
    time: Option<Linear>,
    head: Head,
    #[module(skip)]
    image_shape: [usize; 3],
    #[module(skip)]
    time_embedding: usize,
}

impl PaperBlock {
    /// Builds a block of the given widths for the given data and variant.
    ///
    /// # Panics
    /// If the images are smaller than [`MIN_IMAGE_SIDE`] on a side (the block's three
    /// valid convolutions and two poolings leave nothing); the reproduction checks this when it
    /// loads a dataset.
    pub fn new(config: &BlockConfig, shape: BlockShape, device: &Device) -> Self {
        let dt = !shape.continuous;
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let label = if shape.prototype {
            LabelPath::Image(ConvPath::new(shape.image, config, dt, device))
        } else if dt {
            LabelPath::Residual(ResidualLabelPath::new(
                shape.embed_dim,
                config.label_features,
                device,
            ))
        } else {
            LabelPath::Plain(linear(shape.embed_dim, config.label_features))
        };
        let label_width = if shape.prototype {
            config.image_features
        } else {
            config.label_features
        };
        let time = shape
            .continuous
            .then(|| linear(config.time_embedding, config.time_features));
        let time_width = if shape.continuous {
            config.time_features
        } else {
            0
        };
        let [h1, h2] = config.head_features;
        let norm = |w| dt.then(|| BatchNormConfig::new(w).init(device));
        Self {
            image: ConvPath::new(shape.image, config, dt, device),
            label,
            time,
            head: Head {
                fc1: linear(config.image_features + label_width + time_width, h1),
                norm1: norm(h1),
                fc2: linear(h1, h2),
                norm2: norm(h2),
                out: linear(h2, shape.num_classes),
            },
            image_shape: shape.image,
            time_embedding: config.time_embedding,
        }
    }
}

impl Denoiser for PaperBlock {
    fn logits(&self, x: Tensor<4>, z: Tensor<2>, t: Option<Tensor<1>>) -> Tensor<2> {
        let image = self.image.forward(x);
        let label = match &self.label {
            LabelPath::Residual(path) => path.forward(z),
            LabelPath::Plain(fc) => relu(fc.forward(z)),
            LabelPath::Image(path) => {
                let [c, h, w] = self.image_shape;
                let batch = z.dims()[0];
                path.forward(z.reshape([batch, c, h, w]))
            }
        };
        let mut features = vec![image, label];
        if let (Some(fc), Some(t)) = (&self.time, t) {
            features.push(relu(
                fc.forward(sinusoidal_embedding(t, self.time_embedding)),
            ));
        }
        self.head.forward(Tensor::cat(features, 1))
    }
}

/// A small fully connected denoiser: image and label each through `FC-ReLU`, then `FC-ReLU-FC`.
/// Used by the smoke tests, and an example of plugging in your own [`Denoiser`].
#[derive(Module, Debug)]
pub struct MlpBlock {
    image: Linear,
    label: Linear,
    time: Option<Linear>,
    hidden: Linear,
    out: Linear,
    #[module(skip)]
    time_embedding: usize,
}

impl MlpBlock {
    /// `inputs` image values, embedding width `embed_dim`, `hidden` units, `classes` outputs;
    /// `continuous` adds a time path.
    pub fn new(
        inputs: usize,
        embed_dim: usize,
        hidden: usize,
        classes: usize,
        continuous: bool,
        device: &Device,
    ) -> Self {
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let time_embedding = 16;
        Self {
            image: linear(inputs, hidden),
            label: linear(embed_dim, hidden),
            time: continuous.then(|| linear(time_embedding, hidden)),
            hidden: linear(if continuous { 3 * hidden } else { 2 * hidden }, hidden),
            out: linear(hidden, classes),
            time_embedding,
        }
    }
}

impl Denoiser for MlpBlock {
    fn logits(&self, x: Tensor<4>, z: Tensor<2>, t: Option<Tensor<1>>) -> Tensor<2> {
        let mut features = vec![
            relu(self.image.forward(x.flatten(1, 3))),
            relu(self.label.forward(z)),
        ];
        if let (Some(fc), Some(t)) = (&self.time, t) {
            features.push(relu(
                fc.forward(sinusoidal_embedding(t, self.time_embedding)),
            ));
        }
        self.out
            .forward(relu(self.hidden.forward(Tensor::cat(features, 1))))
    }
}

/// Transformer sinusoids of `1000·t` (OURS: the paper names a sinusoidal position embedding of
/// `t` without its scale): `[sin(1000 t ω_i), cos(1000 t ω_i)]`, `ω_i = 10000^(−i/(dim/2))`.
pub fn sinusoidal_embedding(t: Tensor<1>, dim: usize) -> Tensor<2> {
    let half = dim / 2;
    let device = t.device();
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(i as f64) / half as f64 * 10000f64.ln()).exp() as f32)
        .collect();
    let freqs =
        Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device).unsqueeze_dim::<2>(0);
    let angles = t.mul_scalar(1000.0).unsqueeze_dim::<2>(1).matmul(freqs);
    Tensor::cat(vec![angles.clone().sin(), angles.cos()], 1)
}

#[cfg(test)]
mod tests {
    use kiln_core::train::trainable_params;

    use super::*;

    fn shape(
        image: [usize; 3],
        classes: usize,
        embed: usize,
        prototype: bool,
        continuous: bool,
    ) -> BlockShape {
        BlockShape {
            image,
            num_classes: classes,
            embed_dim: embed,
            prototype,
            continuous,
        }
    }

    /// Table 5 of the paper, per block: exact parameter counts.
    #[test]
    fn paper_blocks_have_the_table5_parameter_counts() {
        let _rng = kiln_core::train::device_rng_lock();
        // Counted as the paper counts: trainable parameters, not batch-norm running statistics.
        let device = Device::default().autodiff();
        let p = BlockConfig::paper();
        let count = |s| trainable_params(&PaperBlock::new(&p, s, &device));
        assert_eq!(
            count(shape([1, 28, 28], 10, 10, false, false)),
            919_946,
            "DT MNIST one-hot"
        );
        assert_eq!(
            count(shape([1, 28, 28], 10, 784, true, false)),
            1_401_738,
            "DT MNIST prototype"
        );
        assert_eq!(
            count(shape([3, 32, 32], 10, 10, false, false)),
            1_215_434,
            "DT CIFAR-10 one-hot"
        );
        assert_eq!(
            count(shape([3, 32, 32], 100, 100, false, false)),
            1_250_084,
            "DT CIFAR-100 one-hot"
        );
        assert_eq!(
            count(shape([1, 28, 28], 10, 10, false, true)),
            867_722,
            "CT MNIST one-hot"
        );
        let cpu = PaperBlock::new(
            &BlockConfig::cpu(),
            shape([1, 28, 28], 10, 10, false, false),
            &device,
        );
        assert_eq!(trainable_params(&cpu), 232_138, "our cpu block");
    }

    #[test]
    fn blocks_produce_logits_of_the_right_shape() {
        let _rng = kiln_core::train::device_rng_lock();
        let device = Device::default();
        let x = Tensor::<4>::zeros([3, 1, 28, 28], &device);
        let t = Some(Tensor::<1>::from_floats([0.1, 0.5, 0.9], &device));
        for (embed, prototype, continuous) in
            [(10, false, false), (784, true, false), (10, false, true)]
        {
            let block = PaperBlock::new(
                &BlockConfig::cpu(),
                shape([1, 28, 28], 10, embed, prototype, continuous),
                &device,
            );
            let z = Tensor::<2>::zeros([3, embed], &device);
            let time = if continuous { t.clone() } else { None };
            assert_eq!(block.logits(x.clone(), z, time).dims(), [3, 10]);
        }
    }

    #[test]
    #[should_panic(expected = "at least 14×14")]
    fn images_too_small_for_the_block_are_refused_with_a_message() {
        let shape = shape([1, 13, 13], 10, 10, false, false);
        PaperBlock::new(&BlockConfig::cpu(), shape, &Device::default());
    }

    #[test]
    fn sinusoids_at_zero_are_zero_and_one() {
        let _rng = kiln_core::train::device_rng_lock();
        let device = Device::default();
        let e = sinusoidal_embedding(Tensor::<1>::from_floats([0.0], &device), 8);
        let v = e
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(v, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    }
}

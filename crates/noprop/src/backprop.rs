//! The back-propagation baseline of Table 1, built from the same blocks.
//!
//! The blocks are chained as a residual stack and trained end to end on the read-out's
//! cross-entropy: `z_t = (1 − α_t) z_{t−1} + α_t û_t(z_{t−1}, x)` with `α_t = tanh(w_t)` and `w_t`
//! learned (paper §4, "Backprop"). OURS: `z_0 = 0` and `w_t = atanh(0.5)` at initialisation; the
//! paper states neither.

use burn::module::Param;
use burn::prelude::*;

use crate::{ClassEmbedding, Denoiser, ReadoutHead};
use kiln_core::train::cross_entropy;

/// `T` blocks chained end to end, with the same head as NoProp.
#[derive(Module, Debug)]
pub struct ChainedBaseline<D> {
    /// The blocks, applied in order.
    pub blocks: Vec<D>,
    /// Embeddings and read-out.
    pub head: ReadoutHead,
    /// `w_t`; the mixing weights are `α_t = tanh(w_t)`.
    pub mixing: Param<Tensor<1>>,
}

impl<D: Denoiser> ChainedBaseline<D> {
    /// Chains `blocks` on top of `embedding`.
    pub fn new(blocks: Vec<D>, embedding: ClassEmbedding, device: &Device) -> Self {
        let w0 = 0.5f32.atanh();
        let mixing = Tensor::<1>::full([blocks.len()], w0, device);
        Self {
            blocks,
            head: ReadoutHead::new(embedding, device),
            mixing: Param::from_tensor(mixing),
        }
    }

    /// Class logits after running every block.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let batch = x.dims()[0];
        let mut z = Tensor::<2>::zeros([batch, self.head.embedding.dim()], &x.device());
        let alphas = self.mixing.val().tanh();
        for (t, block) in self.blocks.iter().enumerate() {
            let alpha = alphas.clone().slice(s![t..t + 1]).unsqueeze_dim::<2>(0);
            let u_hat = self
                .head
                .embedding
                .predict(block.logits(x.clone(), z.clone(), None));
            z = z.clone() - z * alpha.clone() + u_hat * alpha;
        }
        self.head.logits(z)
    }

    /// The predicted class of each image.
    pub fn predict(&self, x: Tensor<4>) -> Tensor<1, Int> {
        self.forward(x).argmax(1).squeeze_dim(1)
    }

    /// The end-to-end loss: cross-entropy of the read-out after the last block.
    pub fn loss(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        cross_entropy(self.forward(x), labels)
    }
}

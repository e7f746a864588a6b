//! NoProp-FM: flow matching on class embeddings (paper §2.4, Eqs. 10–13, Algorithm 3).
//!
//! One network `v(z_t, x, t)` learns the velocity that carries noise `z_0 ~ N(0, I)` to the label
//! embedding `z_1 = u_y` along straight lines `z_t = t z_1 + (1 − t) z_0` (σ = 0, OURS: the
//! paper's σ is not given). Its output is `v = logits · W_Embed` (no softmax). Inference
//! integrates `dz/dt = v` from 0 to 1 with Euler steps and predicts the class whose embedding is
//! nearest to `z_1`.

use burn::prelude::*;
use burn::tensor::Distribution;

use crate::{ClassEmbedding, Denoiser, ReadoutHead};
use kiln_core::train::cross_entropy;

/// The flow-matching model: one time-conditioned network and the head.
#[derive(Module, Debug)]
pub struct NoPropFm<D> {
    /// `v(z_t, x, t)` before multiplication by `W_Embed`.
    pub net: D,
    /// Embeddings and read-out (the read-out is trained only with learned embeddings).
    pub head: ReadoutHead,
}

impl<D: Denoiser> NoPropFm<D> {
    /// A model over `embedding`.
    pub fn new(net: D, embedding: ClassEmbedding, device: &Device) -> Self {
        Self {
            net,
            head: ReadoutHead::new(embedding, device),
        }
    }

    fn velocity(&self, x: Tensor<4>, z: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.net
            .logits(x, z, Some(t))
            .matmul(self.head.embedding.weight.val())
    }

    /// The loss of Algorithm 3: `E ‖v(z_t, x, t) − (z_1 − z_0)‖²`, plus, when the embeddings
    /// are learned, `−log p̂(y | z_t + (1 − t) v)` so that they stay apart.
    pub fn loss(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let z1 = self.head.embedding.targets(labels.clone());
        let [batch, _] = z1.dims();
        let device = z1.device();
        let z0 = z1.random_like(Distribution::Normal(0.0, 1.0));
        let t = Tensor::<1>::random([batch], Distribution::Uniform(0.0, 1.0), &device);
        let t_col = t.clone().unsqueeze_dim::<2>(1);
        let z_t = z1.clone() * t_col.clone() + z0.clone() * (t_col.clone().neg().add_scalar(1.0));
        let v = self.velocity(x, z_t.clone(), t);
        let flow = (v.clone() - (z1 - z0)).powi_scalar(2).sum_dim(1).mean();
        if self.head.embedding.weight.val().is_require_grad() {
            let z_end = z_t + v * t_col.neg().add_scalar(1.0);
            flow + cross_entropy(self.head.logits(z_end), labels)
        } else {
            flow
        }
    }

    /// Integrates `dz/dt = v` from `z_0 ~ N(0, I)` with `steps` Euler steps and returns `z_1`.
    pub fn integrate(&self, x: Tensor<4>, steps: usize) -> Tensor<2> {
        let batch = x.dims()[0];
        let device = x.device();
        let mut z = Tensor::<2>::random(
            [batch, self.head.embedding.dim()],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let dt = 1.0 / steps as f64;
        for k in 0..steps {
            let t = Tensor::<1>::full([batch], (k as f64 * dt) as f32, &device);
            z = z.clone() + self.velocity(x.clone(), z, t).mul_scalar(dt);
        }
        z
    }

    /// The class whose embedding is nearest to the integrated `z_1`.
    pub fn predict(&self, x: Tensor<4>, steps: usize) -> Tensor<1, Int> {
        self.head.embedding.nearest(self.integrate(x, steps))
    }
}

//! NoProp-CT: continuous time with a learned noise schedule (paper §2.3, Eq. 9, Algorithm 2,
//! Appendix B).
//!
//! One network `û(z_t, x, t)` is trained at times `t ~ U(0, 1)` drawn per example. The schedule
//! is learned too (Appendix B, after Kingma et al.'s variational diffusion models):
//!
//! - `SNR(t) = exp(−γ(t))`, `ᾱ(t) = sigmoid(−γ(t))`;
//! - `γ(t) = γ_0 + (γ_1 − γ_0)(1 − γ̄(t))`, `γ̄(t) = (γ̃(t) − γ̃(0)) / (γ̃(1) − γ̃(0))`;
//! - `γ̃(t) = Σ_j w2_j σ(w1_j t + b1_j)` with `w1, w2 > 0` (a monotone two-layer network), so
//!   `γ̄` rises from 0 to 1 and `SNR` rises from `exp(−γ_1)` at `t = 0` to `exp(−γ_0)` at `t = 1`.
//!
//! The loss (Eq. 9) is `CE(z_1) + KL(q(z_0|y) ‖ N(0, I)) + ½ η SNR'(t) ‖û(z_t, x, t) − u_y‖²`.
//! `SNR'(t)` is computed in closed form from the network's derivative, so ordinary first-order
//! autodiff trains `γ` (Burn has no double backward). Inference runs the DT update on the grid
//! `t_k = k/N` with `ᾱ_k = ᾱ(t_k)`, feeding the network `t_{k−1}` (OURS: the paper says only
//! "simulate the diffusion process").

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{sigmoid, softplus};
use kiln_core::InvalidConfig;

use crate::schedule::{DiscreteSchedule, ScheduleConfig};
use crate::{ClassEmbedding, Denoiser, ReadoutHead};
use kiln_core::train::cross_entropy;

/// The learned schedule `γ(t)` of Appendix B.
#[derive(Module, Debug)]
pub struct LearnedSchedule {
    /// Pre-softplus first-layer weights (`w1 = softplus(·) > 0`).
    w1: Param<Tensor<1>>,
    /// First-layer biases.
    b1: Param<Tensor<1>>,
    /// Pre-softplus second-layer weights (`w2 = softplus(·) > 0`).
    w2: Param<Tensor<1>>,
    /// `γ_0 = γ(1)`, the clean end (large SNR).
    gamma0: Param<Tensor<1>>,
    /// `γ_1 = γ(0)`, the noisy end.
    gamma1: Param<Tensor<1>>,
}

impl LearnedSchedule {
    /// `hidden` sigmoid units (OURS: 1024, as in VDM), `γ_0`/`γ_1` initialised to −5/+5.
    pub fn new(hidden: usize, device: &Device) -> Self {
        let normal = |scale: f64| {
            Param::from_tensor(Tensor::<1>::random(
                [hidden],
                Distribution::Normal(0.0, scale),
                device,
            ))
        };
        Self {
            w1: normal(1.0),
            b1: normal(2.0),
            w2: normal(1.0),
            gamma0: Param::from_tensor(Tensor::from_floats([-5.0], device)),
            gamma1: Param::from_tensor(Tensor::from_floats([5.0], device)),
        }
    }

    /// `γ̃(t)` and `γ̃'(t)` for `t` of shape `[B]`.
    fn tilde(&self, t: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
        let w1 = softplus(self.w1.val(), 1.0).unsqueeze_dim::<2>(0);
        let w2 = softplus(self.w2.val(), 1.0).unsqueeze_dim::<2>(1);
        let pre = t.unsqueeze_dim::<2>(1).matmul(w1.clone()) + self.b1.val().unsqueeze_dim::<2>(0);
        let s = sigmoid(pre);
        let value = s.clone().matmul(w2.clone()).squeeze_dim::<1>(1);
        // d/dt Σ w2 σ(w1 t + b1) = Σ w2 σ(1 − σ) w1.
        let slope = (s.clone() * s.neg().add_scalar(1.0) * w1)
            .matmul(w2)
            .squeeze_dim::<1>(1);
        (value, slope)
    }

    /// `γ(t)` and `SNR'(t) = −γ'(t) exp(−γ(t))` for `t` of shape `[B]`.
    pub fn gamma_and_snr_slope(&self, t: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
        let device = t.device();
        let [batch] = t.dims();
        let ends = Tensor::<1>::from_floats([0.0, 1.0], &device);
        let (ends_value, _) = self.tilde(ends);
        let at0 = ends_value.clone().slice(s![0..1]);
        let span = ends_value.slice(s![1..2]) - at0.clone();
        let (value, slope) = self.tilde(t);
        let bar = (value - at0.expand([batch])) / span.clone().expand([batch]);
        let bar_slope = slope / span.expand([batch]);
        let (g0, g1) = (
            self.gamma0.val().expand([batch]),
            self.gamma1.val().expand([batch]),
        );
        let range = g1 - g0.clone();
        let gamma = g0 + range.clone() * bar.neg().add_scalar(1.0);
        // γ'(t) = −(γ_1 − γ_0) γ̄'(t), so SNR'(t) = (γ_1 − γ_0) γ̄'(t) exp(−γ(t)).
        let snr_slope = range * bar_slope * gamma.clone().neg().exp();
        (gamma, snr_slope)
    }

    /// `ᾱ(t) = sigmoid(−γ(t))`.
    pub fn abar(&self, t: Tensor<1>) -> Tensor<1> {
        sigmoid(self.gamma_and_snr_slope(t).0.neg())
    }

    /// The discrete schedule `ᾱ(k/N)`, `k = 0..=N`, for inference.
    ///
    /// # Errors
    /// If `steps` is 0, or the device cannot hand the schedule back to the host.
    pub fn discretise(
        &self,
        steps: usize,
        device: &Device,
    ) -> Result<DiscreteSchedule, InvalidConfig> {
        kiln_core::ensure_config!(steps > 0, "inference needs at least one step");
        let grid: Vec<f32> = (0..=steps).map(|k| k as f32 / steps as f32).collect();
        let t = Tensor::<1>::from_data(TensorData::new(grid, [steps + 1]), device);
        let abar: Vec<f64> = self
            .abar(t)
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .map_err(|e| {
                InvalidConfig::new(format!("the schedule could not be read back: {e:?}"))
            })?;
        // γ is monotone by construction; a running maximum only absorbs float rounding.
        let abar: Vec<f64> = abar
            .into_iter()
            .scan(0.0f64, |max, a| {
                *max = max.max(a.clamp(0.0, 0.9999));
                Some(*max)
            })
            .collect();
        DiscreteSchedule::new(&ScheduleConfig::Explicit(abar), steps)
    }
}

/// The continuous-time model: one time-conditioned network, the head, the learned schedule.
#[derive(Module, Debug)]
pub struct NoPropCt<D> {
    /// `û(z_t, x, t)` as logits.
    pub net: D,
    /// Embeddings and read-out.
    pub head: ReadoutHead,
    /// `γ(t)`.
    pub schedule: LearnedSchedule,
    /// `η` (1 in Table 4).
    #[module(skip)]
    pub eta: f64,
}

impl<D: Denoiser> NoPropCt<D> {
    /// A model with a learned schedule of `hidden` units.
    pub fn new(
        net: D,
        embedding: ClassEmbedding,
        hidden: usize,
        eta: f64,
        device: &Device,
    ) -> Self {
        Self {
            net,
            head: ReadoutHead::new(embedding, device),
            schedule: LearnedSchedule::new(hidden, device),
            eta,
        }
    }

    /// `z ~ N(√ᾱ u, (1 − ᾱ) I)` for per-example `ᾱ` of shape `[B]`.
    fn sample(targets: Tensor<2>, abar: Tensor<1>) -> Tensor<2> {
        let abar = abar.unsqueeze_dim::<2>(1);
        let noise = targets.random_like(Distribution::Normal(0.0, 1.0));
        targets * abar.clone().sqrt() + noise * abar.neg().add_scalar(1.0).sqrt()
    }

    /// Eq. 9 on a batch, with `t ~ U(0, 1)` per example.
    pub fn loss(&self, x: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let targets = self.head.embedding.targets(labels.clone());
        let [batch, d] = targets.dims();
        let device = targets.device();
        let ends = Tensor::<1>::from_floats([0.0, 1.0], &device);
        let abar_ends = self.schedule.abar(ends);
        let (abar0, abar1) = (abar_ends.clone().slice(s![0..1]), abar_ends.slice(s![1..2]));

        let z1 = Self::sample(targets.clone(), abar1.expand([batch]));
        let ce = cross_entropy(self.head.logits(z1), labels);
        // KL(q(z_0|y) ‖ N(0, I)) = ½[ᾱ_0 ‖u‖² − d ᾱ_0 − d ln(1 − ᾱ_0)].
        let norm_sq = targets.clone().powi_scalar(2).sum_dim(1).mean();
        let kl = (abar0.clone() * norm_sq
            - abar0.clone().mul_scalar(d as f64)
            - abar0.neg().add_scalar(1.0).log().mul_scalar(d as f64))
        .mul_scalar(0.5);

        let t = Tensor::<1>::random([batch], Distribution::Uniform(0.0, 1.0), &device);
        let (gamma, snr_slope) = self.schedule.gamma_and_snr_slope(t.clone());
        let z_t = Self::sample(targets.clone(), sigmoid(gamma.neg()));
        let u_hat = self
            .head
            .embedding
            .predict(self.net.logits(x, z_t, Some(t)));
        let error = (u_hat - targets)
            .powi_scalar(2)
            .sum_dim(1)
            .squeeze_dim::<1>(1);
        let denoise = (snr_slope * error).mean().mul_scalar(0.5 * self.eta);
        ce + kl + denoise
    }

    /// Discretises the learned schedule to `steps` steps and predicts with [`Self::predict_with`].
    ///
    /// # Errors
    /// As [`LearnedSchedule::discretise`].
    pub fn predict(
        &self,
        x: Tensor<4>,
        steps: usize,
        noise: bool,
    ) -> Result<Tensor<1, Int>, InvalidConfig> {
        let schedule = self.schedule.discretise(steps, &x.device())?;
        Ok(self.predict_with(x, &schedule, noise))
    }

    /// Runs the DT update on a discretised schedule (`t_k = k/N`) and predicts the class.
    pub fn predict_with(
        &self,
        x: Tensor<4>,
        schedule: &DiscreteSchedule,
        noise: bool,
    ) -> Tensor<1, Int> {
        let device = x.device();
        let steps = schedule.t_blocks();
        let batch = x.dims()[0];
        let mut z = Tensor::<2>::random(
            [batch, self.head.embedding.dim()],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        for k in 1..=steps {
            let c = schedule.step(k);
            let t = Tensor::<1>::full([batch], (k - 1) as f32 / steps as f32, &device);
            let u_hat = self
                .head
                .embedding
                .predict(self.net.logits(x.clone(), z.clone(), Some(t)));
            z = c.apply(u_hat, z, noise);
        }
        self.head.logits(z).argmax(1).squeeze_dim(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snr_slope_matches_finite_differences_and_schedule_is_monotone() {
        let _rng = kiln_core::train::device_rng_lock();
        let device = Device::default();
        device.seed(3);
        let schedule = LearnedSchedule::new(32, &device);
        let ts = [0.1f32, 0.4, 0.7, 0.95];
        let h = 1e-3f32;
        let snr = |t: Vec<f32>| -> Vec<f64> {
            let n = t.len();
            let (gamma, _) =
                schedule.gamma_and_snr_slope(Tensor::from_data(TensorData::new(t, [n]), &device));
            gamma
                .neg()
                .exp()
                .into_data()
                .convert::<f64>()
                .try_into_vec::<f64>()
                .unwrap()
        };
        let plus = snr(ts.iter().map(|t| t + h).collect());
        let minus = snr(ts.iter().map(|t| t - h).collect());
        let (_, slope) = schedule.gamma_and_snr_slope(Tensor::from_floats(ts, &device));
        let slope = slope
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .unwrap();
        for i in 0..ts.len() {
            let numeric = (plus[i] - minus[i]) / (2.0 * f64::from(h));
            assert!(
                (slope[i] - numeric).abs() <= 2e-2 * numeric.abs().max(1e-3),
                "t {}: {} vs {numeric}",
                ts[i],
                slope[i]
            );
            assert!(slope[i] > 0.0);
        }
        let grid = schedule.discretise(20, &device).unwrap();
        assert!(
            (grid.abar(0) - 1.0 / (1.0 + 5f64.exp())).abs() < 1e-4,
            "ᾱ(0) = sigmoid(−γ_1)"
        );
        assert!(
            (grid.abar(20) - 1.0 / (1.0 + (-5f64).exp())).abs() < 1e-4,
            "ᾱ(1) = sigmoid(−γ_0)"
        );
    }
}

//! The per-tensor scope as a plain Burn [`Optimizer`], so TAM and AdaTAM also plug into Burn's
//! `ModuleOptimizer`: parameter groups, gradient clipping, the `Learner`.

use burn::optim::{LearningRate, Optimizer};
use burn::prelude::*;

use crate::optimizer::{Slot, TorqueRule, parameter_kick, previous_slot};

/// A torque rule applied one tensor at a time, each with its own cosine and `ŝ`. Build it with
/// [`TamConfig::build_per_tensor`](crate::TamConfig::build_per_tensor) or
/// [`AdaTamConfig::build_per_tensor`](crate::AdaTamConfig::build_per_tensor).
#[derive(Clone, Debug)]
pub struct PerTensor<R: TorqueRule> {
    rule: R,
}

impl<R: TorqueRule> PerTensor<R> {
    /// Wraps a rule (whose scope is read as per-tensor whatever it says).
    pub fn new(rule: R) -> Self {
        Self { rule }
    }
}

impl<R: TorqueRule> Optimizer for PerTensor<R> {
    type State<const D: usize> = Slot;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Slot>,
    ) -> (Tensor<D>, Option<Slot>) {
        let dims = tensor.dims();
        let len = tensor.shape().num_elements();
        let mut torque = self.rule.torque();
        torque.scope = crate::CosineScope::PerTensor;
        let grad = grad.reshape([len]);
        let slot = previous_slot(
            state,
            &torque,
            self.rule.has_second_moment(),
            len,
            &grad.device(),
        );
        let (kick, slot, _) = parameter_kick(&torque, &grad, slot, None);
        let (theta, slot) = self
            .rule
            .update(lr, tensor.reshape([len]), grad, kick, slot);
        (theta.reshape(dims), Some(slot))
    }

    fn to_device<const D: usize>(state: Slot, device: &Device) -> Slot {
        state.to_device(device)
    }
}

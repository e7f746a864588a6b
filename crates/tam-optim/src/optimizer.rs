//! The whole-model step shared by TAM and AdaTAM: pass 1 sums the cosine's dot products over
//! every parameter that has a gradient, pass 2 updates each parameter with the damped momentum.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, LearningRate};
use burn::prelude::*;

use kiln_core::train::ModuleStep;

use crate::{Alignment, CosineScope, FirstStep, RecordState, damping, smooth};

/// The settings of the damping that TAM and AdaTAM share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TorqueConfig {
    /// `γ`, the smoothing of the cosine.
    pub smoothing: f64,
    /// `ε`, the floor added to the damping factor so a gradient is never dropped entirely.
    pub floor: f64,
    /// Over which parameters the cosine is taken.
    pub scope: CosineScope,
    /// What the first step does.
    pub first_step: FirstStep,
    /// Skip the damping (`d ≡ 1`, `ε = 0`): plain momentum, for ablations and equivalence tests.
    pub undamped: bool,
}

/// What an optimizer keeps for one parameter, flattened to one dimension.
#[derive(RecordState, Clone, Debug)]
pub struct Slot {
    /// `m_t`.
    pub momentum: Tensor<1>,
    /// `v_t` (AdaTAM only).
    pub second_moment: Option<Tensor<1>>,
    /// This tensor's `ŝ_t` (per-tensor scope only; one element).
    pub s_hat: Option<Tensor<1>>,
    /// Updates this parameter has had.
    pub steps: usize,
}

impl Slot {
    /// A slot of zeros for `len` values: the `FirstStep::ZeroMomentum` start.
    pub fn zeros(len: usize, second_moment: bool, device: &Device) -> Self {
        Self {
            momentum: Tensor::zeros([len], device),
            second_moment: second_moment.then(|| Tensor::zeros([len], device)),
            s_hat: None,
            steps: 0,
        }
    }

    /// The slot with its tensors on `device`.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            momentum: self.momentum.to_device(device),
            second_moment: self.second_moment.map(|v| v.to_device(device)),
            s_hat: self.s_hat.map(|s| s.to_device(device)),
            steps: self.steps,
        }
    }
}

/// One family of damped-momentum update (TAM's SGD form, AdaTAM's Adam form).
pub trait TorqueRule: Clone + Send + Sync + 'static {
    /// Written into saved state, so that state saved by one optimizer is not loaded into another.
    const NAME: &'static str;

    /// The damping settings.
    fn torque(&self) -> TorqueConfig;

    /// Whether slots carry a second moment.
    fn has_second_moment(&self) -> bool;

    /// Updates one flattened parameter `theta` with its raw gradient `grad`: `kick` is `ε + d_t`,
    /// the weight of the new gradient in the momentum (`None` for weight 1), and `slot` the state
    /// of the parameter's previous step (`None` on a first step under `FirstStep::CopyGrad`).
    /// Returns the new parameter and slot (`s_hat` passed through, `steps` counted).
    fn update(
        &self,
        lr: LearningRate,
        theta: Tensor<1>,
        grad: Tensor<1>,
        kick: Option<Tensor<1>>,
        slot: Option<Slot>,
    ) -> (Tensor<1>, Slot);
}

/// The damping of the last step, read back for logging.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TamStats {
    /// `S_t` (the mean over tensors under per-tensor scope).
    pub cosine: f64,
    /// `ŝ_t` (likewise).
    pub s_hat: f64,
    /// `d_t = (1 + ŝ_t) / 2` (likewise).
    pub damping: f64,
}

/// A torque-aware optimizer over a whole Burn module: [`Tam`](crate::Tam) or
/// [`AdaTam`](crate::AdaTam).
#[derive(Clone)]
pub struct TorqueOptimizer<R: TorqueRule> {
    pub(crate) rule: R,
    pub(crate) slots: HashMap<ParamId, Slot>,
    /// `ŝ` of the global scope; `None` until the first cosine.
    pub(crate) s_hat: Option<Tensor<1>>,
    pub(crate) steps: usize,
    /// Sums of the last step's cosines and `ŝ` values, and how many went in.
    observed: Option<(Tensor<1>, Tensor<1>, usize)>,
}

impl<R: TorqueRule> TorqueOptimizer<R> {
    /// An optimizer with no state yet.
    pub fn new(rule: R) -> Self {
        Self {
            rule,
            slots: HashMap::new(),
            s_hat: None,
            steps: 0,
            observed: None,
        }
    }

    /// The update rule and its settings.
    pub fn rule(&self) -> &R {
        &self.rule
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The damping of the last step (a host read: call it for logging, not every step on a GPU).
    /// `None` before any cosine was taken and when the damping is switched off.
    pub fn stats(&self) -> Option<TamStats> {
        let (cosine, s_hat, count) = self.observed.clone()?;
        let mean = |t: Tensor<1>| f64::from(kiln_core::host_values(t)[0]) / count as f64;
        let s_hat = mean(s_hat);
        Some(TamStats {
            cosine: mean(cosine),
            s_hat,
            damping: (1.0 + s_hat) / 2.0,
        })
    }

    /// Updates `module` with `grads` at learning rate `lr`. Parameters without a gradient keep
    /// their value and their state.
    pub fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        let torque = self.rule.torque();
        self.observed = None;
        let global_kick = if !torque.undamped && torque.scope == CosineScope::Global {
            self.global_kick(&module, &grads, torque)
        } else {
            None
        };
        let mut mapper = UpdateMapper {
            optim: self,
            torque,
            grads,
            lr,
            global_kick,
        };
        let module = module.map(&mut mapper);
        self.steps += 1;
        module
    }

    /// Pass 1 of the global scope: `S_t` over all parameters that have a gradient and a previous
    /// momentum, then `ŝ_t` and the kick `ε + d_t`. `None` when no parameter has a previous
    /// momentum (the first step under `CopyGrad`), which leaves `ŝ` as it was.
    fn global_kick<M: Module>(
        &mut self,
        module: &M,
        grads: &GradientsParams,
        torque: TorqueConfig,
    ) -> Option<Tensor<1>> {
        let mut visitor = AlignmentVisitor {
            slots: &self.slots,
            grads,
            zero_momentum: torque.first_step == FirstStep::ZeroMomentum,
            sum: None,
        };
        module.visit(&mut visitor);
        let cosine = visitor.sum?.cosine();
        let s_hat = smooth(self.s_hat.take(), cosine.clone(), torque.smoothing);
        self.s_hat = Some(s_hat.clone());
        self.observed = Some((cosine, s_hat.clone(), 1));
        Some(damping(s_hat).add_scalar(torque.floor))
    }

    fn observe(&mut self, cosine: Tensor<1>, s_hat: Tensor<1>) {
        self.observed = Some(match self.observed.take() {
            Some((c, s, n)) => (c + cosine, s + s_hat, n + 1),
            None => (cosine, s_hat, 1),
        });
    }
}

impl<R: TorqueRule> ModuleStep for TorqueOptimizer<R> {
    fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        TorqueOptimizer::step(self, lr, module, grads)
    }
}

/// `x` flattened to one dimension.
fn flat<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    let n = x.shape().num_elements();
    x.reshape([n])
}

/// Pass 1: sums `⟨m, g⟩`, `‖m‖²`, `‖g‖²` over the parameters that take part in the cosine.
struct AlignmentVisitor<'a> {
    slots: &'a HashMap<ParamId, Slot>,
    grads: &'a GradientsParams,
    /// Under `ZeroMomentum` a parameter without a slot takes part with `m = 0`.
    zero_momentum: bool,
    sum: Option<Alignment>,
}

impl ModuleVisitor for AlignmentVisitor<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return;
        };
        let grad = flat(grad);
        let part = match self.slots.get(&param.id) {
            Some(slot) => {
                let momentum = slot.momentum.clone().to_device(&grad.device());
                Alignment::of(&momentum, &grad)
            }
            None if self.zero_momentum => {
                let zero = Tensor::zeros([1], &grad.device());
                Alignment {
                    dot: zero.clone(),
                    momentum_sq: zero,
                    grad_sq: grad.square().sum(),
                }
            }
            None => return,
        };
        self.sum = Some(match self.sum.take() {
            Some(sum) => sum.merge(part),
            None => part,
        });
    }
}

/// Pass 2: updates every parameter that has a gradient.
struct UpdateMapper<'a, R: TorqueRule> {
    optim: &'a mut TorqueOptimizer<R>,
    torque: TorqueConfig,
    grads: GradientsParams,
    lr: LearningRate,
    global_kick: Option<Tensor<1>>,
}

/// A parameter's previous slot on `device`; a zero slot under `ZeroMomentum` when it has none.
pub(crate) fn previous_slot(
    slot: Option<Slot>,
    torque: &TorqueConfig,
    second_moment: bool,
    len: usize,
    device: &Device,
) -> Option<Slot> {
    match slot {
        Some(slot) if slot.momentum.device() != *device => Some(slot.to_device(device)),
        Some(slot) => Some(slot),
        None if torque.first_step == FirstStep::ZeroMomentum => {
            Some(Slot::zeros(len, second_moment, device))
        }
        None => None,
    }
}

/// The weight `ε + d_t` of one parameter's new gradient (`None` for weight 1), with its slot.
/// Under per-tensor scope this takes the tensor's own cosine, updates its `ŝ` in the slot and
/// also returns `(S_t, ŝ_t)` for logging; under global scope it passes `global_kick` on.
pub(crate) fn parameter_kick(
    torque: &TorqueConfig,
    grad: &Tensor<1>,
    slot: Option<Slot>,
    global_kick: Option<&Tensor<1>>,
) -> (
    Option<Tensor<1>>,
    Option<Slot>,
    Option<(Tensor<1>, Tensor<1>)>,
) {
    let Some(mut slot) = slot else {
        // A first step under `CopyGrad`: the momentum becomes the gradient.
        return (None, None, None);
    };
    if torque.undamped {
        return (None, Some(slot), None);
    }
    match torque.scope {
        CosineScope::Global => (global_kick.cloned(), Some(slot), None),
        CosineScope::PerTensor => {
            let cosine = Alignment::of(&slot.momentum, grad).cosine();
            let s_hat = smooth(slot.s_hat.take(), cosine.clone(), torque.smoothing);
            let kick = damping(s_hat.clone()).add_scalar(torque.floor);
            slot.s_hat = Some(s_hat.clone());
            (Some(kick), Some(slot), Some((cosine, s_hat)))
        }
    }
}

impl<R: TorqueRule> ModuleMapper for UpdateMapper<'_, R> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let dims = tensor.dims();
        let require_grad = tensor.is_require_grad();
        let checkpointing = tensor.gradient_checkpointing_strategy();
        let device = grad.device();
        let mut theta = tensor.inner();
        if theta.device() != device {
            theta = theta.to_device(&device);
        }
        let grad = flat(grad);
        let slot = previous_slot(
            self.optim.slots.remove(&id),
            &self.torque,
            self.optim.rule.has_second_moment(),
            grad.dims()[0],
            &device,
        );
        let (kick, slot, observed) =
            parameter_kick(&self.torque, &grad, slot, self.global_kick.as_ref());
        if let Some((cosine, s_hat)) = observed {
            self.optim.observe(cosine, s_hat);
        }
        let (theta, slot) = self
            .optim
            .rule
            .update(self.lr, flat(theta), grad, kick, slot);
        self.optim.slots.insert(id, slot);
        // Back onto the autodiff graph as Burn's own optimizers do: same checkpointing, and
        // tracked again if it was.
        let mut updated = Tensor::from_inner(theta.reshape(dims));
        if let Some(strategy) = checkpointing {
            updated = updated.with_gradient_checkpointing_strategy(strategy);
        }
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

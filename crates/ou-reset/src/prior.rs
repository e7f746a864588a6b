//! The initialisation prior `p₀ = N(μ₀, σ₀² I)`, one per parameter tensor (a "group").
//!
//! `σ₀²` is the variance of the initialiser. Burn's `Linear` draws weights and biases uniformly
//! in `(−b, b)`, whose variance is `b²/3`; [`VarRule::Empirical`] reads it off the initial draw
//! (the spread around the tensor's own mean, so a norm gain initialised at 1 gets variance 0, and
//! the floor). `μ₀` is either 0 or the stored initial draw `θ₀` ([`PriorMean`]); the paper found
//! the two alike (its Fig. 23).

use std::collections::HashMap;

use burn::module::{Module, ParamId};
use burn::prelude::*;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::noise;
use crate::params::flat_params;

/// The prior mean `μ₀`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PriorMean {
    /// `μ₀ = 0`: nothing stored (the drift shrinks toward zero).
    Zero,
    /// `μ₀ = θ₀`, the model's parameters when the prior was taken (one extra copy of the model).
    InitialDraw,
}

/// How `σ₀²` is set for each group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum VarRule {
    /// The variance of the group's initial values around their mean, at least `floor`.
    Empirical {
        /// The smallest variance allowed (a zero-initialised bias would otherwise never drift).
        floor: f64,
    },
    /// The same variance for every group.
    Fixed(f64),
}

/// The prior of one parameter tensor.
#[derive(Debug, Clone)]
pub struct GroupPrior {
    /// Burn's id of the parameter.
    pub id: ParamId,
    /// Its dotted path in the model.
    pub name: String,
    /// Number of elements.
    pub numel: usize,
    /// `μ₀`, flat; `None` for [`PriorMean::Zero`].
    pub mean: Option<Tensor<1>>,
    /// The mean of the initial draw (where a fresh draw is centred).
    pub center: f64,
    /// `σ₀²`.
    pub var: f64,
}

/// The initialisation prior of a whole model.
#[derive(Debug, Clone)]
pub struct InitPrior {
    /// Which mean the groups use.
    pub mean: PriorMean,
    /// One prior per float parameter tensor, in visiting order.
    pub groups: Vec<GroupPrior>,
    index: HashMap<ParamId, usize>,
}

impl InitPrior {
    /// The prior of `model` as initialised now (call it before any training step).
    pub fn from_model<M: Module>(model: &M, mean: PriorMean, var: VarRule) -> Self {
        let groups: Vec<GroupPrior> = flat_params(model)
            .into_iter()
            .map(|p| {
                let values = kiln_core::host_values(p.value.clone());
                let n = values.len().max(1) as f64;
                let center = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                let spread = values
                    .iter()
                    .map(|&v| (f64::from(v) - center).powi(2))
                    .sum::<f64>()
                    / n;
                let var = match var {
                    VarRule::Empirical { floor } => spread.max(floor),
                    VarRule::Fixed(v) => v,
                };
                GroupPrior {
                    id: p.id,
                    name: p.name,
                    numel: values.len(),
                    mean: (mean == PriorMean::InitialDraw).then_some(p.value),
                    center,
                    var,
                }
            })
            .collect();
        let index = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        Self {
            mean,
            groups,
            index,
        }
    }

    /// The prior of parameter `id`, if the model had it.
    pub fn group(&self, id: ParamId) -> Option<&GroupPrior> {
        self.index.get(&id).map(|&i| &self.groups[i])
    }

    /// Number of groups (parameter tensors).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether the model had no float parameters.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Total number of parameters `P`.
    pub fn num_params(&self) -> usize {
        self.groups.iter().map(|g| g.numel).sum()
    }

    /// `model` re-initialised: every group redrawn uniformly around its initial mean with
    /// variance `σ₀²` (the family of Burn's `Linear` initialiser), from `rng`. A hard reset.
    pub fn redraw<M: Module>(&self, model: M, rng: &mut SeededRng) -> M {
        crate::params::map_flat(model, |id, value| match self.group(id) {
            Some(g) => {
                let bound = (3.0 * g.var).sqrt();
                noise::uniform(rng, g.numel, bound, &value.device()).add_scalar(g.center)
            }
            None => value,
        })
    }
}

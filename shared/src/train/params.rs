//! Counting a model's trainable parameters, as papers count them, and reading them all back.
//!
//! Burn's `Module::num_params` also counts buffers such as batch-norm running statistics, which
//! PyTorch and JAX papers leave out. [`trainable_params`] counts only tensors that require
//! gradients, so it matches the papers' tables. Build the module on an autodiff device
//! (`device.autodiff()`): on a plain device nothing requires gradients and the count is 0.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

/// Number of scalars in parameters that require gradients.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if value.is_require_grad() {
                self.0 += value.shape().num_elements();
            }
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}

/// Every float parameter's values, in visiting order, concatenated: for comparing two models
/// (a resumed run with an uninterrupted one, two optimizers) value by value.
pub fn parameter_values<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(crate::host_values(param.val()));
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// Draws every lazily initialised parameter of `module` now, in visiting order.
///
/// Burn creates a layer's weights on first use, so without this they are drawn from the random
/// generator whenever the first forward pass (or a read) happens to reach them, and two models
/// built after the same seed can differ. Call it at the end of a model's `init`, right after
/// seeding, and the weights depend on the seed alone.
///
/// A model handed to another thread must be materialized first: otherwise that thread draws its
/// weights from the shared generator whenever it first computes, and two models trained in two
/// threads swap draws from run to run (measured in the fact-learning reproduction).
pub fn materialize<M: Module>(module: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

#[cfg(test)]
mod tests {
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};

    use super::*;

    #[derive(Module, Debug)]
    struct Net {
        linear: Linear,
        norm: BatchNorm,
    }

    #[test]
    fn materialized_models_depend_on_the_seed_alone() {
        let _lock = crate::train::device_rng_lock();
        let device = Device::default();
        let build = || {
            device.seed(9);
            let layer = LinearConfig::new(4, 4).init(&device);
            materialize(&layer);
            layer
        };
        let (first, second) = (build(), build());
        // Without `materialize` the first layer would draw its weights only now, after the
        // second build moved the generator on.
        assert_eq!(parameter_values(&first), parameter_values(&second));
    }

    #[test]
    fn counts_weights_but_not_running_statistics() {
        let _lock = crate::train::device_rng_lock();
        let device = Device::default().autodiff();
        let net = Net {
            linear: LinearConfig::new(3, 4).init(&device),
            norm: BatchNormConfig::new(4).init(&device),
        };
        // 3·4 + 4 weights and biases, 4 + 4 scale and shift; the 8 running statistics excluded.
        assert_eq!(trainable_params(&net), 24);
        assert_eq!(net.num_params(), 32);
        assert_eq!(parameter_values(&net).len(), 32);
        assert_eq!(trainable_params(&net.no_grad()), 0);
    }
}

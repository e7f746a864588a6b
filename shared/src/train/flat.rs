//! A model's float parameters as flat vectors: read them with their dotted names, or rewrite
//! them one by one (ou-reset's methods work tensor by tensor through these walks; the LoRA
//! tests perturb single adapter entries with them). LoRA adapters are visited as parameters of
//! their own, after the frozen weight they adapt (`….weight.lora.a`, `….weight.lora.b`).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

/// One float parameter tensor, flattened, off the autodiff graph.
#[derive(Debug, Clone)]
pub struct FlatParam {
    /// Burn's id of the parameter.
    pub id: ParamId,
    /// Its dotted path in the model, e.g. `layers.0.weight`.
    pub name: String,
    /// Its values, flat and detached (on the inner, non-autodiff backend).
    pub value: Tensor<1>,
}

/// Every float parameter of `model`, in visiting order.
pub fn flat_params<M: Module>(model: &M) -> Vec<FlatParam> {
    struct Collect {
        path: Vec<String>,
        out: Vec<FlatParam>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val().inner();
            let n = value.shape().num_elements();
            self.out.push(FlatParam {
                id: param.id,
                name: self.path.join("."),
                value: value.reshape([n]),
            });
        }
    }
    let mut collect = Collect {
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut collect);
    collect.out
}

/// `model` with every float parameter replaced by `edit(id, flat detached value)`, reshaped
/// back; `edit` must keep the number of elements. A parameter that required gradients still
/// does (as a fresh leaf), as after one of Burn's optimizer steps.
pub fn map_flat<M: Module>(model: M, edit: impl FnMut(ParamId, Tensor<1>) -> Tensor<1>) -> M {
    struct Edit<F>(F);
    impl<F: FnMut(ParamId, Tensor<1>) -> Tensor<1>> ModuleMapper for Edit<F> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let dims = tensor.dims();
            let require_grad = tensor.is_require_grad();
            let inner = tensor.inner();
            let n = inner.shape().num_elements();
            let edited = (self.0)(id, inner.reshape([n]));
            let mut value = Tensor::from_inner(edited.reshape(dims));
            if require_grad {
                value = value.require_grad();
            }
            Param::from_mapped_value(id, value, mapper)
        }
    }
    model.map(&mut Edit(edit))
}

/// The gradient of every parameter of `model` in `grads`, flat and keyed by id (parameters
/// without one are left out).
pub fn flat_grads<M: Module>(
    model: &M,
    grads: &burn::optim::GradientsParams,
) -> std::collections::HashMap<ParamId, Tensor<1>> {
    struct Collect<'a> {
        grads: &'a burn::optim::GradientsParams,
        out: std::collections::HashMap<ParamId, Tensor<1>>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let n = g.shape().num_elements();
                self.out.insert(param.id, g.reshape([n]));
            }
        }
    }
    let mut collect = Collect {
        grads,
        out: std::collections::HashMap::new(),
    };
    model.visit(&mut collect);
    collect.out
}

/// `grads` with the gradient of every parameter of `model` replaced by
/// `edit(id, flat value, flat gradient)` (same number of elements).
pub fn edit_grads<M: Module>(
    model: &M,
    grads: burn::optim::GradientsParams,
    edit: impl FnMut(ParamId, Tensor<1>, Tensor<1>) -> Tensor<1>,
) -> burn::optim::GradientsParams {
    struct Edit<F> {
        grads: burn::optim::GradientsParams,
        edit: F,
    }
    impl<F: FnMut(ParamId, Tensor<1>, Tensor<1>) -> Tensor<1>> ModuleVisitor for Edit<F> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some(g) = self.grads.remove::<D>(param.id) else {
                return;
            };
            let dims = g.dims();
            let n = g.shape().num_elements();
            let value = param.val().inner().reshape([n]);
            let edited = (self.edit)(param.id, value, g.reshape([n]));
            self.grads.register::<D>(param.id, edited.reshape(dims));
        }
    }
    let mut visitor = Edit { grads, edit };
    model.visit(&mut visitor);
    visitor.grads
}

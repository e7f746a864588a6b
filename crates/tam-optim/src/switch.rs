//! TAM as a warm-up: one optimizer for the first steps, another after (the paper's §4.4 use).

use burn::module::Module;
use burn::optim::{GradientsParams, LearningRate};

use kiln_core::train::ModuleStep;

/// Runs `first` for `switch_at` steps, then `then` for the rest of training. The author's
/// nanoGPT fork runs the prototype for a few hundred initial steps and then switches to AdamW;
/// the paper reports that 25 to 50 TAM steps already delay gradient-norm spikes.
pub struct SwitchAfter<A: ModuleStep, B: ModuleStep> {
    first: A,
    then: B,
    switch_at: usize,
    steps: usize,
}

impl<A: ModuleStep, B: ModuleStep> SwitchAfter<A, B> {
    /// `first` for `switch_at` steps, `then` afterwards.
    pub fn new(first: A, then: B, switch_at: usize) -> Self {
        Self {
            first,
            then,
            switch_at,
            steps: 0,
        }
    }

    /// Whether the next step is taken by `then`.
    pub fn switched(&self) -> bool {
        self.steps >= self.switch_at
    }

    /// The two optimizers.
    pub fn parts(&self) -> (&A, &B) {
        (&self.first, &self.then)
    }
}

impl<A: ModuleStep, B: ModuleStep> ModuleStep for SwitchAfter<A, B> {
    fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        let module = if self.switched() {
            self.then.step(lr, module, grads)
        } else {
            self.first.step(lr, module, grads)
        };
        self.steps += 1;
        module
    }
}

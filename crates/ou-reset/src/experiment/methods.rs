//! Each compared method built as a [`StreamLearner`] around Burn's SGD.

use burn::module::Module;
use burn::optim::{ModuleOptimizer, SgdConfig};

use super::config::{MethodKind, MethodsConfig};
use crate::{
    GammaSource, HardReset, InitPrior, L2Init, LrRule, Online, ResetSchedule, ShrinkPerturb,
    SoftReset, SoftResetConfig, StreamLearner, VarRule, Variant,
};

fn sgd() -> ModuleOptimizer {
    SgdConfig::new().init()
}

/// `kind` for a model initialised as `model`, its noise seeded by `seed`.
pub fn build<M: Module + Clone + 'static>(
    kind: MethodKind,
    model: &M,
    config: &MethodsConfig,
    seed: u64,
) -> Box<dyn StreamLearner<M>> {
    let lr = config.lr;
    let prior = || {
        InitPrior::from_model(
            model,
            config.prior_mean,
            VarRule::Empirical {
                floor: config.var_floor,
            },
        )
    };
    let soft = |cfg: &SoftResetConfig| -> Box<dyn StreamLearner<M>> {
        Box::new(SoftReset::new(prior(), cfg.clone(), sgd(), seed))
    };
    let perfect = |lr_rule: LrRule| {
        soft(&SoftResetConfig {
            granularity: crate::Granularity::PerLayer,
            lr,
            lr_rule,
            gamma: GammaSource::Oracle {
                at_boundary: config.perfect_gamma,
            },
            variant: Variant::Sgd,
        })
    };
    match kind {
        MethodKind::OnlineSgd => Box::new(Online::new(sgd(), lr)),
        MethodKind::HardReset => Box::new(HardReset::new(
            Online::new(sgd(), lr),
            prior(),
            ResetSchedule::AtBoundaries,
            seed,
        )),
        MethodKind::L2Init => {
            Box::new(L2Init::new(Online::new(sgd(), lr), model, config.l2_lambda))
        }
        MethodKind::ShrinkPerturb => Box::new(ShrinkPerturb::new(
            Online::new(sgd(), lr),
            config.shrink,
            config.perturb,
            ResetSchedule::AtBoundaries,
            seed,
        )),
        MethodKind::SoftReset => soft(&config.soft_reset),
        MethodKind::SoftResetProximal => soft(&config.proximal),
        MethodKind::BayesianSoftReset => soft(&config.bayesian),
        MethodKind::PerfectResetConstantLr => perfect(LrRule::Constant),
        MethodKind::PerfectResetHigherLr => perfect(LrRule::VarianceRatio {
            rho: config.perfect_rho,
        }),
    }
}

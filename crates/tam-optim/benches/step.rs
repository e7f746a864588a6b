//! What TAM and AdaTAM cost per step, against Burn's SGD with momentum and Adam, on a 10M
//! parameter MLP (784-2048-2048-2048-10). Only the optimizer step is timed, from fixed
//! gradients; at the end the overhead ratios are printed from criterion's own estimates.
//!
//! `cargo bench -p kiln-tam-optim --bench step`

use std::path::PathBuf;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use criterion::{BatchSize, Criterion};
use kiln_tam_optim::mlp::Mlp;
use kiln_tam_optim::{AdaTamConfig, ModuleStep, TamConfig};

/// One set of gradients, kept so that every timed step starts from the same ones.
struct FixedGrads {
    weights: Vec<(ParamId, Tensor<2>)>,
    biases: Vec<(ParamId, Tensor<1>)>,
}

struct Collect<'a> {
    grads: &'a GradientsParams,
    out: &'a mut FixedGrads,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // `get` must be asked for the parameter's own rank.
        if D == 2 {
            if let Some(g) = self.grads.get::<2>(param.id) {
                self.out.weights.push((param.id, g));
            }
        } else if D == 1
            && let Some(g) = self.grads.get::<1>(param.id)
        {
            self.out.biases.push((param.id, g));
        }
    }
}

impl FixedGrads {
    fn of(model: &Mlp, device: &Device) -> Self {
        let x = Tensor::<2>::random([64, 784], burn::tensor::Distribution::Default, device);
        let loss = model.forward(x).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), model);
        let mut out = Self {
            weights: vec![],
            biases: vec![],
        };
        model.visit(&mut Collect {
            grads: &grads,
            out: &mut out,
        });
        out
    }

    fn fresh(&self) -> GradientsParams {
        let mut grads = GradientsParams::new();
        for (id, g) in &self.weights {
            grads.register(*id, g.clone());
        }
        for (id, g) in &self.biases {
            grads.register(*id, g.clone());
        }
        grads
    }
}

const LR: f64 = 1e-3;

/// Times one step of `optim` after two warm-up steps (so that every state buffer exists).
fn bench_optimizer<O: ModuleStep + Clone>(
    c: &mut Criterion,
    name: &str,
    mut optim: O,
    model: &Mlp,
    grads: &FixedGrads,
) {
    let mut warm = model.clone();
    for _ in 0..2 {
        warm = optim.step(LR, warm, grads.fresh());
    }
    c.bench_function(name, |b| {
        b.iter_batched(
            || (optim.clone(), warm.clone(), grads.fresh()),
            |(mut o, m, g)| o.step(LR, m, g),
            BatchSize::SmallInput,
        )
    });
}

/// The median step time criterion estimated for `name`, in nanoseconds.
fn median_ns(name: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = dir.join("criterion").join(name).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    // {"mean":{…},"median":{"confidence_interval":{…},"point_estimate":123.4,…},…}
    let median = text.split("\"median\"").nth(1)?;
    let value = median.split("\"point_estimate\":").nth(1)?;
    value.split([',', '}']).next()?.trim().parse().ok()
}

fn main() {
    let device = Device::default().autodiff();
    device.seed(0);
    let model = Mlp::new(&[784, 2048, 2048, 2048, 10], &device);
    let params = model.num_params();
    let grads = FixedGrads::of(&model, &device);
    println!("optimizer step on an MLP with {params} parameters");

    let mut c = Criterion::default().sample_size(20).configure_from_args();
    let sgdm = SgdConfig::new().with_momentum(Some(MomentumConfig::new().with_dampening(0.0)));
    bench_optimizer(&mut c, "sgd-momentum", sgdm.init(), &model, &grads);
    bench_optimizer(&mut c, "tam", TamConfig::new().init(), &model, &grads);
    let per_tensor = TamConfig::new().init_module_optimizer();
    bench_optimizer(&mut c, "tam-per-tensor", per_tensor, &model, &grads);
    let adam = AdamConfig::new().with_epsilon(1e-8);
    bench_optimizer(&mut c, "adam", adam.init(), &model, &grads);
    bench_optimizer(&mut c, "adatam", AdaTamConfig::new().init(), &model, &grads);
    bench_optimizer(&mut c, "sgd", SgdConfig::new().init(), &model, &grads);
    c.final_summary();

    println!("\nstep time relative to the baseline of the same family (criterion medians):");
    for (name, baseline) in [
        ("tam", "sgd-momentum"),
        ("tam-per-tensor", "sgd-momentum"),
        ("adatam", "adam"),
    ] {
        match (median_ns(name), median_ns(baseline)) {
            (Some(t), Some(b)) => println!(
                "  {name:>15} / {baseline:<13} = {:.2}  ({:.2} ms vs {:.2} ms)",
                t / b,
                t / 1e6,
                b / 1e6
            ),
            _ => println!("  {name}: no estimate found (run the whole bench, not a filtered part)"),
        }
    }
}

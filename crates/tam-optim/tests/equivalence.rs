//! The optimizers against closed forms, Burn's own optimizers and the `f64` reference.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::module::{Module, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use kiln_core::host_values;
use kiln_core::train::{SeededRng, device_rng_lock, parameter_values};
use kiln_tam_optim::mlp::Mlp;
use kiln_tam_optim::reference::{ReferenceAdaTam, ReferenceTam};
use kiln_tam_optim::{AdaTamConfig, CosineScope, FirstStep, ModuleStep, SwitchAfter, TamConfig};

/// Free parameter vectors, so that a test can hand each one any gradient it likes.
#[derive(Module, Debug)]
struct Vectors {
    parts: Vec<Param<Tensor<1>>>,
}

impl Vectors {
    fn new(values: &[&[f32]], device: &Device) -> Self {
        let parts = values
            .iter()
            .map(|v| Param::from_tensor(Tensor::from_floats(*v, device).require_grad()))
            .collect();
        Self { parts }
    }

    /// `grads[i]` for part `i`; `None` leaves that part without a gradient.
    fn grads(&self, grads: &[Option<&[f64]>]) -> GradientsParams {
        let mut out = GradientsParams::new();
        for (part, grad) in self.parts.iter().zip(grads) {
            if let Some(g) = grad {
                let g: Vec<f32> = g.iter().map(|&x| x as f32).collect();
                out.register(part.id, Tensor::<1>::from_floats(g.as_slice(), &cpu()));
            }
        }
        out
    }

    fn values(&self) -> Vec<Vec<f64>> {
        self.parts
            .iter()
            .map(|p| host_values(p.val()).into_iter().map(f64::from).collect())
            .collect()
    }
}

fn cpu() -> Device {
    Device::default()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "{what}[{i}]: {a} vs {e} (tolerance {tol})"
        );
    }
}

/// A 2-D trace worked by hand: lr 1, θ₀ = 0, gradients (1,0), (0,1), (−1,0), (0,−1).
#[test]
fn four_step_trace_matches_the_spec() {
    let device = cpu().autodiff();
    let grads: [[f64; 2]; 4] = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]];
    let expected_s_hat = [0.0, 0.0, -0.0874157, -0.1572944];
    let mut model = Vectors::new(&[&[0.0, 0.0]], &device);
    let mut optim = TamConfig::new().init();
    let mut reference = ReferenceTam::new(&TamConfig::new());
    let mut theta = vec![0.0; 2];
    for (g, s_hat) in grads.iter().zip(expected_s_hat) {
        let gp = model.grads(&[Some(g)]);
        model = optim.step(1.0, model, gp);
        reference.step(&mut theta, g, 1.0);
        assert!((reference.s_hat() - s_hat).abs() < 1e-6, "reference ŝ");
        if let Some(stats) = optim.stats() {
            assert!((stats.s_hat - s_hat).abs() < 1e-6, "ŝ {}", stats.s_hat);
        }
    }
    let stats = optim.stats().expect("damped steps were taken");
    assert!((stats.cosine - -0.7862025).abs() < 1e-6);
    assert!((stats.damping + 1e-8 - 0.4213528).abs() < 1e-6);
    assert_close(&model.values()[0], &[-2.5720449, -0.9336472], 1e-6, "θ₄");
    assert_close(&theta, &[-2.5720449, -0.9336472], 1e-6, "reference θ₄");
    assert_close(
        reference.momentum().unwrap(),
        &[0.3183371, -0.0163528],
        1e-6,
        "m₄",
    );
}

/// Two steps worked by hand, with coupled weight decay: the cosine must use the raw gradient,
/// the momentum the decayed one.
///
/// θ₀ = (1, 2), λ = 0.1, η = 0.1, g₁ = (1, 1), g₂ = (2, 0).
/// Step 1 (CopyGrad): m₁ = g₁ + λθ₀ = (1.1, 1.2); θ₁ = θ₀ − η m₁ = (0.89, 1.88).
/// Step 2: S₂ = ⟨m₁, g₂⟩ / (‖m₁‖‖g₂‖) = 2.2 / (√2.65 · 2) = 0.6757246; ŝ₂ = 0.1 S₂ = 0.06757246;
/// ε + d₂ = 1e-8 + (1 + ŝ₂)/2 = 0.53378624; g₂ + λθ₁ = (2.089, 0.188);
/// m₂ = 0.9 m₁ + 0.53378624 (2.089, 0.188) = (2.10507946, 1.18035181);
/// θ₂ = θ₁ − η m₂ = (0.67949205, 1.76196482).
#[test]
fn two_steps_match_a_hand_computation() {
    let device = cpu().autodiff();
    let config = TamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(0.1)));
    let mut optim = config.init();
    let mut model = Vectors::new(&[&[1.0, 2.0]], &device);
    let gp = model.grads(&[Some(&[1.0, 1.0])]);
    model = optim.step(0.1, model, gp);
    assert_close(&model.values()[0], &[0.89, 1.88], 1e-6, "θ₁");
    let gp = model.grads(&[Some(&[2.0, 0.0])]);
    model = optim.step(0.1, model, gp);
    let stats = optim.stats().unwrap();
    assert!((stats.cosine - 0.6757246).abs() < 1e-6, "{stats:?}");
    assert_close(&model.values()[0], &[0.67949205, 1.76196482], 1e-6, "θ₂");
}

fn regression_loss(model: &Mlp, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    (model.forward(x) - y).square().mean()
}

fn flat(model: &Mlp) -> Vec<f64> {
    parameter_values(model).into_iter().map(f64::from).collect()
}

/// A fixed regression problem and a fresh model, seeded.
fn problem(seed: u64) -> (Mlp, Tensor<2>, Tensor<2>, Device) {
    let device = cpu().autodiff();
    device.seed(seed);
    let model = Mlp::new(&[6, 16, 3], &device);
    let mut rng = SeededRng::new(seed);
    let x: Vec<f32> = (0..32 * 6).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..32 * 3).map(|_| rng.normal() as f32).collect();
    let x = Tensor::<1>::from_floats(x.as_slice(), &device).reshape([32, 6]);
    let y = Tensor::<1>::from_floats(y.as_slice(), &device).reshape([32, 3]);
    (model, x, y, device)
}

/// Trains two copies of one model side by side, each with its own optimizer, and returns the
/// largest parameter difference over `steps` steps.
fn max_divergence(
    mut a: impl ModuleStep,
    mut b: impl ModuleStep,
    lr: f64,
    steps: usize,
    seed: u64,
) -> f64 {
    let _lock = device_rng_lock();
    let (model, x, y) = {
        let (m, x, y, _) = problem(seed);
        (m, x, y)
    };
    let (mut ma, mut mb) = (model.clone(), model);
    let mut worst = 0.0f64;
    for _ in 0..steps {
        let ga =
            GradientsParams::from_grads(regression_loss(&ma, x.clone(), y.clone()).backward(), &ma);
        let gb =
            GradientsParams::from_grads(regression_loss(&mb, x.clone(), y.clone()).backward(), &mb);
        ma = a.step(lr, ma, ga);
        mb = b.step(lr, mb, gb);
        for (p, q) in flat(&ma).iter().zip(flat(&mb)) {
            worst = worst.max((p - q).abs());
        }
    }
    worst
}

fn sgd_momentum(nesterov: bool) -> burn::optim::ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_dampening(0.0)
                .with_nesterov(nesterov),
        ))
        .init()
}

#[test]
fn undamped_tam_is_sgd_with_momentum_for_100_steps() {
    let tam = TamConfig::new().with_force_sgdm(true);
    let gap = max_divergence(tam.init(), sgd_momentum(false), 0.05, 100, 1);
    assert!(gap <= 1e-6, "largest difference {gap}");
    let gap = max_divergence(
        tam.clone().with_nesterov(true).init(),
        sgd_momentum(true),
        0.05,
        100,
        2,
    );
    assert!(gap <= 1e-6, "Nesterov: largest difference {gap}");
    // The per-tensor optimizer for Burn's ModuleOptimizer is the same rule.
    let gap = max_divergence(
        tam.init_module_optimizer(),
        sgd_momentum(false),
        0.05,
        100,
        3,
    );
    assert!(gap <= 1e-6, "per tensor: largest difference {gap}");
}

#[test]
fn undamped_tam_with_weight_decay_is_burns_sgd_with_weight_decay() {
    let decay = Some(WeightDecayConfig::new(0.01));
    let tam = TamConfig::new()
        .with_force_sgdm(true)
        .with_weight_decay(decay.clone());
    let sgd = SgdConfig::new()
        .with_weight_decay(decay)
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init();
    let gap = max_divergence(tam.init(), sgd, 0.05, 50, 4);
    assert!(gap <= 1e-6, "largest difference {gap}");
}

#[test]
fn the_first_step_is_plain_sgd() {
    let gap = max_divergence(TamConfig::new().init(), SgdConfig::new().init(), 0.1, 1, 5);
    assert_eq!(gap, 0.0);
    // …and the damping changes the second.
    let gap = max_divergence(TamConfig::new().init(), sgd_momentum(false), 0.1, 2, 5);
    assert!(gap > 1e-4, "TAM and SGDM agree on step 2 ({gap})");
}

#[test]
fn undamped_adatam_in_adams_form_is_burns_adam() {
    let adatam = AdaTamConfig::new()
        .with_force_adam(true)
        .with_ema_first_moment(true)
        .with_bias_correction(true);
    let adam = AdamConfig::new().with_epsilon(1e-8).init();
    let gap = max_divergence(adatam.init(), adam, 1e-2, 100, 6);
    assert!(gap <= 1e-5, "largest difference {gap}");
}

/// Runs a Burn optimizer on two parameter vectors and the `f64` reference on their
/// concatenation, with the same pseudo-random gradients; returns the largest difference.
fn against_reference(
    mut optim: impl ModuleStep,
    mut reference: impl FnMut(&mut [f64], &[f64]) -> f64,
    lr: f64,
    steps: usize,
) -> f64 {
    let device = cpu().autodiff();
    let init: Vec<f64> = (0..7).map(|i| 0.3 * f64::from(i) - 1.0).collect();
    let as_f32: Vec<f32> = init.iter().map(|&v| v as f32).collect();
    let mut model = Vectors::new(&[&as_f32[..3], &as_f32[3..]], &device);
    let mut theta = init;
    let mut rng = SeededRng::new(7);
    let mut worst = 0.0f64;
    for step in 0..steps {
        // A drifting gradient: a persistent direction plus noise, so the cosine moves about.
        let g: Vec<f64> = (0..7)
            .map(|i| (f64::from(i) + step as f64 * 0.1).sin() + 0.5 * rng.normal())
            .collect();
        let gp = model.grads(&[Some(&g[..3]), Some(&g[3..])]);
        model = optim.step(lr, model, gp);
        reference(&mut theta, &g);
        let ours: Vec<f64> = model.values().concat();
        for (a, b) in ours.iter().zip(&theta) {
            worst = worst.max((a - b).abs() / (1.0 + b.abs()));
        }
    }
    worst
}

#[test]
fn burn_tam_follows_the_reference() {
    for config in [
        TamConfig::new(),
        TamConfig::new().with_first_step(FirstStep::ZeroMomentum),
        TamConfig::new().with_nesterov(true),
        TamConfig::new()
            .with_weight_decay(Some(WeightDecayConfig::new(0.05)))
            .with_decoupled_weight_decay(true),
    ] {
        let mut reference = ReferenceTam::new(&config);
        let gap = against_reference(config.init(), |t, g| reference.step(t, g, 0.05), 0.05, 60);
        assert!(gap < 1e-5, "{config:?}: relative gap {gap}");
    }
}

#[test]
fn burn_adatam_follows_the_reference() {
    for config in [
        AdaTamConfig::new(),
        AdaTamConfig::new().with_weight_decay(0.01),
        AdaTamConfig::new().with_first_step(FirstStep::ZeroMomentum),
    ] {
        let mut reference = ReferenceAdaTam::new(&config);
        let gap = against_reference(config.init(), |t, g| reference.step(t, g, 1e-3), 1e-3, 60);
        assert!(gap < 1e-5, "{config:?}: relative gap {gap}");
    }
}

#[test]
fn global_scope_does_not_see_how_parameters_are_split() {
    let device = cpu().autodiff();
    let mut whole = Vectors::new(&[&[0.5, -1.0, 2.0, 0.0]], &device);
    let mut split = Vectors::new(&[&[0.5, -1.0], &[2.0, 0.0]], &device);
    let (mut a, mut b) = (TamConfig::new().init(), TamConfig::new().init());
    let mut rng = SeededRng::new(11);
    for _ in 0..30 {
        let g: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
        let gw = whole.grads(&[Some(&g)]);
        let gs = split.grads(&[Some(&g[..2]), Some(&g[2..])]);
        whole = a.step(0.1, whole, gw);
        split = b.step(0.1, split, gs);
    }
    assert_close(&whole.values()[0], &split.values().concat(), 1e-6, "θ");
}

#[test]
fn per_tensor_scope_is_global_scope_for_one_tensor() {
    let device = cpu().autodiff();
    let mut a_model = Vectors::new(&[&[0.5, -1.0, 2.0]], &device);
    let mut b_model = a_model.clone();
    let mut c_model = a_model.clone();
    let mut global = TamConfig::new().init();
    let mut per_tensor = TamConfig::new().with_scope(CosineScope::PerTensor).init();
    let mut burn_per_tensor = TamConfig::new().init_module_optimizer();
    let mut rng = SeededRng::new(12);
    for _ in 0..30 {
        let g: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
        let (ga, gb, gc) = (
            a_model.grads(&[Some(&g)]),
            b_model.grads(&[Some(&g)]),
            c_model.grads(&[Some(&g)]),
        );
        a_model = global.step(0.1, a_model, ga);
        b_model = per_tensor.step(0.1, b_model, gb);
        c_model = ModuleStep::step(&mut burn_per_tensor, 0.1, c_model, gc);
    }
    let a = a_model.values().concat();
    assert_close(&b_model.values().concat(), &a, 1e-6, "per-tensor scope");
    assert_close(&c_model.values().concat(), &a, 1e-6, "Burn ModuleOptimizer");
}

#[test]
fn per_tensor_scope_differs_from_global_scope_for_two_tensors() {
    let device = cpu().autodiff();
    let mut a = Vectors::new(&[&[1.0], &[1.0]], &device);
    let mut b = a.clone();
    let mut global = TamConfig::new().init();
    let mut per_tensor = TamConfig::new().with_scope(CosineScope::PerTensor).init();
    // The first part keeps its direction, the second flips: only per tensor can tell them apart.
    for g in [[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]] {
        let (ga, gb) = (
            a.grads(&[Some(&g[..1]), Some(&g[1..])]),
            b.grads(&[Some(&g[..1]), Some(&g[1..])]),
        );
        a = global.step(0.1, a, ga);
        b = per_tensor.step(0.1, b, gb);
    }
    let (a, b) = (a.values().concat(), b.values().concat());
    // Per tensor, the steady part is damped less, so it moves further.
    assert!(b[0] < a[0] - 1e-3, "global {a:?}, per tensor {b:?}");
}

#[test]
fn parameters_without_a_gradient_keep_their_value_and_momentum() {
    let device = cpu().autodiff();
    let mut model = Vectors::new(&[&[0.0], &[0.0]], &device);
    let mut optim = TamConfig::new().init();
    let gp = model.grads(&[Some(&[1.0]), Some(&[2.0])]);
    model = optim.step(1.0, model, gp); // m = (1, 2), θ = (−1, −2)
    let gp = model.grads(&[Some(&[1.0]), None]);
    model = optim.step(1.0, model, gp);
    assert_eq!(
        model.values()[1],
        vec![-2.0],
        "a part without gradient moved"
    );
    let d2 = optim.stats().unwrap().damping + 1e-8;
    // Step 2's cosine saw only the first part: m = 1 and g = 1 agree, S = 1.
    assert!((d2 - (1e-8 + (1.0 + 0.1) / 2.0)).abs() < 1e-6, "{d2}");
    let gp = model.grads(&[Some(&[1.0]), Some(&[1.0])]);
    model = optim.step(1.0, model, gp);
    let d3 = optim.stats().unwrap().damping + 1e-8;
    // The second part's momentum survived step 2: m₃ = 0.9 · 2 + d₃ · 1.
    assert_close(&model.values()[1], &[-2.0 - (1.8 + d3)], 1e-6, "θ₃");
}

#[test]
fn zero_gradients_and_zero_momentum_give_no_nan() {
    let device = cpu().autodiff();
    let mut model = Vectors::new(&[&[1.0, 1.0]], &device);
    let mut optim = TamConfig::new()
        .with_first_step(FirstStep::ZeroMomentum)
        .init();
    for g in [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]] {
        let gp = model.grads(&[Some(&g)]);
        model = optim.step(0.1, model, gp);
        let stats = optim.stats().unwrap();
        assert!(stats.cosine.is_finite() && stats.damping.is_finite());
    }
    // ZeroMomentum: the first gradient, 0, entered at ε + ½; the third at a finite weight.
    assert!(model.values()[0].iter().all(|v| v.is_finite()));
    assert!(model.values()[0][0] < 1.0);
}

#[test]
fn switch_after_hands_over_at_the_set_step() {
    let device = cpu().autodiff();
    let start = Vectors::new(&[&[1.0, -1.0]], &device);
    let grads: Vec<[f64; 2]> = (0..6).map(|i| [1.0, f64::from(i) - 2.0]).collect();
    let run = |optim: &mut dyn FnMut(Vectors, GradientsParams) -> Vectors| {
        let mut m = start.clone();
        let mut out = Vec::new();
        for g in &grads {
            let gp = m.grads(&[Some(g)]);
            m = optim(m, gp);
            out.push(m.values().concat());
        }
        out
    };
    let mut switch = SwitchAfter::new(TamConfig::new().init(), SgdConfig::new().init(), 3);
    let switched = run(&mut |m, g| switch.step(0.1, m, g));
    let mut tam = TamConfig::new().init();
    let tam_only = run(&mut |m, g| tam.step(0.1, m, g));
    assert_eq!(switched[..3], tam_only[..3]);
    // After the hand-over plain SGD moves by exactly η g.
    for i in 3..6 {
        let expected: Vec<f64> = (0..2)
            .map(|k| switched[i - 1][k] - 0.1 * grads[i][k])
            .collect();
        assert_close(&switched[i], &expected, 1e-6, "SGD after the switch");
    }
}

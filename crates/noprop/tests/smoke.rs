//! The smoke tests of the NoProp spec (§4), on seeded synthetic data; seconds each.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;

use kiln_core::train::SeededRng;
use kiln_core::train::{FitOptions, Optimize, fit};
use kiln_noprop::NoPropDt;
use kiln_noprop::block::{Denoiser, MlpBlock};
use kiln_noprop::ct::NoPropCt;
use kiln_noprop::embedding::ClassEmbedding;
use kiln_noprop::fm::NoPropFm;
use kiln_noprop::schedule::{DiscreteSchedule, ScheduleConfig};
use kiln_noprop::train::{DtTrainer, OptimizerConfig};

const CLASSES: usize = 4;
const FEATURES: usize = 16;

/// Tests that train from a seed hold the process-wide device RNG lock, so that parallel tests
/// cannot interleave their draws and every result is reproducible.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    kiln_core::train::device_rng_lock()
}

/// Four Gaussian blobs in 16-D: class means at distance ~4σ, as `[n, 1, 1, 16]` "images".
struct Blobs {
    x: Vec<f32>,
    y: Vec<i64>,
}

fn blobs(n: usize, seed: u64) -> Blobs {
    let mut centres = SeededRng::new(1234);
    let means: Vec<Vec<f64>> = (0..CLASSES)
        .map(|_| (0..FEATURES).map(|_| 1.0 * centres.normal()).collect())
        .collect();
    let mut rng = SeededRng::new(seed);
    let mut x = Vec::with_capacity(n * FEATURES);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % CLASSES;
        x.extend(means[class].iter().map(|m| (m + rng.normal()) as f32));
        y.push(class as i64);
    }
    Blobs { x, y }
}

impl Blobs {
    fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let x: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.x[i * FEATURES..(i + 1) * FEATURES].iter().copied())
            .collect();
        let y: Vec<i64> = indices.iter().map(|&i| self.y[i]).collect();
        (
            Tensor::from_data(TensorData::new(x, [indices.len(), 1, 1, FEATURES]), device),
            Tensor::from_data(TensorData::new(y, [indices.len()]), device),
        )
    }

    fn all(&self, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        self.batch(&(0..self.y.len()).collect::<Vec<_>>(), device)
    }
}

fn dt_model(t_blocks: usize, eta: f64, device: &Device) -> NoPropDt<MlpBlock> {
    let blocks = (0..t_blocks)
        .map(|_| MlpBlock::new(FEATURES, CLASSES, 64, CLASSES, false, device))
        .collect();
    let schedule = DiscreteSchedule::new(&ScheduleConfig::default(), t_blocks).unwrap();
    NoPropDt::new(
        blocks,
        ClassEmbedding::one_hot(CLASSES, device),
        schedule,
        eta,
        device,
    )
}

fn accuracy(pred: Tensor<1, Int>, y: Tensor<1, Int>) -> f64 {
    let n = y.dims()[0];
    pred.equal(y).int().sum().into_scalar::<i64>() as f64 / n as f64
}

/// Trains NoProp-DT on blobs with Algorithm 1's order: each block, then the next. Returns test
/// accuracy with the paper's stochastic inference and without the inference noise.
fn train_dt(eta: f64, steps_per_block: usize, seed: u64) -> (f64, f64) {
    let device = Device::default().autodiff();
    device.seed(seed);
    let train = blobs(2048, seed);
    let test = blobs(1024, seed + 1);
    let mut model = dt_model(4, eta, &device);
    let mut trainer = DtTrainer::new(4, &OptimizerConfig::default());
    let mut rng = SeededRng::new(seed);
    for t in 1..=4 {
        for _ in 0..steps_per_block {
            // Batch 128, as in the paper's Table 4.
            let batch: Vec<usize> = (0..128).map(|_| rng.below(2048)).collect();
            let (x, y) = train.batch(&batch, &device);
            model = trainer.step(model, t, x, y).0;
        }
    }
    let valid = model.valid();
    let inner = Device::default();
    let (x, y) = test.all(&inner);
    let deterministic = accuracy(valid.predict(x.clone(), false), y.clone());
    (accuracy(valid.predict(x, true), y), deterministic)
}

#[test]
fn noprop_dt_learns_blobs_and_eta_zero_stays_near_chance() {
    let _rng = rng_lock();
    // Our target: ≥ 90% after 300 steps per block. With T = 4 the last step keeps noise of variance
    // 1 − ᾱ_T ≈ 0.10, which caps stochastic inference near 95% even for perfect blocks; without
    // the inference noise the same model must do better still.
    let (learned, deterministic) = train_dt(0.1, 300, 3);
    eprintln!("NoProp-DT on blobs: {learned:.3} (no inference noise: {deterministic:.3})");
    assert!(learned >= 0.90, "NoProp-DT accuracy {learned}");
    assert!(
        deterministic >= 0.95,
        "NoProp-DT accuracy without inference noise {deterministic}"
    );
    let (ablated, _) = train_dt(0.0, 300, 3);
    eprintln!("η = 0 on blobs: {ablated:.3}");
    assert!(
        ablated <= 0.40,
        "η = 0 accuracy {ablated} should be near chance (0.25)"
    );
}

#[test]
fn noprop_fm_learns_blobs() {
    let _rng = rng_lock();
    let device = Device::default().autodiff();
    device.seed(5);
    let train = blobs(2048, 5);
    let test = blobs(1024, 6);
    let net = MlpBlock::new(FEATURES, CLASSES, 64, CLASSES, true, &device);
    let model = NoPropFm::new(net, ClassEmbedding::one_hot(CLASSES, &device), &device);
    let model = adam_on_blobs(model, &train, 64, 5, |m, x, y| m.loss(x, y));
    let (x, y) = test.all(&Device::default());
    let acc = accuracy(model.valid().predict(x, 20), y);
    eprintln!("NoProp-FM on blobs: {acc:.3}");
    assert!(acc >= 0.90, "NoProp-FM accuracy {acc}");
}

#[test]
fn noprop_ct_learns_blobs_with_its_learned_schedule() {
    let _rng = rng_lock();
    let device = Device::default().autodiff();
    device.seed(8);
    let train = blobs(2048, 8);
    let test = blobs(1024, 9);
    let net = MlpBlock::new(FEATURES, CLASSES, 64, CLASSES, true, &device);
    let model = NoPropCt::new(
        net,
        ClassEmbedding::one_hot(CLASSES, &device),
        64,
        1.0,
        &device,
    );
    let model = adam_on_blobs(model, &train, 128, 8, |m, x, y| m.loss(x, y));
    let (x, y) = test.all(&Device::default());
    let acc = accuracy(model.valid().predict(x, 50, true).unwrap(), y);
    eprintln!("NoProp-CT on blobs: {acc:.3}");
    assert!(acc >= 0.85, "NoProp-CT accuracy {acc}");
}

/// Collects the id and rank of every float parameter of a module.
struct Ids(HashMap<ParamId, usize>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.insert(param.id, D);
    }
}

fn ids<M: Module>(module: &M) -> HashMap<ParamId, usize> {
    let mut v = Ids(HashMap::new());
    module.visit(&mut v);
    v.0
}

/// Whether `grads` holds a gradient for parameter `id` of rank `rank`.
fn has_grad(grads: &GradientsParams, id: ParamId, rank: usize) -> bool {
    match rank {
        1 => grads.get::<1>(id).is_some(),
        2 => grads.get::<2>(id).is_some(),
        other => panic!("unexpected parameter rank {other}"),
    }
}

fn flat_params(block: &MlpBlock) -> Vec<f32> {
    struct Values(Vec<f32>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend(data.try_into_vec::<f32>().unwrap());
        }
    }
    let mut v = Values(vec![]);
    block.visit(&mut v);
    v.0
}

#[test]
fn no_gradient_crosses_blocks() {
    let _rng = rng_lock();
    let device = Device::default().autodiff();
    device.seed(11);
    let model = dt_model(4, 0.1, &device);
    let data = blobs(64, 11);
    let (x, y) = data.all(&device);
    let t = 3;
    let loss = model.block_loss(t, x.clone(), y.clone());
    let grads = GradientsParams::from_grads(loss.total.backward(), &model);

    let own = ids(&model.blocks[t - 1]);
    let head = ids(&model.head);
    for (i, block) in model.blocks.iter().enumerate() {
        for (id, rank) in ids(block) {
            let got = has_grad(&grads, id, rank);
            assert_eq!(
                got,
                i == t - 1,
                "block {} parameter {id} gradient presence",
                i + 1
            );
        }
    }
    assert!(
        own.iter().all(|(&id, &rank)| has_grad(&grads, id, rank)),
        "block {t} lacks gradients"
    );
    assert!(
        head.iter().any(|(&id, &rank)| has_grad(&grads, id, rank)),
        "read-out got no gradient"
    );

    // A training step on block t leaves every other block bit-identical.
    let before: Vec<Vec<f32>> = model.blocks.iter().map(flat_params).collect();
    let mut trainer = DtTrainer::new(4, &OptimizerConfig::default());
    let (after, _) = trainer.step(model, t, x, y);
    for (i, block) in after.blocks.iter().enumerate() {
        let changed = flat_params(block) != before[i];
        assert_eq!(changed, i == t - 1, "block {} changed = {changed}", i + 1);
    }
}

/// A denoiser that knows the answer: the image is the one-hot label, and the logits are a
/// large multiple of it, so `û = softmax(logits) · I ≈ u_y`.
#[derive(Module, Debug)]
struct Oracle {
    unused: Linear,
}

impl Denoiser for Oracle {
    fn logits(&self, x: Tensor<4>, _z: Tensor<2>, _t: Option<Tensor<1>>) -> Tensor<2> {
        x.flatten(1, 3).mul_scalar(1000.0)
    }
}

#[test]
fn with_a_perfect_denoiser_inference_reproduces_the_forward_process() {
    let _rng = rng_lock();
    // Eq. 3 with û ≡ u_y from z_0 ~ N(0, I) must give z_t ~ q(z_t | y) = N(√ᾱ_t u_y, (1 − ᾱ_t) I).
    let device = Device::default();
    device.seed(21);
    let t_blocks = 6;
    let blocks = (0..t_blocks)
        .map(|_| Oracle {
            unused: LinearConfig::new(1, 1).init(&device),
        })
        .collect();
    let schedule = DiscreteSchedule::new(&ScheduleConfig::default(), t_blocks).unwrap();
    let model = NoPropDt::new(
        blocks,
        ClassEmbedding::one_hot(2, &device),
        schedule.clone(),
        0.1,
        &device,
    );
    let n = 20_000;
    let x = Tensor::<4>::from_data(
        TensorData::new([1.0f32, 0.0].repeat(n), [n, 1, 1, 2]),
        &device,
    );
    for (index, z) in model.trajectory(x, true).into_iter().enumerate() {
        let t = index + 1;
        let z = z
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        for (dim, target) in [(0usize, 1.0f64), (1, 0.0)] {
            let values: Vec<f64> = z
                .iter()
                .skip(dim)
                .step_by(2)
                .map(|&v| f64::from(v))
                .collect();
            let mean = values.iter().sum::<f64>() / n as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            let abar = schedule.abar(t);
            assert!(
                (mean - abar.sqrt() * target).abs() < 0.02,
                "t {t} dim {dim}: mean {mean}"
            );
            assert!(
                (var - (1.0 - abar)).abs() < 0.02,
                "t {t} dim {dim}: var {var} vs {}",
                1.0 - abar
            );
        }
    }
}

#[test]
fn block_loss_denoising_term_is_zero_for_a_perfect_denoiser() {
    let device = Device::default();
    let blocks = vec![Oracle {
        unused: LinearConfig::new(1, 1).init(&device),
    }];
    let schedule = DiscreteSchedule::new(&ScheduleConfig::default(), 1).unwrap();
    let model = NoPropDt::new(
        blocks,
        ClassEmbedding::one_hot(2, &device),
        schedule,
        0.1,
        &device,
    );
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [2, 1, 1, 2]),
        &device,
    );
    let y = Tensor::<1, Int>::from_ints([1, 0], &device);
    let loss = model.block_loss(1, x, y);
    assert!(loss.denoise.into_scalar::<f32>() < 1e-6);
}

/// Trains `model` on `loss` with Table 4's Adam for 600 steps of `batch` random blob points,
/// drawn from `seed`.
fn adam_on_blobs<M: Module>(
    model: M,
    train: &Blobs,
    batch: usize,
    seed: u64,
    loss: impl Fn(&M, Tensor<4>, Tensor<1, Int>) -> Tensor<1>,
) -> M {
    let config = OptimizerConfig::default();
    let mut optim = config.adam();
    let mut rng = SeededRng::new(seed);
    let device = Device::default().autodiff();
    let batches = (0..600).map(|_| {
        let picked: Vec<usize> = (0..batch).map(|_| rng.below(train.y.len())).collect();
        train.batch(&picked, &device)
    });
    let step = &mut Optimize::new(&mut optim, |_| config.lr);
    fit(
        model,
        batches,
        |m, (x, y)| loss(m, x, y),
        step,
        FitOptions::log_every(0),
        |_, _| {},
    )
    .model
}

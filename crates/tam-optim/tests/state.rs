//! Saved optimizer state resumes a run exactly; TAM and AdaTAM train a real model.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Bytes;
use kiln_core::train::{SeededRng, accuracy, cross_entropy, device_rng_lock, parameter_values};
use kiln_tam_optim::mlp::Mlp;
use kiln_tam_optim::{
    AdaTamConfig, CosineScope, ModuleStep, StateError, TamConfig, TorqueOptimizer, TorqueRule,
};

/// Four Gaussian blobs in the plane, one per class, 256 points each.
fn blobs(device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    let centres = [(2.0, 2.0), (-2.0, 2.0), (-2.0, -2.0), (2.0, -2.0)];
    let mut rng = SeededRng::new(3);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..256 {
        for (class, (cx, cy)) in centres.iter().enumerate() {
            x.push((cx + 0.8 * rng.normal()) as f32);
            x.push((cy + 0.8 * rng.normal()) as f32);
            y.push(class as i64);
        }
    }
    let n = y.len();
    (
        Tensor::<1>::from_floats(x.as_slice(), device).reshape([n, 2]),
        Tensor::from_data(TensorData::new(y, [n]), device),
    )
}

/// `steps` full-batch steps; the parameters after each.
fn train(optim: &mut impl ModuleStep, lr: f64, steps: usize, mut model: Mlp) -> (Mlp, Vec<f32>) {
    let device = model.devices()[0].clone();
    let (x, y) = blobs(&device);
    for _ in 0..steps {
        let loss = cross_entropy(model.forward(x.clone()), y.clone()).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
    }
    let params = parameter_values(&model);
    (model, params)
}

fn fresh_model(seed: u64) -> Mlp {
    let device = Device::default().autodiff();
    device.seed(seed);
    Mlp::new(&[2, 32, 4], &device)
}

#[test]
fn tam_and_adatam_fit_four_blobs_in_200_steps() {
    let _lock = device_rng_lock();
    for (name, accuracy_after) in [
        ("TAM", {
            let (m, _) = train(&mut TamConfig::new().init(), 0.1, 200, fresh_model(1));
            blob_accuracy(&m)
        }),
        ("AdaTAM", {
            let (m, _) = train(&mut AdaTamConfig::new().init(), 1e-3, 200, fresh_model(1));
            blob_accuracy(&m)
        }),
    ] {
        // Chance is 25%; the blobs overlap a little, so a perfect fit is not possible.
        assert!(accuracy_after >= 0.95, "{name}: {accuracy_after}");
    }
}

fn blob_accuracy(model: &Mlp) -> f64 {
    let (x, y) = blobs(&model.devices()[0]);
    accuracy(model.forward(x), y)
}

/// Trains 12 steps straight, and 5 + save/load + 7; both must end bit for bit the same.
fn resumes_exactly<O: ModuleStep>(
    make: impl Fn() -> O,
    save: impl Fn(&O) -> Vec<u8>,
    load: impl Fn(O, Vec<u8>) -> O,
    lr: f64,
) {
    let _lock = device_rng_lock();
    let (_, straight) = train(&mut make(), lr, 12, fresh_model(2));
    let mut first = make();
    let (model, _) = train(&mut first, lr, 5, fresh_model(2));
    let bytes = save(&first);
    drop(first);
    let mut resumed = load(make(), bytes);
    let (_, resumed_params) = train(&mut resumed, lr, 7, model);
    assert_eq!(
        straight, resumed_params,
        "a resumed run left the straight one"
    );
}

/// [`resumes_exactly`] for a torque optimizer, through its own burnpack bytes.
fn torque_resumes_exactly<R: TorqueRule>(make: impl Fn() -> TorqueOptimizer<R>, lr: f64) {
    resumes_exactly(
        make,
        |o| o.to_bytes().unwrap().to_vec(),
        |o, b| o.from_bytes(Bytes::from_bytes_vec(b)).unwrap(),
        lr,
    );
}

#[test]
fn saved_state_resumes_exactly() {
    torque_resumes_exactly(|| TamConfig::new().init(), 0.1);
    torque_resumes_exactly(
        || TamConfig::new().with_scope(CosineScope::PerTensor).init(),
        0.1,
    );
    torque_resumes_exactly(|| AdaTamConfig::new().init(), 1e-3);
    // Burn's own ModuleOptimizer record carries the per-tensor optimizer's state too.
    resumes_exactly(
        || TamConfig::new().init_module_optimizer(),
        |o| o.into_bytes().unwrap().to_vec(),
        |o, b| o.from_bytes(Bytes::from_bytes_vec(b)).unwrap(),
        0.1,
    );
}

#[test]
fn a_state_file_round_trips_and_foreign_state_is_refused() {
    let _lock = device_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tam.bpk");
    let mut tam = TamConfig::new().init();
    let _ = train(&mut tam, 0.1, 3, fresh_model(4));
    tam.save(&path).unwrap();
    let loaded = TamConfig::new().init().load(&path).unwrap();
    assert_eq!(loaded.steps(), 3);
    assert_eq!(loaded.stats(), None, "stats are of a step, not saved");

    let err = AdaTamConfig::new().init().load(&path).err().unwrap();
    assert!(matches!(err, StateError::WrongOptimizer { .. }), "{err}");
    assert!(err.to_string().contains("saved by `tam`"), "{err}");

    std::fs::write(&path, b"not a burnpack file").unwrap();
    let err = TamConfig::new().init().load(&path).err().unwrap();
    assert!(err.to_string().contains("tam.bpk"), "{err}");
    let err = TamConfig::new()
        .init()
        .load(&dir.path().join("missing.bpk"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("missing.bpk"), "{err}");
}

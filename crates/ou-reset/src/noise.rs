//! Seeded host-side noise for the methods' random draws.
//!
//! Burn's CPU backend keeps one random generator per process, so models trained in parallel
//! threads would interleave their draws. Every draw of this crate comes instead from a
//! [`SeededRng`] the method owns: a run is reproducible whatever else the process does.

use burn::prelude::*;
use kiln_core::train::SeededRng;

/// `n` standard normal draws as a tensor (Box–Muller, both outputs of each pair used).
pub fn normal(rng: &mut SeededRng, n: usize, device: &Device) -> Tensor<1> {
    let mut values = Vec::with_capacity(n + 1);
    while values.len() < n {
        let u1 = 1.0 - rng.next_f64();
        let u2 = rng.next_f64();
        let radius = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        values.push((radius * cos) as f32);
        values.push((radius * sin) as f32);
    }
    values.truncate(n);
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// `n` draws uniform in `[-bound, bound)` as a tensor.
pub fn uniform(rng: &mut SeededRng, n: usize, bound: f64, device: &Device) -> Tensor<1> {
    let values: Vec<f32> = (0..n)
        .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

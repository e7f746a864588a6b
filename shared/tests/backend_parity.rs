//! The same model gives the same numbers on `flex` and on `wgpu`, so that a kernel difference
//! cannot hide behind a backend switch. Built only with `--features wgpu`
//! (`cargo xtask ci --backend wgpu` runs it on a software Vulkan device, Mesa's lavapipe).
//!
//! Tolerances: f32 sums in a different order differ by a few ulps per operation; through a
//! two-layer decoder that stays below 1e-4 relative to the logits' scale, and one optimizer step
//! keeps it below 1e-3.

#![cfg(all(feature = "wgpu", feature = "flex"))]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::prelude::*;
use kiln_core::Backend;
use kiln_core::data::text::{BosMode, Packer, Specials};
use kiln_core::nn::{Decoder, DecoderConfig, RopeLayout};
use kiln_core::train::{LmBatch, LmTrainer, WarmupCosine, device_rng_lock};

fn wgpu() -> Device {
    kiln_core::backend::device_for(Backend::Wgpu).unwrap()
}

fn config() -> DecoderConfig {
    DecoderConfig {
        vocab_size: 32,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_hidden: 64,
        max_len: 16,
        rope_base: 10_000.0,
        rope_layout: RopeLayout::Halves,
        norm_eps: 1e-5,
        tied_embeddings: true,
    }
}

fn tokens(device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..32).map(|i| (i * 7 + 3) % 29).collect();
    Tensor::from_data(TensorData::new(ids, [2, 16]), device)
}

/// Largest absolute difference, and the largest magnitude on the reference side.
fn max_diff(a: Vec<f32>, b: Vec<f32>) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    (diff, scale)
}

#[test]
fn decoder_forward_and_attention_maps_match_across_backends() {
    let _rng = device_rng_lock();
    let flex = Device::flex();
    flex.seed(3);
    let model: Decoder = config().init(&flex);
    let on_gpu = model.clone().to_device(&wgpu());
    let a = model.forward(tokens(&flex), None, None, true);
    let b = on_gpu.forward(tokens(&wgpu()), None, None, true);
    let (diff, scale) = max_diff(
        kiln_core::host_values(a.logits),
        kiln_core::host_values(b.logits),
    );
    assert!(
        diff <= 1e-4 * scale.max(1.0),
        "logits differ by {diff} (scale {scale})"
    );
    for (x, y) in a.attention.into_iter().zip(b.attention) {
        let (diff, _) = max_diff(kiln_core::host_values(x), kiln_core::host_values(y));
        assert!(diff <= 1e-5, "attention probabilities differ by {diff}");
    }
}

#[test]
fn one_training_step_matches_across_backends() {
    let _rng = device_rng_lock();
    let flex = Device::flex();
    flex.seed(4);
    let model: Decoder = config().init(&flex.clone().autodiff());
    let docs: Vec<Vec<u32>> = (0..6u32)
        .map(|d| (0..20).map(|i| (d * 5 + i * 3) % 29).collect())
        .collect();
    let packer = Packer {
        window: 16,
        mode: BosMode::FixedBos,
        specials: Specials {
            bos: 29,
            eos: 30,
            pad: 31,
        },
    };
    let windows = packer.pack(&docs);
    let picked: Vec<_> = windows.iter().take(4).collect();
    let schedule = WarmupCosine {
        peak: 1e-2,
        min: 1e-3,
        warmup: 0,
        total: 10,
    };
    let mut results = Vec::new();
    for device in [flex.clone(), wgpu()] {
        let device = device.autodiff();
        let batch = LmBatch::new(&picked, true, &device);
        let mut trainer = LmTrainer::new(schedule, 0.1);
        let (stepped, loss) = trainer.step(model.clone().to_device(&device), &batch);
        let logits = stepped
            .forward(batch.tokens.clone(), batch.segments.as_deref(), None, false)
            .logits;
        results.push((loss, kiln_core::host_values(logits)));
    }
    let (flex_result, gpu_result) = (results.remove(0), results.remove(0));
    assert!(
        (flex_result.0 - gpu_result.0).abs() <= 1e-4,
        "losses {} vs {}",
        flex_result.0,
        gpu_result.0
    );
    let (diff, scale) = max_diff(flex_result.1, gpu_result.1);
    assert!(
        diff <= 1e-3 * scale.max(1.0),
        "logits after one step differ by {diff} (scale {scale})"
    );
}

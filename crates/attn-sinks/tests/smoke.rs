//! The smoke tests of the attn-sinks spec (§4): the metric on hand-built maps, the toy-mixing
//! Jacobian, and a one-layer model learning `BackcopyMarkov`.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::prelude::*;
use kiln_attn_sinks::backcopy::{BackcopyConfig, BackcopyMarkov, unigram_entropy};
use kiln_attn_sinks::{key_importance, mixing_matrix, sink_rate, toy_jacobian};
use kiln_core::data::text::{BosMode, Packer, Specials};
use kiln_core::nn::{DecoderConfig, RopeLayout};
use kiln_core::train::{LmBatch, LmTrainer, WarmupCosine, device_rng_lock, masked_cross_entropy};

/// A `T × T` causal head that puts everything on the first token.
fn sink_head(t: usize) -> Vec<f32> {
    (0..t * t)
        .map(|i| if i % t == 0 { 1.0 } else { 0.0 })
        .collect()
}

/// Uniform causal attention: query q spreads 1/(q + 1) over keys 0..=q.
fn uniform_head(t: usize) -> Vec<f32> {
    (0..t * t)
        .map(|i| {
            let (q, k) = (i / t, i % t);
            if k <= q { 1.0 / (q + 1) as f32 } else { 0.0 }
        })
        .collect()
}

#[test]
fn metric_on_hand_built_maps() {
    let t = 64;
    assert!((key_importance(&sink_head(t), t, 0) - 1.0).abs() < 1e-12);
    // α = H_64 / 64 for uniform causal attention.
    let harmonic: f64 = (1..=t).map(|n| 1.0 / n as f64).sum();
    let alpha = key_importance(&uniform_head(t), t, 0);
    assert!(
        (alpha - harmonic / 64.0).abs() < 1e-6 && (alpha - 0.074123).abs() < 1e-6,
        "{alpha}"
    );

    // A layer of 4 heads with 1, 2 or 3 sinks among them: 25, 50, 75 %.
    let device = Device::default();
    for sinks in 1..=3 {
        let heads: Vec<f32> = (0..4)
            .flat_map(|h| {
                if h < sinks {
                    sink_head(t)
                } else {
                    uniform_head(t)
                }
            })
            .collect();
        let layer = Tensor::<4>::from_data(TensorData::new(heads, [1, 4, t, t]), &device);
        assert_eq!(sink_rate(&[layer], 0, 0.3), 25.0 * sinks as f64);
    }
}

/// `M^L` by repeated multiplication in f64.
fn power(m: &[Vec<f64>], layers: usize) -> Vec<Vec<f64>> {
    let t = m.len();
    let mut p: Vec<Vec<f64>> = (0..t)
        .map(|i| (0..t).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for _ in 0..layers {
        p = (0..t)
            .map(|i| {
                (0..t)
                    .map(|j| (0..t).map(|k| m[i][k] * p[k][j]).sum())
                    .collect()
            })
            .collect();
    }
    p
}

#[test]
fn toy_jacobian_is_the_matrix_power_and_shrinks_with_the_sink() {
    let device = Device::default();
    let (t, lambda, layers) = (8, 0.6, 4);
    let mut last = f64::INFINITY;
    for sink in [0.0, 0.25, 0.5, 0.75] {
        let jacobian = toy_jacobian(t, lambda, sink, layers, &device);
        let explicit = power(&mixing_matrix(t, lambda, sink), layers);
        for i in 0..t {
            for j in 0..t {
                assert!(
                    (jacobian[i][j] - explicit[i][j]).abs() < 1e-5,
                    "s {sink} ({i}, {j})"
                );
            }
        }
        // Sensitivity of the last position to position 1 strictly decreases in s.
        let sensitivity = jacobian[t - 1][1];
        assert!(
            sensitivity < last,
            "s {sink}: {sensitivity} not below {last}"
        );
        last = sensitivity;
    }
}

#[test]
fn a_one_layer_model_learns_backcopy_markov_beyond_unigrams() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(1);
    let language = BackcopyMarkov::new(BackcopyConfig::default(), 7);
    let vocab = language.config().vocab;
    let specials = Specials {
        bos: vocab as u32,
        eos: vocab as u32 + 1,
        pad: vocab as u32 + 2,
    };
    let packer = Packer {
        window: 64,
        mode: BosMode::FixedBos,
        specials,
    };
    let train_docs = language.documents(600, 1);
    let valid_docs = language.documents(60, 2);
    let batches = |docs: &[Vec<u32>]| -> Vec<LmBatch> {
        let windows = packer.pack(docs);
        windows
            .chunks(8)
            .filter(|c| c.len() == 8)
            .map(|c| LmBatch::new(&c.iter().collect::<Vec<_>>(), false, &device))
            .collect()
    };
    let (train, valid) = (batches(&train_docs), batches(&valid_docs));
    let config = DecoderConfig {
        vocab_size: vocab + 3,
        d_model: 32,
        n_layers: 1,
        n_heads: 4,
        n_kv_heads: 4,
        ffn_hidden: 64,
        max_len: 64,
        rope_base: 10_000.0,
        rope_layout: RopeLayout::Halves,
        norm_eps: 1e-5,
        tied_embeddings: true,
    };
    let mut model = config.init(&device);
    let mut trainer = LmTrainer::new(
        WarmupCosine {
            peak: 3e-3,
            min: 3e-4,
            warmup: 30,
            total: 300,
        },
        0.0,
    );
    for step in 0..300 {
        model = trainer.step(model, &train[step % train.len()]).0;
    }
    let valid_loss: f64 = valid
        .iter()
        .map(|b| {
            let logits = model.forward(b.tokens.clone(), None, None, false).logits;
            masked_cross_entropy(logits, b.targets.clone(), b.loss_mask.clone())
                .into_scalar::<f64>()
        })
        .sum::<f64>()
        / valid.len() as f64;
    let entropy = unigram_entropy(&valid_docs);
    eprintln!("BackcopyMarkov: validation loss {valid_loss:.3} nats, unigram entropy {entropy:.3}");
    assert!(
        valid_loss <= entropy - 0.2,
        "loss {valid_loss} vs unigram entropy {entropy}"
    );
}

#[test]
fn first_token_scores_match_key_importance_on_random_maps() {
    let device = Device::default();
    let (b, h, t) = (2, 3, 5);
    let mut rng = kiln_core::train::SeededRng::new(4);
    // Random causal rows that sum to 1.
    let mut maps = Vec::new();
    for _ in 0..2 {
        let mut values = vec![0f32; b * h * t * t];
        for row in values.chunks_exact_mut(t).enumerate() {
            let (i, row) = row;
            let q = i % t;
            let weights = rng.dirichlet(q + 1, 1.0);
            for (k, w) in weights.iter().enumerate() {
                row[k] = *w as f32;
            }
        }
        maps.push(values);
    }
    let tensors: Vec<Tensor<4>> = maps
        .iter()
        .map(|v| Tensor::from_data(TensorData::new(v.clone(), [b, h, t, t]), &device))
        .collect();
    let scores = kiln_core::host_values(kiln_attn_sinks::first_token_scores(&tensors));
    assert_eq!(scores.len(), b * 2 * h);
    for batch in 0..b {
        for (l, map) in maps.iter().enumerate() {
            for head in 0..h {
                let start = (batch * h + head) * t * t;
                let expected = key_importance(&map[start..start + t * t], t, 0);
                let got = f64::from(scores[(batch * 2 + l) * h + head]);
                assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
            }
        }
    }
}

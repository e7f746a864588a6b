//! The engine against the Burn decoder it mirrors, and its own equivalences.

use burn::prelude::*;

use super::kernels::matmul;
use super::*;
use crate::host_values;
use crate::nn::{Decoder, DecoderConfig, RopeLayout};
use crate::train::SeededRng;

/// A small random decoder with grouped-query heads, untied head and non-trivial norm gains
/// (the caller holds the device-seed lock).
fn tiny(layout: RopeLayout, tied: bool) -> (Decoder, DecoderConfig) {
    let device = Device::default();
    device.seed(5);
    let config = DecoderConfig {
        vocab_size: 61,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_hidden: 40,
        max_len: 48,
        rope_base: 10_000.0,
        rope_layout: layout,
        norm_eps: 1e-5,
        tied_embeddings: tied,
    };
    let mut model = config.init(&device);
    for block in &mut model.blocks {
        block.mlp_norm.gamma = burn::module::Param::from_tensor(Tensor::<1>::random(
            [32],
            burn::tensor::Distribution::Uniform(0.5, 1.5),
            &device,
        ));
    }
    (model, config)
}

fn tokens(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = SeededRng::new(seed);
    (0..n).map(|_| rng.below(61) as u32).collect()
}

fn burn_logits(model: &Decoder, ids: &[u32]) -> Vec<f32> {
    let ids: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
    let n = ids.len();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &Device::default());
    host_values(model.forward(tokens, None, None, false).logits)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn the_engine_computes_the_burn_decoders_logits_with_and_without_a_cache() {
    let _rng = crate::train::device_rng_lock();
    for (layout, tied) in [(RopeLayout::Adjacent, true), (RopeLayout::Halves, false)] {
        let (model, config) = tiny(layout, tied);
        let engine = LmEngine::from_decoder(&model, &config);
        let ids = tokens(20, 1);
        let expected = burn_logits(&model, &ids);
        let mut cache = SeqCache::new();
        let mut step = [Step {
            cache: &mut cache,
            tokens: &ids,
        }];
        let whole = engine.forward(&mut step, Positions::All).unwrap();
        let diff = max_diff(&whole[0], &expected);
        assert!(diff < 1e-4, "{layout:?}: whole sequence differs by {diff}");
        // The same sequence fed in three pieces through the cache.
        let mut cache = SeqCache::new();
        let mut pieces = Vec::new();
        for part in [&ids[..7], &ids[7..8], &ids[8..]] {
            let mut step = [Step {
                cache: &mut cache,
                tokens: part,
            }];
            pieces.extend(engine.forward(&mut step, Positions::All).unwrap().remove(0));
        }
        assert_eq!(cache.len(), 20);
        let diff = max_diff(&pieces, &expected);
        assert!(diff < 1e-4, "{layout:?}: cached pieces differ by {diff}");
    }
}

#[test]
fn batched_generation_equals_one_sequence_at_a_time_token_for_token() {
    let _rng = crate::train::device_rng_lock();
    let (model, config) = tiny(RopeLayout::Adjacent, true);
    let engine = LmEngine::from_decoder(&model, &config);
    let requests: Vec<Request> = [(5, 9), (1, 12), (11, 3), (2, 0)]
        .iter()
        .enumerate()
        .map(|(i, &(prompt, max_new))| Request {
            prompt: tokens(prompt, 10 + i as u64),
            max_new_tokens: max_new,
            seed: i as u64,
        })
        .collect();
    for sampler in [
        Sampler::greedy(),
        Sampler {
            temperature: 0.9,
            top_k: 20,
            top_p: 0.95,
        },
    ] {
        let options = GenerateOptions {
            sampler,
            stop_tokens: vec![],
        };
        let batched = engine.generate(&requests, &options).unwrap();
        for (request, together) in requests.iter().zip(&batched) {
            let alone = engine
                .generate(std::slice::from_ref(request), &options)
                .unwrap();
            assert_eq!(together, &alone[0], "{sampler:?}");
            assert_eq!(together.tokens.len(), request.max_new_tokens);
        }
    }
}

#[test]
fn generation_stops_at_a_stop_token_and_its_logprobs_are_the_models() {
    let _rng = crate::train::device_rng_lock();
    let (model, config) = tiny(RopeLayout::Adjacent, true);
    let engine = LmEngine::from_decoder(&model, &config);
    let request = Request {
        prompt: tokens(4, 3),
        max_new_tokens: 10,
        seed: 0,
    };
    let free = engine
        .generate(std::slice::from_ref(&request), &GenerateOptions::default())
        .unwrap()
        .remove(0);
    assert_eq!(free.finish, Finish::Length);
    // Greedy logprobs are the model's: the full sequence's log-softmax at each position.
    let mut full = request.prompt.clone();
    full.extend(&free.tokens);
    let logits = burn_logits(&model, &full[..full.len() - 1]);
    for (j, (&token, &lp)) in free.tokens.iter().zip(&free.logprobs).enumerate() {
        let row = &logits[(request.prompt.len() - 1 + j) * 61..][..61];
        let expected = kernels::log_softmax(row)[token as usize];
        assert!(
            (lp - expected).abs() < 1e-4,
            "token {j}: {lp} vs {expected}"
        );
    }
    let stop = free.tokens[3];
    let first = free.tokens.iter().position(|&t| t == stop).unwrap();
    let options = GenerateOptions {
        sampler: Sampler::greedy(),
        stop_tokens: vec![stop],
    };
    let stopped = engine.generate(&[request], &options).unwrap().remove(0);
    assert_eq!(stopped.finish, Finish::Stop);
    assert_eq!(stopped.tokens, free.tokens[..=first]);
}

#[test]
fn seeded_sampling_is_reproducible_and_its_limits_act() {
    let _rng = crate::train::device_rng_lock();
    let (model, config) = tiny(RopeLayout::Adjacent, true);
    let engine = LmEngine::from_decoder(&model, &config);
    let run = |sampler: Sampler, seed: u64| {
        let request = Request {
            prompt: tokens(3, 8),
            max_new_tokens: 24,
            seed,
        };
        let options = GenerateOptions {
            sampler,
            stop_tokens: vec![],
        };
        engine
            .generate(&[request], &options)
            .unwrap()
            .remove(0)
            .tokens
    };
    let hot = Sampler::temperature(1.5);
    assert_eq!(run(hot, 1), run(hot, 1), "same seed, same draws");
    assert_ne!(run(hot, 1), run(hot, 2), "another seed, other draws");
    let greedy = run(Sampler::greedy(), 0);
    let top1 = Sampler { top_k: 1, ..hot };
    assert_eq!(run(top1, 3), greedy, "top-k = 1 is greedy");
    let tiny_nucleus = Sampler { top_p: 1e-6, ..hot };
    assert_eq!(run(tiny_nucleus, 4), greedy, "a tiny nucleus is greedy");
    let bad = GenerateOptions {
        sampler: Sampler { top_p: 0.0, ..hot },
        stop_tokens: vec![],
    };
    assert!(matches!(
        engine.generate(&[], &bad),
        Err(LmError::InvalidSampler(_))
    ));
}

#[test]
fn prefix_shared_scoring_equals_scoring_each_whole_sequence() {
    let _rng = crate::train::device_rng_lock();
    let (model, config) = tiny(RopeLayout::Adjacent, false);
    let engine = LmEngine::from_decoder(&model, &config);
    let prompt = tokens(9, 20);
    let continuations: Vec<Vec<u32>> = (0..6).map(|i| tokens(1 + i * 2, 30 + i as u64)).collect();
    let shared = engine.score(&prompt, &continuations).unwrap();
    for (c, score) in continuations.iter().zip(&shared) {
        let alone = engine.score(&prompt, std::slice::from_ref(c)).unwrap();
        assert_eq!(score, &alone[0], "a continuation scored alone");
        // From the Burn model's logits over the whole sequence, no cache.
        let mut full = prompt.clone();
        full.extend(c);
        let logits = burn_logits(&model, &full[..full.len() - 1]);
        let expected: f64 = c
            .iter()
            .enumerate()
            .map(|(j, &t)| {
                let row = &logits[(prompt.len() - 1 + j) * 61..][..61];
                f64::from(kernels::log_softmax(row)[t as usize])
            })
            .sum();
        assert_eq!(score.token_logprobs.len(), c.len());
        assert!(
            (score.total() - expected).abs() < 1e-4,
            "{} vs {expected}",
            score.total()
        );
    }
}

#[test]
fn quantised_products_equal_the_dequantised_f32_products() {
    let mut rng = SeededRng::new(2);
    let (rows, cols, n) = (37, 96, 6);
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
    let x: Vec<f32> = (0..n * cols).map(|_| rng.normal() as f32).collect();
    for q in [
        QuantMatrix::quantize_q8_0(rows, cols, &w).unwrap(),
        QuantMatrix::quantize_q4_1(rows, cols, &w).unwrap(),
    ] {
        let dense = QuantMatrix::from_f32(rows, cols, q.to_f32()).unwrap();
        let (a, b) = (matmul(&q, &x, n), matmul(&dense, &x, n));
        // Same weights, same accumulation order: only the rounding of one product differs.
        assert!(max_diff(&a, &b) < 1e-5, "{:?}", max_diff(&a, &b));
        // And against a plain f64 triple loop.
        let dq = q.to_f32();
        for t in 0..n {
            for r in 0..rows {
                let exact: f64 = (0..cols)
                    .map(|c| f64::from(x[t * cols + c]) * f64::from(dq[r * cols + c]))
                    .sum();
                assert!((f64::from(a[t * rows + r]) - exact).abs() < 1e-4);
            }
        }
        // Rounding to the nearest level: |w − ŵ| ≤ d/2 per block, d the block's step
        // (plus the f16 rounding of the scale and minimum).
        let q8 = matches!(q.storage(), Storage::Q8_0 { .. });
        for (block, approx) in w.chunks_exact(32).zip(dq.chunks_exact(32)) {
            let (lo, hi) = block
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let step = if q8 {
                lo.abs().max(hi.abs()) / 127.0
            } else {
                (hi - lo) / 15.0
            };
            let bound = step / 2.0 * 1.01 + 2e-3 * lo.abs().max(hi.abs());
            for (a, b) in block.iter().zip(approx) {
                assert!(
                    (a - b).abs() <= bound,
                    "q8 {q8}: {a} became {b}, bound {bound}"
                );
            }
        }
    }
    // A single row of X gives the row of the batched product exactly.
    let q = QuantMatrix::quantize_q4_1(rows, cols, &w).unwrap();
    let all = matmul(&q, &x, n);
    for t in 0..n {
        let one = matmul(&q, &x[t * cols..(t + 1) * cols], 1);
        assert_eq!(one, all[t * rows..(t + 1) * rows]);
    }
}

#[test]
fn bad_requests_are_named_errors() {
    let _rng = crate::train::device_rng_lock();
    let (model, config) = tiny(RopeLayout::Adjacent, true);
    let engine = LmEngine::from_decoder(&model, &config);
    let long = Request {
        prompt: tokens(40, 1),
        max_new_tokens: 9,
        seed: 0,
    };
    let err = engine.generate(&[long], &GenerateOptions::default());
    assert!(matches!(err, Err(LmError::TooLong { length: 49, .. })));
    assert!(matches!(
        engine.score(&[1, 99], &[vec![2]]),
        Err(LmError::TokenOutOfRange { token: 99, .. })
    ));
    assert!(matches!(
        engine.score(&[1], &[vec![2, 70]]),
        Err(LmError::TokenOutOfRange { token: 70, .. })
    ));
    assert!(matches!(
        engine.score(&[], &[vec![2]]),
        Err(LmError::EmptySequence { .. })
    ));
    assert!(QuantMatrix::quantize_q4_1(2, 20, &[0.0; 40]).is_err());
}

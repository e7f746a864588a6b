//! Tests of the decoder layers: gradients against finite differences, closed forms and
//! equivalences (cached = uncached, grouped-query = repeated heads, the two RoPE layouts).

use burn::prelude::*;

use super::*;
use crate::train::{SeededRng, device_rng_lock};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    crate::host_values(t)
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = SeededRng::new(seed);
    (0..n).map(|_| rng.normal() as f32).collect()
}

/// Compares the autodiff gradient of `f` at `x` with central differences on every coordinate.
fn check_input_gradient(shape: [usize; 3], seed: u64, f: impl Fn(Tensor<3>) -> Tensor<1>) {
    let device = Device::default().autodiff();
    let x = random(shape.iter().product(), seed);
    let input = Tensor::<3>::from_data(TensorData::new(x.clone(), shape), &device).require_grad();
    let grads = f(input.clone()).backward();
    let analytic = values(input.grad(&grads).expect("input gradient"));
    let h = 1e-2f32;
    let eval =
        |v: Vec<f32>| f(Tensor::from_data(TensorData::new(v, shape), &device)).into_scalar::<f32>();
    for i in 0..x.len() {
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (eval(plus) - eval(minus)) / (2.0 * h);
        let err = (analytic[i] - numeric).abs();
        assert!(
            err <= 2e-2 * numeric.abs().max(0.1),
            "coordinate {i}: autodiff {} vs finite difference {numeric}",
            analytic[i]
        );
    }
}

#[test]
fn rmsnorm_closed_form_and_gradient() {
    let device = Device::default();
    let norm = rms_norm(2, 1e-12, &device);
    // (3, 4): rms = √12.5, so y = (3, 4)/√12.5.
    let y = values(norm.forward(Tensor::<2>::from_floats([[3.0, 4.0]], &device)));
    let r = 12.5f32.sqrt();
    assert!(
        (y[0] - 3.0 / r).abs() < 1e-6 && (y[1] - 4.0 / r).abs() < 1e-6,
        "{y:?}"
    );

    let ad = Device::default().autodiff();
    let norm = rms_norm(6, 1e-5, &ad);
    let weights = Tensor::<3>::from_data(TensorData::new(random(2 * 3 * 6, 9), [2, 3, 6]), &ad);
    check_input_gradient([2, 3, 6], 1, |x| (norm.forward(x) * weights.clone()).sum());
}

#[test]
fn attention_gradient_matches_finite_differences() {
    let _rng = device_rng_lock();
    let ad = Device::default().autodiff();
    ad.seed(3);
    let attn = CausalSelfAttention::new(8, 4, 2, &ad);
    let rope = Rope::new(2, 16, 10_000.0, RopeLayout::Halves);
    let segments = vec![vec![0, 0, 1, 1, 1]];
    let mask = AttentionMask::within_documents(&segments, 5, 0, &ad);
    let weights = Tensor::<3>::from_data(TensorData::new(random(5 * 8, 4), [1, 5, 8]), &ad);
    check_input_gradient([1, 5, 8], 2, |x| {
        (attn.forward(x, &rope, &mask, None, false).0 * weights.clone()).sum()
    });
}

#[test]
fn rope_preserves_norms_and_depends_only_on_relative_position() {
    let device = Device::default();
    for layout in [RopeLayout::Halves, RopeLayout::Adjacent] {
        let rope = Rope::new(8, 32, 10_000.0, layout);
        let q = Tensor::<4>::from_data(TensorData::new(random(8, 1), [1, 1, 1, 8]), &device);
        let k = Tensor::<4>::from_data(TensorData::new(random(8, 2), [1, 1, 1, 8]), &device);
        let norm = |t: Tensor<4>| values(t.powi_scalar(2).sum())[0];
        assert!((norm(rope.apply(q.clone(), 7)) - norm(q.clone())).abs() < 1e-4);
        let dot = |m: usize, n: usize| {
            values((rope.apply(q.clone(), m) * rope.apply(k.clone(), n)).sum())[0]
        };
        assert!((dot(5, 2) - dot(13, 10)).abs() < 1e-4, "{layout:?}");
        assert!(
            (dot(5, 2) - dot(5, 3)).abs() > 1e-3,
            "{layout:?}: rotation has no effect"
        );
    }
    // The layouts differ only in which features pair up: permuting (i, i + d/2) → (2i, 2i + 1)
    // maps one onto the other.
    let x = random(8, 5);
    let halves = Rope::new(8, 32, 10_000.0, RopeLayout::Halves);
    let adjacent = Rope::new(8, 32, 10_000.0, RopeLayout::Adjacent);
    let interleave = |v: &[f32]| (0..4).flat_map(|i| [v[i], v[i + 4]]).collect::<Vec<f32>>();
    let a = values(halves.apply(
        Tensor::from_data(TensorData::new(x.clone(), [1, 1, 1, 8]), &device),
        3,
    ));
    let b = values(adjacent.apply(
        Tensor::from_data(TensorData::new(interleave(&x), [1, 1, 1, 8]), &device),
        3,
    ));
    for (u, v) in interleave(&a).iter().zip(&b) {
        assert!((u - v).abs() < 1e-5);
    }
}

#[test]
fn attention_maps_are_causal_row_stochastic_and_respect_documents() {
    let _rng = device_rng_lock();
    let device = Device::default();
    device.seed(4);
    let attn = CausalSelfAttention::new(16, 4, 4, &device);
    let rope = Rope::new(4, 16, 10_000.0, RopeLayout::Halves);
    let x = Tensor::<3>::from_data(TensorData::new(random(6 * 16, 6), [1, 6, 16]), &device);
    let segments = vec![vec![0, 0, 0, 1, 1, 1]];
    let mask = AttentionMask::within_documents(&segments, 6, 0, &device);
    let maps = values(attn.forward(x, &rope, &mask, None, true).1.expect("maps"));
    for head in 0..4 {
        for q in 0..6 {
            let row = &maps[(head * 6 + q) * 6..(head * 6 + q + 1) * 6];
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            for (k, &p) in row.iter().enumerate() {
                let visible = k <= q && segments[0][k] == segments[0][q];
                assert!(visible || p == 0.0, "head {head} query {q} key {k}: {p}");
            }
        }
    }
}

#[test]
fn grouped_query_attention_equals_attention_with_repeated_heads() {
    let _rng = device_rng_lock();
    let device = Device::default();
    device.seed(5);
    let gqa = CausalSelfAttention::new(16, 4, 2, &device);
    // Full multi-head attention whose key/value heads are copies: head h uses kv head h / 2.
    let mut mha = CausalSelfAttention::new(16, 4, 4, &device);
    let repeat = |w: Tensor<2>| {
        let [d, _] = w.dims();
        w.reshape([d, 2, 1, 4])
            .expand([d, 2, 2, 4])
            .reshape([d, 16])
    };
    mha.query = gqa.query.clone();
    mha.output = gqa.output.clone();
    mha.key.weight = burn::module::Param::from_tensor(repeat(gqa.key.weight.val()));
    mha.value.weight = burn::module::Param::from_tensor(repeat(gqa.value.weight.val()));
    let rope = Rope::new(4, 16, 10_000.0, RopeLayout::Halves);
    let x = Tensor::<3>::from_data(TensorData::new(random(2 * 5 * 16, 7), [2, 5, 16]), &device);
    let mask = AttentionMask::causal(2, 5, 0, &device);
    let a = values(gqa.forward(x.clone(), &rope, &mask, None, false).0);
    let b = values(mha.forward(x, &rope, &mask, None, false).0);
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() < 1e-5, "{u} vs {v}");
    }
}

fn tiny_config(tied: bool) -> DecoderConfig {
    DecoderConfig {
        vocab_size: 23,
        d_model: 16,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_hidden: 32,
        max_len: 32,
        rope_base: 10_000.0,
        rope_layout: RopeLayout::Adjacent,
        norm_eps: 1e-5,
        tied_embeddings: tied,
    }
}

#[test]
fn cached_generation_equals_uncached_generation() {
    let _rng = device_rng_lock();
    let device = Device::default();
    device.seed(6);
    for tied in [true, false] {
        let model = tiny_config(tied).init(&device);
        let prompt = [1, 5, 9, 2];
        let greedy_cached = model.generate(&prompt, 12, Sampling::Greedy, true, &device);
        let greedy_full = model.generate(&prompt, 12, Sampling::Greedy, false, &device);
        assert_eq!(greedy_cached, greedy_full);
        let sampling = Sampling::Temperature {
            temperature: 1.0,
            seed: 3,
        };
        assert_eq!(
            model.generate(&prompt, 12, sampling, true, &device),
            model.generate(&prompt, 12, sampling, false, &device)
        );

        // Logits of a cached step equal the full forward's last row.
        let tokens: Vec<i64> = greedy_full.iter().map(|&t| i64::from(t)).collect();
        let n = tokens.len();
        let full = values(
            model
                .forward(
                    Tensor::from_data(TensorData::new(tokens.clone(), [1, n]), &device),
                    None,
                    None,
                    false,
                )
                .logits,
        );
        let mut cache = DecoderCache::default();
        let head = Tensor::<2, Int>::from_data(
            TensorData::new(tokens[..n - 1].to_vec(), [1, n - 1]),
            &device,
        );
        model.forward(head, None, Some(&mut cache), false);
        let last =
            Tensor::<2, Int>::from_data(TensorData::new(vec![tokens[n - 1]], [1, 1]), &device);
        let step = values(model.forward(last, None, Some(&mut cache), false).logits);
        for (u, v) in full[(n - 1) * 23..].iter().zip(&step) {
            assert!((u - v).abs() < 1e-4, "{u} vs {v}");
        }
    }
}

#[test]
fn decoder_returns_one_map_and_hidden_state_per_layer() {
    let _rng = device_rng_lock();
    let device = Device::default();
    let model = tiny_config(true).init(&device);
    let tokens = Tensor::<2, Int>::from_ints([[1, 2, 3], [4, 5, 6]], &device);
    let out = model.forward(tokens, None, None, true);
    assert_eq!(out.logits.dims(), [2, 3, 23]);
    assert_eq!(out.attention.len(), 2);
    assert_eq!(out.attention[0].dims(), [2, 4, 3, 3]);
    assert_eq!(out.hidden.len(), 2);
}

#[test]
fn a_shared_bos_is_visible_to_every_document() {
    let _rng = device_rng_lock();
    let device = Device::default();
    device.seed(8);
    let attn = CausalSelfAttention::new(8, 2, 2, &device);
    let rope = Rope::new(4, 8, 10_000.0, RopeLayout::Halves);
    // Position 0 is a pinned ⟨bos⟩; documents 0 and 1 follow.
    let segments = vec![vec![SHARED_SEGMENT, 0, 0, 1, 1]];
    let mask = AttentionMask::within_documents(&segments, 5, 0, &device);
    let x = Tensor::<3>::from_data(TensorData::new(random(5 * 8, 9), [1, 5, 8]), &device);
    let maps = values(attn.forward(x, &rope, &mask, None, true).1.expect("maps"));
    let p = |head: usize, q: usize, k: usize| maps[(head * 5 + q) * 5 + k];
    for head in 0..2 {
        assert!(
            p(head, 3, 0) > 0.0 && p(head, 4, 0) > 0.0,
            "document 1 sees ⟨bos⟩"
        );
        assert_eq!(
            (p(head, 3, 1), p(head, 3, 2), p(head, 4, 2)),
            (0.0, 0.0, 0.0),
            "but not document 0"
        );
        assert!(p(head, 2, 1) > 0.0, "document 0 sees itself");
    }
}

//! The temporal layers against closed forms, each other, finite differences and their own
//! streaming use.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::*;
use crate::train::device_rng_lock;
use crate::{host_values, max_abs_diff};

/// Decays in (0.3, 0.999) and inputs from N(0, 1).
fn scan_inputs(batch: usize, time: usize, width: usize, device: &Device) -> (Tensor<3>, Tensor<3>) {
    let a = Tensor::random(
        [batch, time, width],
        Distribution::Uniform(0.3, 0.999),
        device,
    );
    let b = Tensor::random([batch, time, width], Distribution::Normal(0.0, 1.0), device);
    (a, b)
}

/// Every value of `ours` within `tol` × (the largest |reference|, at least 1) of `reference`.
fn assert_close_relative(ours: &[f32], reference: &[f32], tol: f32, what: &str) {
    let gap = ours
        .iter()
        .zip(reference)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    let scale = reference.iter().map(|x| x.abs()).fold(1.0, f32::max);
    assert!(gap <= tol * scale, "{what} differ by {gap}");
}

const IMPLEMENTATIONS: [ScanImpl; 4] = [
    ScanImpl::LogDepth,
    ScanImpl::Chunked { chunk: 4 },
    ScanImpl::Chunked { chunk: 16 },
    ScanImpl::Chunked { chunk: 1 },
];

#[test]
fn scan_matches_its_closed_form() {
    let device = Device::default();
    let a = Tensor::<3>::full([1, 3, 1], 0.5, &device);
    let b = Tensor::<3>::ones([1, 3, 1], &device);
    for scan in std::iter::once(ScanImpl::Sequential).chain(IMPLEMENTATIONS) {
        let (h, last) = linear_scan(a.clone(), b.clone(), None, scan);
        // 1, 0.5·1 + 1, 0.5·1.5 + 1
        assert_eq!(host_values(h), vec![1.0, 1.5, 1.75], "{scan:?}");
        assert_eq!(host_values(last), vec![1.75]);
        let h0 = Some(Tensor::<2>::full([1, 1], 2.0, &device));
        let (h, _) = linear_scan(a.clone(), b.clone(), h0, scan);
        assert_eq!(host_values(h), vec![2.0, 2.0, 2.0], "{scan:?} from h0 = 2");
    }
}

#[test]
fn scan_implementations_agree_with_the_sequential_reference() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(1);
    for time in [1, 5, 16, 37] {
        let (a, b) = scan_inputs(2, time, 3, &device);
        let h0 = Tensor::<2>::random([2, 3], Distribution::Normal(0.0, 1.0), &device);
        for start in [None, Some(h0)] {
            let (reference, ref_last) =
                linear_scan(a.clone(), b.clone(), start.clone(), ScanImpl::Sequential);
            for scan in IMPLEMENTATIONS {
                let (h, last) = linear_scan(a.clone(), b.clone(), start.clone(), scan);
                let gap = max_abs_diff(h, reference.clone());
                assert!(gap < 1e-5, "{scan:?}, T = {time}: {gap}");
                let gap = max_abs_diff(last, ref_last.clone());
                assert!(gap < 1e-5, "{scan:?}, T = {time}, last state: {gap}");
            }
        }
    }
}

/// `Σ w ⊙ h` for fixed weights `w`, with gradients to `a`, `b` and `h0`.
fn scan_gradients(scan: ScanImpl, seed: u64) -> Vec<Vec<f32>> {
    let device = Device::default().autodiff();
    device.seed(seed);
    let (a, b) = scan_inputs(2, 13, 3, &device);
    let h0 = Tensor::<2>::random([2, 3], Distribution::Normal(0.0, 1.0), &device);
    let weights = Tensor::<3>::random([2, 13, 3], Distribution::Normal(0.0, 1.0), &device);
    let (a, b, h0) = (a.require_grad(), b.require_grad(), h0.require_grad());
    let (h, last) = linear_scan(a.clone(), b.clone(), Some(h0.clone()), scan);
    let loss = (h * weights).sum() + last.sum();
    let grads = loss.backward();
    vec![
        host_values(a.grad(&grads).unwrap()),
        host_values(b.grad(&grads).unwrap()),
        host_values(h0.grad(&grads).unwrap()),
    ]
}

#[test]
fn scan_gradients_agree_across_implementations() {
    let _lock = device_rng_lock();
    let reference = scan_gradients(ScanImpl::Sequential, 2);
    for scan in IMPLEMENTATIONS {
        let grads = scan_gradients(scan, 2);
        for (name, (g, r)) in ["a", "b", "h0"].iter().zip(grads.iter().zip(&reference)) {
            assert_close_relative(g, r, 1e-5, &format!("{scan:?}: d/d{name}"));
        }
    }
}

#[test]
fn scan_gradient_matches_finite_differences() {
    // f(a) = Σ_t h_t for a constant decay a over 4 steps of b = 1: f = 4 + 3a + 2a² + a³,
    // f'(a) = 3 + 4a + 3a²; the autodiff gradient sums ∂f/∂a_t over t.
    let device = Device::default().autodiff();
    let value = 0.7f32;
    let a = Tensor::<3>::full([1, 4, 1], value, &device).require_grad();
    let b = Tensor::<3>::ones([1, 4, 1], &device);
    for scan in std::iter::once(ScanImpl::Sequential).chain(IMPLEMENTATIONS) {
        let (h, _) = linear_scan(a.clone(), b.clone(), None, scan);
        let grads = h.sum().backward();
        let autodiff: f32 = host_values(a.grad(&grads).unwrap()).iter().sum();
        let f = |x: f32| 4.0 + 3.0 * x + 2.0 * x * x + x * x * x;
        let eps = 1e-2;
        let numeric = (f(value + eps) - f(value - eps)) / (2.0 * eps);
        let exact = 3.0 + 4.0 * value + 3.0 * value * value;
        assert!(
            (autodiff - exact).abs() < 1e-4,
            "{scan:?}: {autodiff} vs {exact}"
        );
        assert!((numeric - exact).abs() < 1e-3);
    }
}

#[test]
fn causal_conv_matches_its_definition_and_streams() {
    // Every test that draws from the process-wide generator holds the lock, or it would shift
    // the draws of the seeded tests running beside it.
    let _lock = device_rng_lock();
    let device = Device::default();
    let mut conv = CausalConv1d::new(3, 1, &device);
    conv.weight =
        burn::module::Param::from_tensor(Tensor::from_floats([[1.0], [2.0], [3.0]], &device));
    let x = Tensor::<3>::from_floats([[[1.0], [10.0], [100.0], [1000.0]]], &device);
    let (y, cache) = conv.forward(x.clone(), None);
    // y_t = 1·x_{t−2} + 2·x_{t−1} + 3·x_t, zeros before the start.
    assert_eq!(host_values(y.clone()), vec![3.0, 32.0, 321.0, 3210.0]);
    assert_eq!(host_values(cache), vec![100.0, 1000.0]);
    let mut cache = None;
    let mut frames = Vec::new();
    for t in 0..4 {
        let (out, next) = conv.forward(x.clone().slice(s![.., t..t + 1, ..]), cache);
        frames.push(out);
        cache = Some(next);
    }
    assert_eq!(max_abs_diff(Tensor::cat(frames, 1), y), 0.0);
}

#[test]
fn decay_radii_start_inside_the_configured_range() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(3);
    for config in [RgLruConfig::paper(512, 8), RgLruConfig::release(512, 8)] {
        let radii = host_values(config.init(&device).radii());
        let (lo, hi) = (config.min_rad as f32 - 1e-5, config.max_rad as f32 + 1e-5);
        assert!(radii.iter().all(|r| (lo..=hi).contains(r)), "{config:?}");
        // U[min, max] has mean (min + max)/2; with r² uniform the mean radius is higher.
        let mean = radii.iter().sum::<f32>() / radii.len() as f32;
        let expected = match config.init {
            DecayInit::UniformRadius => (0.6 + 0.999) / 2.0,
            // E[√U(m², M²)] = (2/3)(M³ − m³)/(M² − m²)
            DecayInit::UniformRadiusSquared => {
                (2.0 / 3.0) * (0.999f32.powi(3) - 0.125) / (0.999f32.powi(2) - 0.25)
            }
        };
        assert!(
            (mean - expected).abs() < 0.02,
            "{config:?}: mean {mean} vs {expected}"
        );
    }
}

#[test]
fn rglru_resets_at_the_start_and_streams_in_pieces() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(4);
    let lru = RgLruConfig::paper(8, 2).init(&device);
    let u = Tensor::<3>::random([2, 9, 8], Distribution::Normal(0.0, 1.0), &device);
    let (full, _) = lru.forward(u.clone(), None);
    // h_0 = g_x ⊙ u_0: no previous state and no √(1 − a²) scaling.
    let first = u.clone().slice(s![.., 0..1, ..]);
    let gate =
        burn::tensor::activation::sigmoid(lru.input_gate.as_ref().unwrap().forward(first.clone()));
    assert!(max_abs_diff(full.clone().slice(s![.., 0..1, ..]), gate * first) < 1e-6);
    // Frames 0..4, then 4..9 from the state: the same as all nine at once.
    let (head, state) = lru.forward(u.clone().slice(s![.., 0..4, ..]), None);
    let (tail, _) = lru.forward(u.slice(s![.., 4..9, ..]), Some(state));
    assert!(max_abs_diff(Tensor::cat(vec![head, tail], 1), full) < 1e-5);
}

fn small_block(device: &Device) -> RecurrentBlock {
    RecurrentBlockConfig {
        d_model: 6,
        lru: RgLruConfig {
            scan: ScanImpl::Chunked { chunk: 4 },
            ..RgLruConfig::paper(12, 3)
        },
        conv_taps: 4,
        depth: 2,
    }
    .init(device)
}

#[test]
fn recurrent_block_streams_frame_by_frame_with_constant_state() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(5);
    let block = small_block(&device);
    let x = Tensor::<3>::random([3, 11, 6], Distribution::Normal(0.0, 1.0), &device);
    let (full, _) = block.forward(x.clone(), None);
    let mut state = None;
    let mut frames = Vec::new();
    let mut sizes = Vec::new();
    for t in 0..11 {
        let (y, next) = block.forward(x.clone().slice(s![.., t..t + 1, ..]), state);
        sizes.push(next.len_per_sequence());
        frames.push(y);
        state = Some(next);
    }
    assert!(max_abs_diff(Tensor::cat(frames, 1), full) < 1e-5);
    // 3 cached frames + the state, of 12 channels each, whatever the length.
    assert!(sizes.iter().all(|&s| s == 4 * 12), "{sizes:?}");
}

#[test]
fn ungated_lru_is_the_plain_lru() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(11);
    let config = RgLruConfig {
        gated: false,
        ..RgLruConfig::paper(4, 2)
    };
    let lru = config.init(&device);
    assert_eq!(lru.num_params(), 4, "only Λ is left");
    let u = Tensor::<3>::random([2, 7, 4], Distribution::Normal(0.0, 1.0), &device);
    let (h, _) = lru.forward(u.clone(), None);
    // h_0 = u_0; h_t = r h_{t−1} + √(1 − r²) u_t, per channel, in f64.
    let r: Vec<f64> = host_values(lru.radii())
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    assert!(r.iter().all(|&r| (0.6..=0.999).contains(&r)), "{r:?}");
    let u = host_values(u);
    let mut expected = vec![0.0f32; u.len()];
    for b in 0..2 {
        for (c, &r) in r.iter().enumerate() {
            let mut state = 0.0f64;
            for t in 0..7 {
                let i = (b * 7 + t) * 4 + c;
                let x = f64::from(u[i]);
                state = if t == 0 {
                    x
                } else {
                    r * state + (1.0 - r * r).sqrt() * x
                };
                expected[i] = state as f32;
            }
        }
    }
    assert_close_relative(&host_values(h), &expected, 1e-5, "ungated LRU");
}

#[test]
fn block_without_convolution_streams_and_keeps_no_conv_state() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(12);
    let config = RecurrentBlockConfig {
        d_model: 6,
        lru: RgLruConfig::paper(12, 3),
        conv_taps: 0,
        depth: 2,
    };
    let block = config.init(&device);
    let with_conv = RecurrentBlockConfig {
        conv_taps: 4,
        ..config
    }
    .init(&device);
    // The convolution's 4 × 12 taps and 12 biases are gone.
    assert_eq!(with_conv.num_params() - block.num_params(), 4 * 12 + 12);
    let x = Tensor::<3>::random([2, 9, 6], Distribution::Normal(0.0, 1.0), &device);
    let (full, _) = block.forward(x.clone(), None);
    let (head, state) = block.forward(x.clone().slice(s![.., 0..5, ..]), None);
    assert!(state.conv.is_none());
    assert_eq!(state.len_per_sequence(), 12);
    let (tail, _) = block.forward(x.slice(s![.., 5..9, ..]), Some(state));
    assert!(max_abs_diff(Tensor::cat(vec![head, tail], 1), full) < 1e-5);
}

#[test]
fn recurrent_block_is_causal() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(6);
    let block = small_block(&device);
    let x = Tensor::<3>::random([1, 10, 6], Distribution::Normal(0.0, 1.0), &device);
    let bump = Tensor::<3>::zeros([1, 10, 6], &device)
        .slice_assign(s![.., 6..7, ..], Tensor::ones([1, 1, 6], &device));
    let (before, _) = block.forward(x.clone(), None);
    let (after, _) = block.forward(x + bump, None);
    let change = (after - before).abs().sum_dim(2).reshape([10]);
    let change = host_values(change);
    assert!(change[..6].iter().all(|&c| c == 0.0), "{change:?}");
    assert!(change[6..].iter().all(|&c| c > 0.0), "{change:?}");
}

#[test]
fn parameter_counts_match_the_released_trecvit_b_layer() {
    let _lock = device_rng_lock();
    let device = Device::default();
    let temporal = RecurrentBlockConfig {
        d_model: 768,
        lru: RgLruConfig::release(1536, 12),
        conv_taps: 4,
        depth: 12,
    }
    .init(&device);
    assert_eq!(temporal.num_params(), 3_949_056);
    let spatial = VitBlockConfig {
        d_model: 768,
        heads: 12,
        mlp_dim: 3072,
    }
    .init(&device);
    assert_eq!(spatial.num_params(), 7_087_872);
}

fn complex_inputs(time: usize, device: &Device) -> (ComplexTensor<3>, ComplexTensor<3>) {
    // |a| in (0.3, 0.999), phase in (−1, 1).
    let radius = Tensor::<3>::random([2, time, 3], Distribution::Uniform(0.3, 0.999), device);
    let phase = Tensor::<3>::random([2, time, 3], Distribution::Uniform(-1.0, 1.0), device);
    let a = ComplexTensor {
        re: radius.clone() * phase.clone().cos(),
        im: radius * phase.sin(),
    };
    let b = ComplexTensor {
        re: Tensor::random([2, time, 3], Distribution::Normal(0.0, 1.0), device),
        im: Tensor::random([2, time, 3], Distribution::Normal(0.0, 1.0), device),
    };
    (a, b)
}

#[test]
fn complex_scans_match_a_scalar_reference_and_each_other() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(8);
    for time in [1, 6, 19] {
        let (a, b) = complex_inputs(time, &device);
        let (reference, ref_last) =
            complex_linear_scan(a.clone(), b.clone(), None, ScanImpl::Sequential);
        // The recurrence by hand, in f64 complex arithmetic, for every (row, channel).
        let (ar, ai, br, bi) = (
            host_values(a.re.clone()),
            host_values(a.im.clone()),
            host_values(b.re.clone()),
            host_values(b.im.clone()),
        );
        let (hr, hi) = (
            host_values(reference.re.clone()),
            host_values(reference.im.clone()),
        );
        for row in 0..2 {
            for ch in 0..3 {
                let (mut x, mut y) = (0.0f64, 0.0f64);
                for t in 0..time {
                    let k = (row * time + t) * 3 + ch;
                    let (pr, pi) = (f64::from(ar[k]), f64::from(ai[k]));
                    (x, y) = (
                        pr * x - pi * y + f64::from(br[k]),
                        pr * y + pi * x + f64::from(bi[k]),
                    );
                    assert!(
                        (f64::from(hr[k]) - x).abs() < 1e-4 && (f64::from(hi[k]) - y).abs() < 1e-4
                    );
                }
            }
        }
        for scan in IMPLEMENTATIONS {
            let (h, last) = complex_linear_scan(a.clone(), b.clone(), None, scan);
            let gap = max_abs_diff(h.re, reference.re.clone())
                .max(max_abs_diff(h.im, reference.im.clone()));
            assert!(gap < 1e-5, "{scan:?}, T = {time}: {gap}");
            let gap = max_abs_diff(last.re, ref_last.re.clone());
            assert!(gap < 1e-5, "{scan:?}, T = {time}, last state: {gap}");
        }
    }
}

#[test]
fn complex_scan_gradients_agree_across_implementations() {
    let _lock = device_rng_lock();
    let grads_of = |scan: ScanImpl| {
        let device = Device::default().autodiff();
        device.seed(9);
        let (a, b) = complex_inputs(11, &device);
        let a = ComplexTensor {
            re: a.re.require_grad(),
            im: a.im.require_grad(),
        };
        let (h, _) = complex_linear_scan(a.clone(), b, None, scan);
        let grads = (h.re.sum() + h.im.mul_scalar(2.0).sum()).backward();
        (
            host_values(a.re.grad(&grads).unwrap()),
            host_values(a.im.grad(&grads).unwrap()),
        )
    };
    let reference = grads_of(ScanImpl::Sequential);
    for scan in IMPLEMENTATIONS {
        let (re, im) = grads_of(scan);
        for (g, r) in [(re, &reference.0), (im, &reference.1)] {
            assert_close_relative(&g, r, 1e-4, &format!("{scan:?}: gradients"));
        }
    }
}

#[test]
fn complex_rglru_streams_in_pieces_and_keeps_phases_in_range() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(10);
    let config = RgLruConfig {
        only_real: false,
        scan: ScanImpl::LogDepth,
        ..RgLruConfig::release(8, 2)
    };
    let lru = config.init(&device);
    // W = 8 channels are 4 complex numbers: gates 2·(2 blocks of 4×2 + 4 bias), Λ 4, θ 4.
    assert_eq!(lru.num_params(), 2 * (2 * 4 * 2 + 4) + 4 + 4);
    let theta = host_values(lru.theta.as_ref().unwrap().val());
    assert!(
        theta
            .iter()
            .all(|p| (0.0..=0.1 * std::f32::consts::PI + 1e-6).contains(p))
    );
    let u = Tensor::<3>::random([2, 9, 8], Distribution::Normal(0.0, 1.0), &device);
    let (full, last) = lru.forward(u.clone(), None);
    assert_eq!(full.dims(), [2, 9, 8]);
    let (head, state) = lru.forward(u.clone().slice(s![.., 0..5, ..]), None);
    let (tail, tail_last) = lru.forward(u.slice(s![.., 5..9, ..]), Some(state));
    assert!(max_abs_diff(Tensor::cat(vec![head, tail], 1), full) < 1e-5);
    assert!(max_abs_diff(tail_last, last) < 1e-5);
}

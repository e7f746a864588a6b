//! The model's sizes, its causality, and streaming against the whole-clip forward.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use kiln_core::nn::ScanImpl;
use kiln_core::train::{device_rng_lock, parameter_values};
use kiln_core::{host_values, max_abs_diff};
use kiln_trecvit::{StreamState, TRecViT, TRecViTConfig};

#[test]
fn parameter_counts_are_the_papers_and_the_releases() {
    let _lock = device_rng_lock();
    let device = Device::default();
    for (config, expected) in [
        (TRecViTConfig::base_paper(), 111_913_360),
        (TRecViTConfig::base_release(), 136_778_128),
        (TRecViTConfig::large(), 471_797_136),
    ] {
        assert_eq!(
            config.init(&device).unwrap().num_params(),
            expected,
            "{config:?}"
        );
    }
}

fn tiny(scan: ScanImpl, seed: u64, device: &Device) -> TRecViT {
    device.seed(seed);
    TRecViTConfig {
        scan,
        ..TRecViTConfig::tiny(4)
    }
    .init(device)
    .unwrap()
}

fn video(frames: usize, seed: u64, device: &Device) -> Tensor<5> {
    device.seed(seed);
    Tensor::random(
        [2, frames, 32, 32, 1],
        Distribution::Uniform(0.0, 1.0),
        device,
    )
}

fn frame(video: &Tensor<5>, t: usize) -> Tensor<4> {
    video.clone().slice(s![.., t..t + 1]).squeeze_dim::<4>(1)
}

#[test]
fn streaming_frame_by_frame_equals_the_whole_clip() {
    let _lock = device_rng_lock();
    let device = Device::default();
    let model = tiny(ScanImpl::Sequential, 1, &device);
    let clip = video(7, 2, &device);
    let whole = model.forward(clip.clone());
    let mut state = StreamState::default();
    let mut frames = Vec::new();
    for t in 0..7 {
        let (tokens, next) = model.step(frame(&clip, t), state);
        frames.push(tokens.unsqueeze_dim::<4>(1));
        state = next;
    }
    let gap = max_abs_diff(Tensor::cat(frames, 1), whole.tokens);
    assert!(gap < 1e-5, "tokens differ by {gap}");
    let gap = max_abs_diff(model.stream_logits(&state).unwrap(), whole.logits.unwrap());
    assert!(gap < 1e-5, "logits differ by {gap}");
}

#[test]
fn the_streaming_state_does_not_grow_with_the_video() {
    let _lock = device_rng_lock();
    let device = Device::default();
    let model = tiny(ScanImpl::Sequential, 3, &device);
    let clip = video(64, 4, &device);
    let mut state = StreamState::default();
    let mut sizes = Vec::new();
    for t in 0..64 {
        state = model.step(frame(&clip, t), state).1;
        sizes.push(state.len());
    }
    // Per layer, 2 videos × 17 positions × (3 conv frames + 1 state) × 64 channels; plus the
    // head's running sum of 2 × 64.
    let expected = 4 * 2 * 17 * 4 * 64 + 2 * 64;
    assert_eq!(sizes[3], expected);
    assert!(sizes.iter().all(|&s| s == expected), "sizes changed");
}

#[test]
fn scan_implementations_give_the_same_model() {
    let _lock = device_rng_lock();
    let device = Device::default();
    let clip = video(9, 5, &device);
    let reference_model = tiny(ScanImpl::Sequential, 6, &device);
    let again = tiny(ScanImpl::Sequential, 6, &device);
    assert_eq!(parameter_values(&reference_model), parameter_values(&again));
    let reference = reference_model.forward(clip.clone());
    for scan in [ScanImpl::LogDepth, ScanImpl::Chunked { chunk: 4 }] {
        let out = tiny(scan, 6, &device).forward(clip.clone());
        let gap = max_abs_diff(out.tokens, reference.tokens.clone());
        assert!(gap < 1e-5, "{scan:?}: {gap}");
    }
}

#[test]
fn a_frame_changes_nothing_before_it() {
    let _lock = device_rng_lock();
    let device = Device::default();
    let model = tiny(ScanImpl::Sequential, 7, &device);
    let clip = video(6, 8, &device);
    let bump = Tensor::<5>::zeros([2, 6, 32, 32, 1], &device)
        .slice_assign(s![.., 3..4], Tensor::full([2, 1, 32, 32, 1], 0.5, &device));
    let before = model.forward(clip.clone()).tokens;
    let after = model.forward(clip + bump).tokens;
    let change = host_values(
        (after - before)
            .abs()
            .sum_dim(3)
            .sum_dim(2)
            .sum_dim(0)
            .reshape([6]),
    );
    assert!(change[..3].iter().all(|&c| c == 0.0), "{change:?}");
    assert!(change[3..].iter().all(|&c| c > 0.0), "{change:?}");
}

#[test]
fn configs_that_do_not_fit_say_why() {
    let bad = TRecViTConfig {
        patch: [7, 7],
        ..TRecViTConfig::tiny(4)
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .0
            .contains("must tile the 32×32 frames")
    );
    let bad = TRecViTConfig {
        heads: 5,
        ..TRecViTConfig::tiny(4)
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .0
            .contains("5 heads must divide")
    );
    for preset in [
        TRecViTConfig::tiny(4),
        TRecViTConfig::small(),
        TRecViTConfig::base_paper(),
        TRecViTConfig::base_release(),
        TRecViTConfig::large(),
    ] {
        preset.validate().unwrap();
    }
}

/// The smallest end-to-end check that the recurrence carries motion: a square moving one of
/// four ways, where any single frame is at chance (25%).
#[test]
fn a_tiny_trecvit_learns_which_way_a_square_moves() {
    use burn::optim::{AdamWConfig, GradientsParams};
    use kiln_core::train::{accuracy, cross_entropy};
    use kiln_trecvit::data::{Labels, Motion, Sprite};

    let _lock = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(11);
    let config = TRecViTConfig {
        image_size: [16, 16],
        patch: [4, 4],
        width: 32,
        depth: 2,
        heads: 2,
        mlp_dim: 64,
        lru_width: 32,
        ..TRecViTConfig::tiny(Labels::Direction.classes())
    };
    let mut model = config.init(&device).unwrap();
    let task = Motion {
        side: 16,
        frames: 8,
        speed: (1, 1),
        labels: Labels::Direction,
    };
    let square = [Sprite::square(4)];
    let (x, y) = task.clips(&square, 64, 12, &device);
    let mut optim = AdamWConfig::new().init();
    let mut steps = 0;
    let mut train_accuracy = 0.0;
    while steps < 200 {
        let logits = model.forward(x.clone()).logits.unwrap();
        train_accuracy = accuracy(logits.clone(), y.clone());
        if train_accuracy >= 0.95 {
            break;
        }
        let grads =
            GradientsParams::from_grads(cross_entropy(logits, y.clone()).backward(), &model);
        model = optim.step(3e-3, model, grads);
        steps += 1;
    }
    assert!(
        train_accuracy >= 0.95,
        "{:.0}% after {steps} steps",
        100.0 * train_accuracy
    );
    // Fresh clips of the same task: the direction was learned, not the 64 clips.
    let (x, y) = task.clips(&square, 64, 13, &device);
    let held_out = accuracy(model.valid().forward(x.inner()).logits.unwrap(), y.inner());
    assert!(held_out >= 0.8, "held-out {:.0}%", 100.0 * held_out);
}

#[test]
fn a_complex_lru_trecvit_streams_and_is_counted() {
    let _lock = device_rng_lock();
    let device = Device::default();
    device.seed(12);
    let config = TRecViTConfig {
        complex_lru: true,
        ..TRecViTConfig::tiny(4)
    };
    let model = config.init(&device).unwrap();
    assert_eq!(
        model.num_params() as u64,
        kiln_trecvit::cost::trecvit(&config, 8).params
    );
    let clip = video(5, 13, &device);
    let whole = model.forward(clip.clone());
    let mut state = StreamState::default();
    for t in 0..5 {
        state = model.step(frame(&clip, t), state).1;
    }
    let gap = max_abs_diff(model.stream_logits(&state).unwrap(), whole.logits.unwrap());
    assert!(gap < 1e-5, "complex streaming differs by {gap}");
}

//! The released checkpoint format, checked against the released JAX code.
//!
//! `tests/fixtures/flax_tiny_{real,complex}.npz` are tiny TRecViTs built, perturbed and saved by
//! the released JAX model (`tests/fixtures/make_flax_tiny.py`), and `…_io.npz` hold a video and
//! the JAX model's outputs on it. A wrong key, a transposed kernel, a forgotten `1 + scale` or a
//! wrongly split head would move the outputs by far more than the tolerances here.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::path::{Path, PathBuf};

use burn::prelude::*;
use kiln_core::max_abs_diff;
use kiln_core::npz::{NpyArray, Npz, write_npz};
use kiln_core::train::trainable_params;
use kiln_trecvit::{
    CheckpointError, HeadConfig, Pool, StreamState, TRecViTConfig, flax_config, load_flax_npz,
    save_flax_npz,
};

/// Frames of the fixtures: 8×12 pixels, 3 channels, 8 frames cut into 2 clips of 4.
const IMAGE: [usize; 2] = [8, 12];
const FRAMES_PER_CLIP: usize = 4;

/// Differences from the JAX outputs: float32 sums in another order, through two layers.
const TOLERANCE: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The video and the JAX outputs stored beside a checkpoint.
struct JaxOutputs {
    video: Tensor<5>,
    logits: Tensor<2>,
    probs: Tensor<2>,
    encoded: Tensor<4>,
}

fn jax_outputs(kind: &str, device: &Device) -> JaxOutputs {
    let mut io = Npz::open(&fixture(&format!("flax_tiny_{kind}_io.npz"))).unwrap();
    let mut read = |name: &str| io.read(name).unwrap();
    JaxOutputs {
        video: read("video").into_tensor::<5>(device).unwrap(),
        logits: read("logits").into_tensor::<2>(device).unwrap(),
        probs: read("probs").into_tensor::<2>(device).unwrap(),
        encoded: read("encoded").into_tensor::<4>(device).unwrap(),
    }
}

/// Loads a fixture with the config read from it, runs the video, and compares with JAX.
fn matches_jax(kind: &str, complex: bool) {
    let device = Device::default();
    let path = fixture(&format!("flax_tiny_{kind}.npz"));
    let config = flax_config(&path, IMAGE).unwrap();
    assert_eq!(
        (
            config.width,
            config.depth,
            config.heads,
            config.mlp_dim,
            config.lru_width
        ),
        (16, 2, 2, 24, 32)
    );
    assert_eq!(
        (config.patch, config.in_channels, config.conv_taps),
        ([4, 4], 3, 4)
    );
    assert_eq!(config.complex_lru, complex);
    assert_eq!(
        config.head,
        Some(HeadConfig {
            rep_size: Some(20),
            num_classes: 5
        })
    );
    let model = load_flax_npz(&path, &config, &device).unwrap();
    let jax = jax_outputs(kind, &device);

    let out = model
        .classify_clips(jax.video.clone(), FRAMES_PER_CLIP)
        .unwrap();
    assert_eq!(out.tokens.dims(), jax.encoded.dims());
    let tokens_diff = max_abs_diff(out.tokens.clone(), jax.encoded.clone());
    let logits_diff = max_abs_diff(out.logits().unwrap(), jax.logits.clone());
    let probs_diff = max_abs_diff(out.probabilities().unwrap(), jax.probs.clone());
    assert!(
        tokens_diff < TOLERANCE,
        "{kind}: tokens differ by {tokens_diff}"
    );
    assert!(
        logits_diff < TOLERANCE,
        "{kind}: logits differ by {logits_diff}"
    );
    assert!(
        probs_diff < TOLERANCE,
        "{kind}: probabilities differ by {probs_diff}"
    );

    // The first clip again, one frame at a time with a constant-size state.
    let mut state = StreamState::default();
    for t in 0..FRAMES_PER_CLIP {
        let frame = jax
            .video
            .clone()
            .slice(s![.., t..t + 1])
            .squeeze_dim::<4>(1);
        let (tokens, next) = model.step(frame, state);
        state = next;
        let expected = jax
            .encoded
            .clone()
            .slice(s![0..1, t..t + 1])
            .squeeze_dim::<3>(1);
        let diff = max_abs_diff(tokens, expected);
        assert!(
            diff < TOLERANCE,
            "{kind}: streamed frame {t} differs by {diff}"
        );
    }
}

#[test]
fn loaded_real_lru_checkpoint_reproduces_the_jax_model() {
    matches_jax("real", false);
}

#[test]
fn loaded_complex_lru_checkpoint_reproduces_the_jax_model() {
    matches_jax("complex", true);
}

#[test]
fn saving_writes_back_the_jax_arrays() {
    let device = Device::default();
    let original = fixture("flax_tiny_real.npz");
    let config = flax_config(&original, IMAGE).unwrap();
    let model = load_flax_npz(&original, &config, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.npz");
    save_flax_npz(&model, &saved).unwrap();

    let mut original = Npz::open(&original).unwrap();
    let mut saved = Npz::open(&saved).unwrap();
    assert_eq!(saved.names(), original.names());
    for name in original.names().to_vec() {
        let (a, b) = (original.read(&name).unwrap(), saved.read(&name).unwrap());
        assert_eq!(a.shape(), b.shape(), "{name}");
        // `temporal_pre_norm/scale` goes through 1 + s and back: one rounding.
        let diff = a
            .values()
            .iter()
            .zip(b.values())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff <= 1e-7, "{name} differs by {diff}");
    }
}

#[test]
fn a_model_trained_here_survives_a_save_and_load() {
    let device = Device::default();
    let small = TRecViTConfig {
        image_size: [8, 8],
        patch: [4, 4],
        in_channels: 2,
        width: 12,
        depth: 3,
        heads: 3,
        mlp_dim: 20,
        lru_width: 24,
        head: Some(HeadConfig {
            rep_size: None,
            num_classes: 3,
        }),
        ..TRecViTConfig::base_release()
    };
    // The ablations of the reproduction too: no Conv1D, no gates.
    let ablated = TRecViTConfig {
        conv_taps: 0,
        lru_gates: false,
        ..small
    };
    for config in [small, ablated] {
        let model = config.init(&device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.npz");
        save_flax_npz(&model, &path).unwrap();
        let loaded = load_flax_npz(&path, &config, &device).unwrap();
        let video = Tensor::<5>::random(
            [2, 5, 8, 8, 2],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let (a, b) = (model.forward(video.clone()), loaded.forward(video));
        assert!(max_abs_diff(a.tokens, b.tokens) < 1e-5);
        assert!(max_abs_diff(a.logits.unwrap(), b.logits.unwrap()) < 1e-5);
        assert_eq!(flax_config(&path, [8, 8]).unwrap(), config);

        // Loaded on an autodiff device, every weight trains.
        let trainable = load_flax_npz(&path, &config, &device.clone().autodiff()).unwrap();
        assert_eq!(trainable_params(&trainable), trainable.num_params());
    }
}

#[test]
fn without_a_head_the_encoder_loads_alone() {
    let device = Device::default();
    let path = fixture("flax_tiny_real.npz");
    let config = TRecViTConfig {
        head: None,
        ..flax_config(&path, IMAGE).unwrap()
    };
    let encoder = load_flax_npz(&path, &config, &device).unwrap();
    let jax = jax_outputs("real", &device);
    let out = encoder.classify_clips(jax.video, FRAMES_PER_CLIP).unwrap();
    assert!(out.logits().is_none());
    assert!(max_abs_diff(out.tokens, jax.encoded) < TOLERANCE);
}

/// The message of a load that must fail.
fn load_error(config: &TRecViTConfig) -> String {
    let error: CheckpointError =
        load_flax_npz(fixture("flax_tiny_real.npz"), config, &Device::default())
            .expect_err("the load must fail");
    error.to_string()
}

#[test]
fn a_checkpoint_that_does_not_fit_the_config_is_refused_with_the_reason() {
    let fits = flax_config(fixture("flax_tiny_real.npz"), IMAGE).unwrap();

    let narrow = TRecViTConfig {
        lru_width: 16,
        ..fits
    };
    let message = load_error(&narrow);
    assert!(
        message.contains("linear_y/kernel") && message.contains("[16, 32]"),
        "{message}"
    );

    let deeper = TRecViTConfig { depth: 3, ..fits };
    let message = load_error(&deeper);
    assert!(message.contains("residualblock_02"), "{message}");

    let shallower = TRecViTConfig { depth: 1, ..fits };
    let message = load_error(&shallower);
    assert!(
        message.contains("no place for") && message.contains("encoderblock_1"),
        "{message}"
    );

    let complex = TRecViTConfig {
        complex_lru: true,
        ..fits
    };
    let message = load_error(&complex);
    assert!(message.contains("a_imag_param"), "{message}");

    let gap = TRecViTConfig {
        pool: Pool::Gap,
        ..fits
    };
    assert!(load_error(&gap).contains("CLS pooling"));
}

#[test]
fn bad_files_and_frame_sizes_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.npz");
    let message = flax_config(&missing, IMAGE).unwrap_err().to_string();
    assert!(message.contains("cannot access"), "{message}");

    let message = flax_config(fixture("flax_tiny_real.npz"), [8, 8])
        .unwrap_err()
        .to_string();
    assert!(message.contains("6 patches per frame"), "{message}");

    // An archive that is not a TRecViT checkpoint.
    let other = dir.path().join("other.npz");
    let array = NpyArray::new(vec![2], vec![1.0, 2.0]).unwrap();
    write_npz(&other, [("weights", &array)]).unwrap();
    let message = flax_config(&other, IMAGE).unwrap_err().to_string();
    assert!(
        message.contains("no array named `tokenizer/embedding/kernel`"),
        "{message}"
    );

    // A position embedding of the wrong rank is named, not indexed past its end.
    let kernel = NpyArray::new(vec![1, 4, 4, 3, 16], vec![0.0; 768]).unwrap();
    let flat = NpyArray::new(vec![16], vec![0.0; 16]).unwrap();
    let broken = dir.path().join("broken.npz");
    write_npz(
        &broken,
        [
            ("tokenizer/embedding/kernel", &kernel),
            ("tokenizer/pos_embedding", &flat),
        ],
    )
    .unwrap();
    let message = flax_config(&broken, IMAGE).unwrap_err().to_string();
    assert!(
        message.contains("pos_embedding") && message.contains("expected [1, patches, width]"),
        "{message}"
    );
}

#[test]
fn videos_that_do_not_cut_into_equal_clips_are_refused() {
    let device = Device::default();
    let config = flax_config(fixture("flax_tiny_real.npz"), IMAGE).unwrap();
    let model = config.init(&device).unwrap();
    let video = Tensor::<5>::zeros([1, 9, 8, 12, 3], &device);
    let message = model.classify_clips(video, 4).err().unwrap().to_string();
    assert!(message.contains("trim the video to 8 frames"), "{message}");
    let empty = Tensor::<5>::zeros([1, 0, 8, 12, 3], &device);
    let message = model.classify_clips(empty, 4).err().unwrap().to_string();
    assert!(message.contains("no frames"), "{message}");
    // Fewer frames than a clip: one clip of all of them.
    let short = Tensor::<5>::zeros([1, 3, 8, 12, 3], &device);
    assert_eq!(
        model.classify_clips(short, 4).unwrap().tokens.dims(),
        [1, 3, 7, 16]
    );
}

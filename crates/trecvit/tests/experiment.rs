//! The reproduction pipeline on generated digits (no download), and the shipped configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use kiln_core::cli::{ReproductionConfig, config_tests};
use std::path::PathBuf;

use burn::prelude::*;
use kiln_core::cli::Run;
use kiln_core::data::ImageDataset;
use kiln_core::train::device_rng_lock;
use kiln_trecvit::experiment::{self, Digits, ExperimentConfig, ModelKind};

fn config_path(scale: &str) -> PathBuf {
    config_tests::shipped(env!("CARGO_MANIFEST_DIR"), "trecvit", scale)
}

#[test]
fn shipped_configs_parse_and_validate() {
    config_tests::assert_shipped_configs_load::<ExperimentConfig>(
        env!("CARGO_MANIFEST_DIR"),
        "trecvit",
        &["smoke", "cpu"],
    );
}

fn load_edited(from: &str, to: &str) -> String {
    config_tests::load_edited::<ExperimentConfig>(&config_path("smoke"), from, to)
}

#[test]
fn bad_configs_are_errors_that_say_what_is_wrong() {
    let message = load_edited("seed: 0,", "sed: 0, seed: 0,");
    assert!(
        message.contains("bad.ron") && message.contains("sed"),
        "{message}"
    );
    let message = load_edited("num_classes: 4", "num_classes: 2");
    assert!(message.contains("num_classes 4"), "{message}");
    let message = load_edited("patch: (8, 8)", "patch: (7, 7)");
    assert!(message.contains("must tile"), "{message}");
    let message = load_edited("side: 32,", "side: 16,");
    assert!(message.contains("image_size must be [16, 16]"), "{message}");
    let message = load_edited("lru_gates: Some(false)", "min_rad: Some(1.5)");
    assert!(
        message.contains("ablation `no gates`") && message.contains("min_rad"),
        "{message}"
    );
}

#[test]
fn the_smoke_pipeline_runs_on_generated_digits_and_reports() {
    let config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    let images = ImageDataset::synthetic_rows(40, 1);
    // 14×14 stand-ins for digits, shrunk like MNIST's 28×28 ones would be.
    let task = experiment::TaskConfig {
        shrink: 1,
        ..config.task.clone()
    };
    let digits = Digits::from_datasets(&images, &images, &task);
    let _rng = device_rng_lock();
    let mut run = Run::in_memory(Device::default());
    let mut results = experiment::run_on(&config, &digits, &mut run).unwrap();
    assert_eq!(results.models.len(), 3);
    // The reference and the smoke config's two variants, which lose what they leave out.
    let names: Vec<&str> = results.ablations.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["TRecViT", "no Conv1D", "no gates"]);
    let params: Vec<usize> = results.ablations.iter().map(|a| a.result.params).collect();
    assert!(params[1] < params[0] && params[2] < params[0], "{params:?}");
    let trecvit = results
        .models
        .iter()
        .find(|r| r.kind == ModelKind::TRecViT)
        .unwrap();
    assert!(trecvit.streaming_gap.unwrap() < 1e-4);
    assert_eq!(trecvit.frame_latency.len(), config.latency_frames.len());
    assert_eq!(trecvit.frame_peak_bytes.len(), config.latency_frames.len());
    // This test's allocator is not the global one, so memory was not measured; stand-in
    // numbers (flat for TRecViT, growing for the others) exercise the report's memory part.
    for r in &mut results.models {
        let growth = usize::from(r.kind != ModelKind::TRecViT);
        r.frame_peak_bytes = (0..config.latency_frames.len())
            .map(|i| Some(1000 * (1 + growth * 3 * i)))
            .collect();
    }
    let run = config_tests::smoke_run_info(vec![0]);
    let report = experiment::report::build(&config, &results, run).unwrap();
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    for file in [
        "report.md",
        "latency_vs_T.svg",
        "params_flops.md",
        "streaming_check.txt",
        "scaling.csv",
        "ablation_table.md",
        "memory_vs_T.svg",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} was not written");
    }
    assert_eq!(report.claims.len(), 13, "{}", report.to_markdown());
}

#[test]
fn shuffled_clips_hold_the_same_frames_in_another_order() {
    let device = Device::default();
    // Frame f of clip b is filled with 10·b + f.
    let (clips, frames) = (6, 5);
    let values: Vec<f32> = (0..clips * frames)
        .flat_map(|i| std::iter::repeat_n(((i / frames) * 10 + i % frames) as f32, 4))
        .collect();
    let video = Tensor::<5>::from_data(TensorData::new(values, [clips, frames, 2, 2, 1]), &device);
    let shuffled = experiment::shuffle_frames(video, 3);
    let firsts: Vec<f32> = kiln_core::host_values(shuffled.slice(s![.., .., 0..1, 0..1, ..]));
    let mut moved = 0;
    for (b, clip) in firsts.chunks(frames).enumerate() {
        let mut sorted = clip.to_vec();
        sorted.sort_by(f32::total_cmp);
        let original: Vec<f32> = (0..frames).map(|f| (b * 10 + f) as f32).collect();
        assert_eq!(sorted, original, "clip {b} keeps its own frames");
        moved += usize::from(clip != original.as_slice());
    }
    assert!(
        moved >= clips - 1,
        "only {moved} of {clips} clips were reordered"
    );
}

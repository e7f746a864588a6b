//! The reproduction pipeline end to end on generated images (no download), and the shipped
//! configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::path::Path;

use burn::prelude::*;
use kiln_core::data::{ImageDataset, ImageShape};
use kiln_core::report::RunInfo;
use kiln_core::train::{PeakAlloc, SeededRng};
use kiln_noprop::experiment::{self, ExperimentConfig, PreparedData};

fn config_path(scale: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../configs/noprop/{scale}.ron"))
}

#[test]
fn shipped_configs_parse_and_validate() {
    for scale in ["smoke", "cpu", "full"] {
        let config = ExperimentConfig::load(&config_path(scale)).unwrap();
        assert_eq!(config.scale, scale);
    }
}

#[test]
fn a_config_with_an_unknown_field_is_an_error_naming_it() {
    let text = std::fs::read_to_string(config_path("smoke")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.ron");
    std::fs::write(&path, text.replacen("seeds:", "sedes: [1], seeds:", 1)).unwrap();
    let message = ExperimentConfig::load(&path).unwrap_err().to_string();
    assert!(
        message.contains("bad.ron") && message.contains("sedes"),
        "{message}"
    );
}

/// 14×14 images of 10 classes: class c lights up row c (plus noise).
fn images(n: usize, seed: u64) -> ImageDataset {
    let mut rng = SeededRng::new(seed);
    let mut pixels = Vec::with_capacity(n * 196);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 10;
        for row in 0..14 {
            for _ in 0..14 {
                let base = if row == class + 2 { 200.0 } else { 20.0 };
                pixels.push((base + 30.0 * rng.normal()).clamp(0.0, 255.0) as u8);
            }
        }
        labels.push(class as u16);
    }
    let shape = ImageShape {
        channels: 1,
        height: 14,
        width: 14,
    };
    ImageDataset::new(pixels, labels, shape, 10).unwrap()
}

#[test]
fn the_pipeline_trains_every_method_and_writes_a_report() {
    let mut config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    config.second_dataset = None;
    config.train_size = None;
    config.test_size = None;
    config.noprop.t_blocks = 2;
    config.noprop.batch_size = 32;
    config.noprop.inference_steps = 4;
    let data = PreparedData::new("generated", images(96, 1), images(40, 2), &config).unwrap();
    let run_info = RunInfo {
        command: "test".into(),
        scale: "smoke".into(),
        backend: "flex".into(),
        seeds: vec![],
        finished_utc: "now".into(),
        wall_seconds: 0.0,
    };
    // Not the global allocator here, so memory is reported as not measured.
    let alloc = PeakAlloc::new();
    let report =
        experiment::run(&config, &[data], &Device::default(), 0, &alloc, run_info).unwrap();
    let md = report.to_markdown();
    assert!(
        md.contains("| claim | paper | ours | tolerance | verdict |"),
        "{md}"
    );
    for needle in [
        "NoProp-DT (OneHot) test accuracy",
        "Backprop minus NoProp-DT",
        "η = 0 ablation",
        "NoProp-CT",
        "NoProp-FM",
        "Read-out accuracy of z_t",
    ] {
        assert!(md.contains(needle), "missing `{needle}` in\n{md}");
    }
    assert!(
        !md.contains("Peak memory"),
        "memory needs the global allocator"
    );
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    for file in [
        "report.md",
        "metrics.json",
        "learning_curves_generated.svg",
        "readout_along_t_generated.svg",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} not written");
    }
}

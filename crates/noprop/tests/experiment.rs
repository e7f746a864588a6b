//! The reproduction pipeline end to end on generated images (no download), and the shipped
//! configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use kiln_core::cli::ReproductionConfig;
use std::path::Path;

use burn::prelude::*;
use kiln_core::cli::{Reproduction, Run, config_tests};
use kiln_core::data::{ImageDataset, ImageShape};
use kiln_core::report::RunInfo;
use kiln_core::train::PhaseStore;
use kiln_noprop::experiment::{self, ExperimentConfig, NoProp, PreparedData};

fn config_path(scale: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../configs/noprop/{scale}.ron"))
}

#[test]
fn shipped_configs_parse_and_validate() {
    config_tests::assert_shipped_configs_load::<ExperimentConfig>(
        env!("CARGO_MANIFEST_DIR"),
        "noprop",
        &["smoke", "cpu", "full"],
    );
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

fn images(n: usize, seed: u64) -> ImageDataset {
    ImageDataset::synthetic_rows(n, seed)
}

#[test]
fn the_pipeline_trains_every_method_and_writes_a_report() {
    // Holds the device RNG: this test compares runs, and its siblings draw random numbers too.
    let _rng = kiln_core::train::device_rng_lock();
    let mut config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    config.second_dataset = None;
    config.train_size = None;
    config.test_size = None;
    config.noprop.t_blocks = 2;
    config.noprop.batch_size = 32;
    config.noprop.inference_steps = 4;
    let data = PreparedData::new("generated", images(96, 1), images(40, 2), &config).unwrap();
    let run_info = RunInfo {
        finished_utc: "now".into(),
        ..config_tests::smoke_run_info(vec![])
    };
    // An in-memory run counts no memory, so memory is reported as not measured.
    let mut run = Run::in_memory(Device::default());
    let store_dir = tempfile::tempdir().unwrap();
    let store_path = store_dir.path().join("phases.json");
    (run.phases, _) = PhaseStore::open(store_path.clone(), "test".into()).unwrap();
    let results = experiment::run_on(&config, &[data], &mut run).unwrap();
    let report = (NoProp::REPORT)(&config, &results, run_info.clone()).unwrap();
    let md = report.to_markdown();

    // Stop after the first phase (the DT-vs-backprop comparison): drop the later ones from the
    // store, resume, and get exactly the same claims as the uninterrupted run.
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&store_path).unwrap()).unwrap();
    let done = saved["done"].as_object_mut().unwrap();
    assert_eq!(
        done.len(),
        4,
        "compare, eta-zero, ct, fm: {:?}",
        done.keys().collect::<Vec<_>>()
    );
    done.retain(|phase, _| phase.starts_with("compare/"));
    std::fs::write(&store_path, serde_json::to_vec(&saved).unwrap()).unwrap();
    let (phases, resumed) = PhaseStore::open(store_path, "test".into()).unwrap();
    assert_eq!(resumed, 1);
    run.phases = phases;
    let data = PreparedData::new("generated", images(96, 1), images(40, 2), &config).unwrap();
    let results = experiment::run_on(&config, &[data], &mut run).unwrap();
    let resumed_report = (NoProp::REPORT)(&config, &results, run_info).unwrap();
    assert_eq!(
        resumed_report.claims, report.claims,
        "a resumed run must equal an uninterrupted one"
    );
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

#[test]
fn cifar_files_a_user_supplies_load_and_train_a_paper_block() {
    let _rng = kiln_core::train::device_rng_lock();
    use kiln_noprop::block::{BlockConfig, BlockShape, PaperBlock};
    use kiln_noprop::experiment::DatasetChoice;

    // A generated CIFAR-10 binary distribution: 5 training files and a test file, 3 records each.
    let dir = tempfile::tempdir().unwrap();
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend((0..3072).map(|i| (i % 251) as u8));
        r
    };
    for name in [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ] {
        let bytes: Vec<u8> = [record(1), record(7), record(3)].concat();
        std::fs::write(dir.path().join(format!("{name}.bin")), bytes).unwrap();
    }
    let choice = DatasetChoice::Cifar10 {
        dir: dir.path().to_path_buf(),
    };
    let (train, test) = choice.load().unwrap();
    assert_eq!((train.len(), test.len()), (15, 3));

    let device = Device::default().autodiff();
    let shape = BlockShape {
        image: [3, 32, 32],
        num_classes: 10,
        embed_dim: 10,
        prototype: false,
        continuous: false,
    };
    let blocks = (0..2)
        .map(|_| PaperBlock::new(&BlockConfig::cpu(), shape, &device))
        .collect();
    let schedule = kiln_noprop::DiscreteSchedule::new(&Default::default(), 2).unwrap();
    let model = kiln_noprop::NoPropDt::new(
        blocks,
        kiln_noprop::ClassEmbedding::one_hot(10, &device),
        schedule,
        0.1,
        &device,
    );
    let (x, y) = train.batch(
        &(0..15).collect::<Vec<_>>(),
        &train.channel_stats(),
        &device,
    );
    let mut trainer = kiln_noprop::train::DtTrainer::new(2, &Default::default());
    let (model, loss) = trainer.step(model, 2, x, y);
    assert!(loss.is_finite());
    assert_eq!(
        model
            .valid()
            .predict(
                test.batch(&[0, 1, 2], &test.channel_stats(), &Device::default())
                    .0,
                true
            )
            .dims(),
        [3]
    );
}

#[test]
fn learned_and_prototype_embeddings_receive_gradients() {
    let _rng = kiln_core::train::device_rng_lock();
    use burn::optim::GradientsParams;
    use kiln_noprop::block::{BlockConfig, BlockShape, PaperBlock};
    use kiln_noprop::embedding::prototype_rows;
    use kiln_noprop::{ClassEmbedding, DiscreteSchedule, NoPropDt};

    let device = Device::default().autodiff();
    let data = images(40, 3);
    let norm = data.channel_stats();
    let embeddings = [
        (ClassEmbedding::learned(10, 20, 1, &device), false),
        (
            ClassEmbedding::from_rows(&prototype_rows(&data, &norm, 100, &device), &device),
            true,
        ),
    ];
    for (embedding, prototype) in embeddings {
        let d = embedding.dim();
        let shape = BlockShape {
            image: [1, 14, 14],
            num_classes: 10,
            embed_dim: d,
            prototype,
            continuous: false,
        };
        let blocks = vec![PaperBlock::new(&BlockConfig::cpu(), shape, &device)];
        let schedule = DiscreteSchedule::new(&Default::default(), 1).unwrap();
        let model = NoPropDt::new(blocks, embedding, schedule, 0.1, &device);
        let (x, y) = data.batch(&(0..40).collect::<Vec<_>>(), &norm, &device);
        let loss = model.block_loss(1, x, y);
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let grad = grads
            .get::<2>(model.head.embedding.weight.id)
            .expect("embedding gradient");
        assert_eq!(grad.dims(), [10, d]);
        assert!(grad.abs().sum().into_scalar::<f32>() > 0.0, "d = {d}");
    }
}

#[test]
fn images_too_small_for_the_block_are_an_error_not_a_panic() {
    let config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    let shape = ImageShape {
        channels: 1,
        height: 8,
        width: 8,
    };
    let tiny = || ImageDataset::new(vec![0; 4 * 64], vec![0, 1, 2, 3], shape, 10).unwrap();
    let message = PreparedData::new("tiny", tiny(), tiny(), &config)
        .err()
        .expect("an error")
        .to_string();
    assert!(
        message.contains("8×8") && message.contains("at least 14×14"),
        "{message}"
    );
}

//! The reproduction's pieces on generated images (no download), and the shipped configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use kiln_core::cli::{ReproductionConfig, config_tests};
use std::path::PathBuf;

use burn::prelude::*;
use kiln_core::data::{DatasetChoice, ImageDataset};
use kiln_core::train::{PhaseStore, SeededRng, device_rng_lock};
use kiln_tam_optim::experiment::config::OnlineConfig;
use kiln_tam_optim::experiment::iid::train_run;
use kiln_tam_optim::experiment::mlp::EpochPlan;
use kiln_tam_optim::experiment::online::{StreamSpec, flip_labels, stream};
use kiln_tam_optim::experiment::{self, ExperimentConfig, OptimizerKind, Prepared, Results};

fn config_path(scale: &str) -> PathBuf {
    config_tests::shipped(env!("CARGO_MANIFEST_DIR"), "tam-optim", scale)
}

#[test]
fn shipped_configs_parse_and_validate() {
    config_tests::assert_shipped_configs_load::<ExperimentConfig>(
        env!("CARGO_MANIFEST_DIR"),
        "tam-optim",
        &["smoke", "cpu", "full"],
    );
}

fn load_edited(from: &str, to: &str) -> String {
    config_tests::load_edited::<ExperimentConfig>(&config_path("smoke"), from, to)
}

#[test]
fn bad_configs_are_errors_that_say_what_is_wrong() {
    let message = load_edited("seeds:", "sedes: [1], seeds:");
    assert!(
        message.contains("bad.ron") && message.contains("sedes"),
        "{message}"
    );
    let message = load_edited("curve_window: 10", "curve_window: 7");
    assert!(message.contains("curve_window must divide"), "{message}");
    let message = load_edited(
        "dataset: Mnist,\n        tasks",
        "dataset: FashionMnist,\n        tasks",
    );
    assert!(
        message.contains("online.dataset must be one of iid.datasets"),
        "{message}"
    );
    let message = load_edited("lrs: [0.1, 1.0]", "lrs: [0.1, -1.0]");
    assert!(
        message.contains("learning rates must be positive"),
        "{message}"
    );
    let message = load_edited("(optimizer: Tam, lrs: [0.03, 0.1]),", "");
    assert!(
        message.contains("Tam") && message.contains("no grid"),
        "{message}"
    );
}

#[test]
fn flipped_labels_are_permutations_of_the_chosen_classes() {
    let mut rng = SeededRng::new(1);
    assert_eq!(
        flip_labels(10, 0.0, &mut rng),
        (0..10).collect::<Vec<u16>>()
    );
    for p in [0.3, 0.8, 1.0] {
        for _ in 0..20 {
            let map = flip_labels(10, p, &mut rng);
            let mut sorted = map.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                (0..10).collect::<Vec<u16>>(),
                "not a permutation: {map:?}"
            );
            let moved = map
                .iter()
                .enumerate()
                .filter(|(i, c)| *i as u16 != **c)
                .count();
            assert!(moved <= (p * 10.0).round() as usize, "p {p}: {moved} moved");
        }
    }
    // At p = 1 the ten labels are reshuffled: over a few draws almost every class moves.
    let moved: usize = (0..10)
        .map(|_| {
            let map = flip_labels(10, 1.0, &mut rng);
            map.iter()
                .enumerate()
                .filter(|(i, c)| *i as u16 != **c)
                .count()
        })
        .sum();
    assert!(moved > 70, "{moved} of 100 labels moved");
}

fn synthetic() -> Prepared {
    let train = ImageDataset::synthetic_rows(600, 1);
    Prepared {
        name: "rows".into(),
        norm: train.channel_stats(),
        train,
        val: ImageDataset::synthetic_rows(200, 2),
        test: ImageDataset::synthetic_rows(300, 3),
    }
}

#[test]
fn every_optimizer_learns_the_generated_task_well_above_chance() {
    let _rng = device_rng_lock();
    let data = synthetic();
    for (kind, lr) in [
        (OptimizerKind::Sgd, 0.1),
        (OptimizerKind::SgdMomentum, 0.03),
        (OptimizerKind::Tam, 0.05),
        (OptimizerKind::Adam, 1e-3),
        (OptimizerKind::AdaTam, 1e-4),
    ] {
        let plan = EpochPlan {
            lr,
            epochs: 3,
            batch_size: 32,
        };
        let run = train_run(&data, &[32], kind, plan, 0, "test", &Device::default());
        // Chance is 10%.
        assert!(run.test_acc > 60.0, "{kind:?}: {}", run.test_acc);
        assert!(!run.diverged && run.final_loss.unwrap() < 2.0);
    }
    // A huge rate blows SGD with momentum up, and the run says so.
    let plan = EpochPlan {
        lr: 1e4,
        epochs: 2,
        batch_size: 32,
    };
    let run = train_run(
        &data,
        &[32],
        OptimizerKind::SgdMomentum,
        plan,
        0,
        "test",
        &Device::default(),
    );
    assert!(run.diverged && run.final_loss.is_none());
}

fn stream_config() -> OnlineConfig {
    OnlineConfig {
        dataset: DatasetChoice::Mnist,
        tasks: 3,
        steps_per_task: 40,
        batch_size: 16,
        flip_fractions: vec![1.0],
        optimizers: vec![OptimizerKind::Tam],
        test_size: 100,
        curve_window: 10,
    }
}

#[test]
fn a_stream_learns_each_task_and_replays_identically() {
    let _rng = device_rng_lock();
    let data = synthetic();
    let e2 = stream_config();
    let spec = StreamSpec {
        kind: OptimizerKind::Tam,
        lr: 0.05,
        flip_fraction: 1.0,
        seed: 4,
    };
    let run = stream(&data, &[32], &e2, spec, &Device::default());
    assert_eq!(run.task_acc.len(), 3);
    assert_eq!(run.curve.len(), 12);
    assert_eq!(run.damping.len(), 12, "TAM logs its damping every window");
    assert!(run.damping.iter().all(|d| (0.0..=1.0).contains(d)));
    assert_eq!(
        run.flip_damping.len(),
        2,
        "one before/after pair per boundary"
    );
    // By the end of each task the model has learned the current labelling (chance is 10%).
    assert!(
        run.task_end_test_acc.iter().all(|&a| a > 50.0),
        "{:?}",
        run.task_end_test_acc
    );
    // A resumed run reuses saved streams, so a stream must replay exactly.
    let again = stream(&data, &[32], &e2, spec, &Device::default());
    assert_eq!(run.curve, again.curve);
    assert_eq!(run.damping, again.damping);
}

#[test]
fn smoke_studies_on_generated_data_make_a_full_report() {
    let _rng = device_rng_lock();
    let mut config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    config.hidden = vec![32];
    let data = synthetic();
    let device = Device::default();
    let mut phases = PhaseStore::in_memory();
    let iid = experiment::iid::run(&config, &data, &device, 0, &mut phases).unwrap();
    assert_eq!(iid.selected.len(), 5);
    assert_eq!(iid.finals.len(), 5 * config.seeds.len());
    let e2 = config.online.clone().unwrap();
    let study = experiment::online::Study {
        config: &config,
        e2: &e2,
        data: &data,
        lrs: &iid.selected,
    };
    let online = experiment::online::run(study, &device, 0, &mut phases).unwrap();
    assert_eq!(online.runs.len(), 3 * config.seeds.len());
    let e3 = config.sweep.clone().unwrap();
    let sweep = experiment::sweep::run(&config, &e3, &data, &device, 0, &mut phases).unwrap();
    let results = Results {
        toy: experiment::toy::run(&config.toy),
        iid: vec![iid],
        online: Some(online),
        sweep: Some(sweep),
    };
    let run = config_tests::smoke_run_info(config.seeds.clone());
    let report = experiment::report::build(&config, &results, run).unwrap();
    let markdown = report.to_markdown();
    for part in ["Toy quadratic", "E1 rows", "E2 rows", "E3 rows", "Global"] {
        assert!(markdown.contains(part), "no `{part}` in the report");
    }
    // toy, 2 × E1, 2 × E2 (p = 1), 1 mechanism, 1 E3
    assert_eq!(report.claims.len(), 7, "{markdown}");
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    for file in [
        "report.md",
        "toy.csv",
        "toy_quadratic.svg",
        "e2_damping.svg",
        "e3_stability.md",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} was not written");
    }
}

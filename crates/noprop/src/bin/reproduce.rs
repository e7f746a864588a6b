//! `cargo xtask reproduce noprop`: parse arguments, pick the device, run the experiment, write
//! the report.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use kiln_core::report::{RunInfo, utc_now};
use kiln_core::train::{PeakAlloc, PhaseStore};
use kiln_noprop::experiment::{self, ExperimentConfig, PreparedData};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

/// Reproduce NoProp's claims (Table 1 at our scale, the η = 0 ablation, memory per step).
#[derive(Parser)]
struct Args {
    /// Experiment config (`configs/noprop/{smoke,cpu,full}.ron`).
    #[arg(long)]
    config: PathBuf,
    /// Backend: flex (CPU), wgpu or cuda; defaults to `$KILN_BACKEND`, else flex.
    #[arg(long)]
    backend: Option<String>,
    /// Added to every seed in the config.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder for report.md, metrics.json and plots.
    #[arg(long, default_value = "results/noprop")]
    out: PathBuf,
    /// Ignore phases finished by an earlier, interrupted run and start over.
    #[arg(long)]
    fresh: bool,
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = ExperimentConfig::load(&args.config)?;
    let (backend, device) = kiln_core::select_device(args.backend.as_deref())?;
    let mut datasets = Vec::new();
    for choice in std::iter::once(&config.dataset).chain(config.second_dataset.as_ref()) {
        let (train, test) = choice
            .load()
            .with_context(|| format!("loading {}", choice.name()))?;
        datasets.push(PreparedData::new(choice.name(), train, test, &config)?);
    }
    eprintln!(
        "noprop: {} scale on {backend}; {} training / {} test images of {}",
        config.scale,
        datasets[0].train.len(),
        datasets[0].test.len(),
        datasets[0].name
    );
    let run_info = RunInfo {
        command: format!(
            "cargo xtask reproduce noprop --scale {} --backend {backend} --seed {}",
            config.scale, args.seed
        ),
        scale: config.scale.clone(),
        backend: backend.to_string(),
        seeds: vec![],
        finished_utc: String::new(),
        wall_seconds: 0.0,
    };
    // Finished phases are saved in the output folder; a rerun with the same config resumes.
    let config_text = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())?;
    let phases_path = args.out.join("phases.json");
    if args.fresh && phases_path.exists() {
        std::fs::remove_file(&phases_path)
            .with_context(|| format!("removing {}", phases_path.display()))?;
    }
    let fingerprint = format!("{config_text}\nseed {}\nbackend {backend}", args.seed);
    let (mut phases, resumed) = PhaseStore::open(phases_path.clone(), fingerprint)?;
    if resumed > 0 {
        eprintln!(
            "noprop: resuming: {resumed} finished phase(s) in {} are reused (pass --fresh to start over)",
            phases_path.display()
        );
    }
    let mut report = experiment::run(
        &config,
        &datasets,
        &device,
        args.seed,
        &ALLOC,
        &mut phases,
        run_info,
    )?;
    report.run.finished_utc = utc_now();
    report.write(&args.out)?;
    std::fs::write(args.out.join("config.ron"), config_text)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}", report.to_markdown());
    println!("report written to {}", args.out.join("report.md").display());
    Ok(())
}

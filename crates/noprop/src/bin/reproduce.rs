//! `cargo xtask reproduce noprop`: parse arguments, pick the device, run the experiment, write
//! the report.

use anyhow::Context;
use kiln_core::cli::ReproduceArgs;
use kiln_core::report::{RunInfo, utc_now};
use kiln_core::train::PeakAlloc;
use kiln_noprop::experiment::{self, ExperimentConfig, PreparedData};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

/// What `--help` says.
const ABOUT: &str =
    "Reproduce NoProp's claims (Table 1 at our scale, the η = 0 ablation, memory per step).";

fn main() -> std::process::ExitCode {
    kiln_core::cli::reproduce_main("reproduce-noprop", ABOUT, run)
}

fn run(args: ReproduceArgs) -> anyhow::Result<()> {
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
    let out = args.out_dir("noprop");
    let fingerprint = format!("{config_text}\nseed {}\nbackend {backend}", args.seed);
    let mut phases = args.open_phases(&out, fingerprint, "noprop")?;
    // The counting allocator sees host memory only: on a GPU backend it would measure the wrong
    // thing, so an allocator that counts nothing is passed and the memory claim is left out.
    let idle = PeakAlloc::new();
    let alloc = if backend == kiln_core::Backend::Flex {
        &ALLOC
    } else {
        &idle
    };
    let mut report = experiment::run(
        &config,
        &datasets,
        &device,
        args.seed,
        alloc,
        &mut phases,
        run_info,
    )?;
    report.run.finished_utc = utc_now();
    kiln_core::cli::publish(report, &out, config_text)?;
    Ok(())
}

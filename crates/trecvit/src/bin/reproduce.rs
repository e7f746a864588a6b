//! `cargo xtask reproduce trecvit`: parse arguments, pick the device, train and measure the
//! three models, write the report.

use std::time::Instant;

use kiln_core::cli::ReproduceArgs;
use kiln_core::report::{RunInfo, utc_now};
use kiln_core::train::PeakAlloc;
use kiln_trecvit::experiment::{self, Digits, ExperimentConfig};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc::new();

/// What `--help` says.
const ABOUT: &str = "Reproduce TRecViT's claims at small scale: moving MNIST digits against a frame-only ViT and joint space-time attention, streaming latency, and the full-size cost comparison.";

fn main() -> std::process::ExitCode {
    kiln_core::cli::reproduce_main("reproduce-trecvit", ABOUT, run)
}

fn run(args: ReproduceArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = ExperimentConfig::load(&args.config)?;
    let (backend, device) = kiln_core::select_device(args.backend.as_deref())?;
    let digits = Digits::load(&config.task)?;
    eprintln!("trecvit: {} scale on {backend}", config.scale);
    let config_text = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())?;
    let out = args.out_dir("trecvit");
    let fingerprint = format!("{config_text}\nseed {}\nbackend {backend}", args.seed);
    let mut phases = args.open_phases(&out, fingerprint, "trecvit")?;
    // Host memory is only the model's memory on the CPU backend.
    let idle = PeakAlloc::new();
    let alloc = if backend == kiln_core::Backend::Flex {
        &ALLOC
    } else {
        &idle
    };
    let results = experiment::run(&config, &digits, args.seed, &device, alloc, &mut phases)?;
    let run_info = RunInfo {
        command: format!(
            "cargo xtask reproduce trecvit --scale {} --backend {backend} --seed {}",
            config.scale, args.seed
        ),
        scale: config.scale.clone(),
        backend: backend.to_string(),
        seeds: vec![config.seed + args.seed],
        finished_utc: utc_now(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let report = kiln_trecvit::report::build(&config, &results, run_info)?;
    kiln_core::cli::publish(report, &out, config_text)?;
    Ok(())
}

//! `cargo xtask reproduce tam-optim`: parse arguments, pick the device, run the studies, write
//! the report.

use std::time::Instant;

use kiln_core::cli::ReproduceArgs;
use kiln_core::report::{RunInfo, utc_now};
use kiln_tam_optim::experiment::{self, ExperimentConfig};

/// What `--help` says.
const ABOUT: &str = "Reproduce Torque-Aware Momentum's claims: toy stability, i.i.d. training, the label-flipping stream and the learning-rate sweep.";

fn main() -> std::process::ExitCode {
    kiln_core::cli::reproduce_main("reproduce-tam-optim", ABOUT, run)
}

fn run(args: ReproduceArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = ExperimentConfig::load(&args.config)?;
    let (backend, device) = kiln_core::select_device(args.backend.as_deref())?;
    eprintln!("tam-optim: {} scale on {backend}", config.scale);
    let config_text = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())?;
    let out = args.out_dir("tam-optim");
    let fingerprint = format!("{config_text}\nseed {}\nbackend {backend}", args.seed);
    let mut phases = args.open_phases(&out, fingerprint, "tam-optim")?;
    let results = experiment::run(&config, &device, args.seed, &mut phases)?;
    let run_info = RunInfo {
        command: format!(
            "cargo xtask reproduce tam-optim --scale {} --backend {backend} --seed {}",
            config.scale, args.seed
        ),
        scale: config.scale.clone(),
        backend: backend.to_string(),
        seeds: config.seeds.iter().map(|s| s + args.seed).collect(),
        finished_utc: utc_now(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let report = experiment::report::build(&config, &results, run_info)?;
    kiln_core::cli::publish(report, &out, config_text)?;
    Ok(())
}

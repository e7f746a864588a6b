//! `cargo xtask reproduce attn-sinks`: parse arguments, pick the device, train and measure every
//! model, write the report.

use std::time::Instant;

use kiln_attn_sinks::experiment::{self, ExperimentConfig};
use kiln_core::cli::ReproduceArgs;
use kiln_core::report::{RunInfo, utc_now};

/// What `--help` says.
const ABOUT: &str = "Reproduce the pre-training findings of \"Why do LLMs attend to the first token?\" at small scale: the context sweep (Fig. 5), the packing grid (Table 2) and perturbation spread (Fig. 2).";

fn main() -> std::process::ExitCode {
    kiln_core::cli::reproduce_main("reproduce-attn-sinks", ABOUT, run)
}

fn run(args: ReproduceArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut config = ExperimentConfig::load(&args.config)?;
    config.seed += args.seed;
    let (backend, device) = kiln_core::select_device(args.backend.as_deref())?;
    let runs: usize = config
        .languages
        .iter()
        .map(|p| experiment::planned_runs(p, config.grid_context).len())
        .sum();
    eprintln!(
        "attn-sinks: {} scale on {backend}; {runs} models to train",
        config.scale
    );
    let config_text = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())?;
    let out = args.out_dir("attn-sinks");
    let fingerprint = format!("{config_text}\nbackend {backend}");
    let mut phases = args.open_phases(&out, fingerprint, "attn-sinks")?;
    let results = experiment::run(&config, &device, &mut phases)?;
    let pretrained = experiment::run_pretrained_phase(&config, &device, &mut phases)?;
    let run_info = RunInfo {
        command: format!(
            "cargo xtask reproduce attn-sinks --scale {} --backend {backend} --seed {}",
            config.scale, args.seed
        ),
        scale: config.scale.clone(),
        backend: backend.to_string(),
        seeds: vec![config.seed],
        finished_utc: utc_now(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let report =
        kiln_attn_sinks::report::build_report(&config, &results, pretrained.as_ref(), run_info)?;
    kiln_core::cli::publish(report, &out, config_text)?;
    Ok(())
}

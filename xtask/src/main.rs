//! `cargo xtask`: Kiln's task runner.
//!
//! Small on purpose (clap, anyhow and the Burn-free `kiln-fetch`), so that listing papers or
//! fetching data never waits for Burn to compile.

mod papers;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kiln_fetch::{FetchOutcome, Registry, SystemAcquirer};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Kiln's tasks: papers, data, reproductions, CI"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// List the ten papers, whether each is implemented, and what it reproduces.
    List,
    /// List or fetch datasets (into `data/`, or `$KILN_DATA_DIR`).
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Reproduce a paper: fetch its data, then run its `reproduce` binary in release mode.
    Reproduce {
        /// The paper, e.g. `noprop` (see `cargo xtask list`).
        paper: String,
        /// How big a run: `smoke` (seconds), `cpu` (minutes on 2 cores) or `full` (GPU).
        #[arg(long, value_enum, default_value_t = Scale::Cpu)]
        scale: Scale,
        /// Compute backend; defaults to `$KILN_BACKEND`, else `flex`.
        #[arg(long, value_enum)]
        backend: Option<BackendName>,
        /// Base random seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder; defaults to `results/<paper>/<scale>`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Start over: do not reuse phases finished by an earlier, interrupted run.
        #[arg(long)]
        fresh: bool,
    },
    /// Measure speed: `lm` times the language-model engine on SmolLM2 (prefill, decode at
    /// batch 1, 8 and 16, scoring), beside llama.cpp's benchmarks when given their folder,
    /// then a LoRA and a full fine-tuning step (time and peak memory).
    Bench {
        /// What to measure: `lm`.
        #[arg(value_enum)]
        target: BenchTarget,
        /// A folder holding llama.cpp's `llama-bench` and `llama-batched-bench`, run on the same
        /// file right after ours (docs/pretrained.md says how to build them).
        #[arg(long)]
        llama_bench: Option<PathBuf>,
        /// Threads for llama.cpp (ours use every core through rayon).
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Run exactly what CI runs (`.ci/run`): format check, clippy, tests. With `--backend wgpu`,
    /// run the wgpu stage instead (`.ci/wgpu`): backend parity test and smoke runs on lavapipe.
    Ci {
        /// `flex` (the default: `.ci/run`) or `wgpu` (`.ci/wgpu`).
        #[arg(long, value_enum, default_value = "flex")]
        backend: BackendName,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchTarget {
    /// The language-model engine (kiln-core's `lm`) on SmolLM2-135M.
    Lm,
}

#[derive(Subcommand)]
enum DataAction {
    /// Show every dataset in the registry and whether its files are present and verified.
    List,
    /// Fetch one dataset, or all of them, verifying every checksum.
    Fetch {
        /// Dataset name (see `cargo xtask data list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Fetch every dataset in the registry.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Scale {
    Smoke,
    Cpu,
    Full,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendName {
    Flex,
    Wgpu,
    Cuda,
}

impl Scale {
    fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Cpu => "cpu",
            Scale::Full => "full",
        }
    }
}

impl BackendName {
    fn name(self) -> &'static str {
        match self {
            BackendName::Flex => "flex",
            BackendName::Wgpu => "wgpu",
            BackendName::Cuda => "cuda",
        }
    }

    fn from_env() -> anyhow::Result<Self> {
        match std::env::var("KILN_BACKEND").ok().as_deref() {
            None | Some("") | Some("flex") => Ok(BackendName::Flex),
            Some("wgpu") => Ok(BackendName::Wgpu),
            Some("cuda") => Ok(BackendName::Cuda),
            Some(other) => bail!("KILN_BACKEND=`{other}` is not a backend; use flex, wgpu or cuda"),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.task) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(task: Task) -> anyhow::Result<ExitCode> {
    let root = workspace_root();
    match task {
        Task::List => {
            list_papers(&root);
            Ok(ExitCode::SUCCESS)
        }
        Task::Data { action } => {
            let registry = Registry::builtin()?;
            let data_dir = kiln_fetch::data_dir(&root);
            match action {
                DataAction::List => list_data(&registry, &data_dir)?,
                DataAction::Fetch { name, all } => {
                    let names: Vec<String> = if all {
                        registry.datasets.iter().map(|d| d.name.clone()).collect()
                    } else {
                        name.into_iter().collect()
                    };
                    for name in names {
                        fetch_dataset(&registry, &data_dir, &name)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Task::Reproduce {
            paper,
            scale,
            backend,
            seed,
            out,
            fresh,
        } => reproduce(&root, &paper, scale, backend, seed, out, fresh),
        Task::Bench {
            target: BenchTarget::Lm,
            llama_bench,
            threads,
        } => bench_lm(&root, llama_bench, threads),
        Task::Ci { backend } => {
            let script = match backend {
                BackendName::Flex => ".ci/run",
                BackendName::Wgpu => ".ci/wgpu",
                BackendName::Cuda => bail!(
                    "there is no cuda CI stage: Burn's cuda backend downloads an LLVM bundle while it \
                     builds, which this offline CI cannot do (see README, Backends)"
                ),
            };
            let status = Command::new("bash")
                .arg(root.join(script))
                .current_dir(&root)
                .status()
                .with_context(|| format!("could not start `bash {script}`"))?;
            Ok(exit_code(status))
        }
    }
}

/// Prints to stdout, treating a closed pipe (`cargo xtask list | head`) as the reader being done.
fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn list_papers(root: &Path) {
    let mut out = format!("{:<20} {:<16} reproduces\n", "paper", "status");
    for paper in papers::PAPERS {
        let status = if paper.is_implemented(root) {
            "implemented"
        } else {
            "not yet"
        };
        out.push_str(&format!(
            "{:<20} {:<16} {}\n",
            paper.name, status, paper.reproduces
        ));
        out.push_str(&format!("{:<20} {:<16} ({})\n", "", "", paper.title));
    }
    out.push_str("\nRun one with: cargo xtask reproduce <paper> [--scale smoke|cpu|full]\n");
    print_out(&out);
}

fn list_data(registry: &Registry, data_dir: &Path) -> anyhow::Result<()> {
    let mut out = format!("data directory: {}\n", data_dir.display());
    out.push_str(&format!("{:<16} {:<24} summary\n", "dataset", "status"));
    for dataset in &registry.datasets {
        let files = kiln_fetch::status(data_dir, dataset)?;
        let verified = files.iter().filter(|(_, s)| s.is_verified()).count();
        let status = if verified == files.len() {
            "verified".to_string()
        } else if files
            .iter()
            .all(|(_, s)| *s == kiln_fetch::FileStatus::Missing)
        {
            "not fetched".to_string()
        } else {
            format!("{verified}/{} files ok", files.len())
        };
        out.push_str(&format!(
            "{:<16} {:<24} {}\n",
            dataset.name, status, dataset.summary
        ));
    }
    print_out(&out);
    Ok(())
}

fn fetch_dataset(registry: &Registry, data_dir: &Path, name: &str) -> anyhow::Result<()> {
    let dataset = registry.get(name)?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("could not create data directory {}", data_dir.display()))?;
    println!(
        "{name}: checking {} ...",
        kiln_fetch::dataset_dir(data_dir, dataset).display()
    );
    let outcome = kiln_fetch::fetch(data_dir, dataset, &SystemAcquirer, &mut |source| {
        println!("{name}: trying {} ...", source.describe());
    })?;
    match outcome {
        FetchOutcome::AlreadyPresent => {
            println!(
                "{name}: all {} files present and verified",
                dataset.files.len()
            );
        }
        FetchOutcome::Fetched { source, repaired } => {
            for (file, was) in repaired {
                if was != kiln_fetch::FileStatus::Missing {
                    println!("{name}: {file} was damaged ({was}); replaced");
                }
            }
            println!(
                "{name}: fetched from {source}; all {} files verified (sha256)",
                dataset.files.len()
            );
        }
    }
    Ok(())
}

fn reproduce(
    root: &Path,
    paper_name: &str,
    scale: Scale,
    backend: Option<BackendName>,
    seed: u64,
    out: Option<PathBuf>,
    fresh: bool,
) -> anyhow::Result<ExitCode> {
    let paper = papers::find(paper_name)?;
    if !paper.is_implemented(root) {
        bail!(
            "`{}` is not implemented yet: crates/{}/ has no reproduce binary in this checkout. \
             `cargo xtask list` shows which papers are ready.",
            paper.name,
            paper.name
        );
    }
    let backend = match backend {
        Some(b) => b,
        None => BackendName::from_env()?,
    };
    let config = root
        .join("configs")
        .join(paper.name)
        .join(format!("{}.ron", scale.name()));
    if !config.is_file() {
        bail!(
            "missing config {}: every paper ships smoke, cpu and full configs",
            config.display()
        );
    }
    let registry = Registry::builtin()?;
    let data_dir = kiln_fetch::data_dir(root);
    for dataset in paper.datasets {
        fetch_dataset(&registry, &data_dir, dataset)?;
    }
    let out = out.unwrap_or_else(|| root.join("results").join(paper.name).join(scale.name()));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args([
        "run",
        "--release",
        "--package",
        &paper.package(),
        "--bin",
        &format!("reproduce-{}", paper.name),
    ]);
    // The experiments sit behind each paper's `reproduce` feature; the library alone is lean.
    let features = match backend {
        BackendName::Flex => "reproduce".to_string(),
        other => format!("reproduce,{}", other.name()),
    };
    command.args(["--features", &features]);
    command
        .arg("--")
        .arg("--config")
        .arg(&config)
        .args(["--backend", backend.name(), "--seed", &seed.to_string()])
        .arg("--out")
        .arg(&out)
        .env(kiln_fetch::DATA_DIR_ENV, &data_dir);
    if fresh {
        command.arg("--fresh");
    }
    println!(
        "reproduce {}: scale {}, backend {}, seed {seed} -> {}",
        paper.name,
        scale.name(),
        backend.name(),
        out.display()
    );
    let status = command.status().context("could not start cargo")?;
    Ok(exit_code(status))
}

/// Fetches SmolLM2, then runs kiln-core's `lm_bench` example in release mode.
fn bench_lm(root: &Path, llama_bench: Option<PathBuf>, threads: usize) -> anyhow::Result<ExitCode> {
    let registry = Registry::builtin()?;
    let data_dir = kiln_fetch::data_dir(root);
    fetch_dataset(&registry, &data_dir, "smollm2")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "run",
            "--release",
            "--package",
            "kiln-core",
            "--features",
            "reproduce",
        ])
        .args([
            "--example",
            "lm_bench",
            "--",
            "--threads",
            &threads.to_string(),
        ])
        .env(kiln_fetch::DATA_DIR_ENV, &data_dir);
    if let Some(dir) = llama_bench {
        command.arg("--llama-bench").arg(dir);
    }
    let status = command.status().context("could not start cargo")?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}

//! What every paper's `reproduce-<paper>` binary does around its experiments, once: the
//! [`Reproduction`] a paper implements (its config, its experiments, its report) and [`main`],
//! which parses the arguments, reads and checks the config, picks the device, opens the
//! resumable phase store, runs the experiments, and writes and prints the report.
//!
//! A paper's binary is then a few lines:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: kiln_core::train::PeakAlloc = kiln_core::train::PeakAlloc::new();
//!
//! fn main() -> std::process::ExitCode {
//!     kiln_core::cli::main::<kiln_noprop::experiment::NoProp>(&ALLOC)
//! }
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::prelude::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::InvalidConfig;
use crate::backend::{Backend, BackendError};
use crate::data::DataError;
use crate::report::{Report, ReportError, RunInfo, utc_now};
use crate::train::{PeakAlloc, PhaseError, PhaseStore};

/// A reproduction's config, read from `configs/<paper>/<scale>.ron` (its serde derive should
/// deny unknown fields).
pub trait ReproductionConfig: Serialize + DeserializeOwned {
    /// Checks a config read from disk, beyond its types.
    ///
    /// # Errors
    /// If values cannot work together; the message says which and why.
    fn validate(&self) -> Result<(), InvalidConfig>;

    /// The scale the config is sized for: `smoke`, `cpu` or `full`.
    fn scale(&self) -> &str;

    /// The seeds the run uses when `--seed` adds `offset` to the config's.
    fn seeds(&self, offset: u64) -> Vec<u64>;

    /// Reads the config at `path` and [`validate`](Self::validate)s it.
    ///
    /// # Errors
    /// If the file cannot be read, is not this config's RON (an unknown field included), or
    /// fails the checks; the message names the file.
    fn load(path: &Path) -> Result<Self, ConfigError> {
        load_config(path, Self::validate)
    }
}

/// A paper's reproduction, as [`main`] drives it: read the config, [`run`](Self::run) the
/// experiments as resumable phases, then turn the results into a report ([`REPORT`](Self::REPORT)).
pub trait Reproduction {
    /// The paper's short name: `noprop` runs as `cargo xtask reproduce noprop`, from the binary
    /// `reproduce-noprop`, into `results/noprop`.
    const PAPER: &'static str;
    /// One sentence for `--help`: what the reproduction shows.
    const ABOUT: &'static str;
    /// The experiment config.
    type Config: ReproductionConfig;
    /// What the experiments measured.
    type Results;

    /// Runs every experiment of `config`; each finished unit of work is a phase of
    /// [`Run::phases`], so that an interrupted run resumes.
    ///
    /// # Errors
    /// If data is missing or malformed, or a phase cannot be saved.
    fn run(config: &Self::Config, run: &mut Run) -> Result<Self::Results, ExperimentError>;

    /// Builds the report of the results: the claims table, tables and plots (each paper's
    /// `experiment::report::build`).
    const REPORT: BuildReport<Self::Config, Self::Results>;
}

/// A function that turns a run's config, results and [`RunInfo`] into its report, failing only
/// when a figure or a metric cannot be built.
pub type BuildReport<C, R> = fn(&C, &R, RunInfo) -> Result<Report, ReportError>;

/// What a reproduction runs with: the device, the seed offset, the phase store and the
/// peak-memory counter.
pub struct Run {
    /// The device every model is built on.
    pub device: Device,
    /// Its backend.
    pub backend: Backend,
    /// `--seed`: added to every seed of the config.
    pub seed: u64,
    /// Finished phases, saved as they finish.
    pub phases: PhaseStore,
    memory: &'static PeakAlloc,
}

/// An allocator that is never installed, so it counts nothing.
static UNCOUNTED: PeakAlloc = PeakAlloc::new();

impl Run {
    /// A run on `device` whose phases are kept in memory only, with seed offset 0 and no memory
    /// counting: what tests and library users call [`Reproduction::run`] with.
    pub fn in_memory(device: Device) -> Self {
        Self {
            device,
            backend: Backend::Flex,
            seed: 0,
            phases: PhaseStore::in_memory(),
            memory: &UNCOUNTED,
        }
    }

    /// The peak-memory counter. On the CPU backend every tensor lives on the heap, so the
    /// binary's counting allocator measures a model's memory; on a GPU backend host memory is
    /// the wrong quantity, and this counts nothing ([`PeakAlloc::measure`] gives `None`).
    pub fn memory(&self) -> &'static PeakAlloc {
        self.memory
    }
}

/// Why a reproduction could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The config file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A config found unworkable while running (e.g. more images asked for than exist).
    #[error(transparent)]
    Invalid(#[from] InvalidConfig),
    /// The backend asked for.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A dataset is missing or malformed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The phase store.
    #[error(transparent)]
    Phase(#[from] PhaseError),
    /// Writing the report.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Any other failure, with what was being done.
    #[error("{context}: {source}")]
    Failed {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ExperimentError {
    /// A failure of `context` (e.g. "loading SmolLM2") caused by `source`.
    pub fn failed(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Failed {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// The whole `main` of the binary `reproduce-<paper>` of reproduction `R`, given the binary's
/// counting allocator: parses [`ReproduceArgs`], runs [`reproduce`] and turns its result into
/// the exit status (printing the error and its causes on failure).
pub fn main<R: Reproduction>(memory: &'static PeakAlloc) -> ExitCode {
    use clap::{Args, FromArgMatches};
    // `about` goes on after the arguments, which would otherwise set their own doc as the help.
    let command = ReproduceArgs::augment_args(clap::Command::new(R::PAPER))
        .bin_name(format!("reproduce-{}", R::PAPER))
        .about(R::ABOUT);
    match ReproduceArgs::from_arg_matches(&command.get_matches()) {
        Ok(args) => exit_code(reproduce::<R>(&args, memory)),
        Err(e) => e.exit(),
    }
}

/// Reproduces `R` as `args` ask: reads and checks the config, picks the device, opens the
/// phase store of the output folder (keyed by config, seed, backend and program), runs the
/// experiments, and writes the report (with the config beside it) into the output folder.
///
/// # Errors
/// Whatever stopped the run; phases finished before it are kept for the next run.
pub fn reproduce<R: Reproduction>(
    args: &ReproduceArgs,
    memory: &'static PeakAlloc,
) -> Result<(), ExperimentError> {
    let started = Instant::now();
    let config = R::Config::load(&args.config)?;
    let (backend, device) = crate::select_device(args.backend.as_deref())?;
    let scale = config.scale().to_string();
    eprintln!("{}: {scale} scale on {backend}", R::PAPER);
    let config_text = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())
        .map_err(|e| ExperimentError::failed("writing the config back as RON", e))?;
    let out = args.out_dir(R::PAPER);
    let fingerprint = format!("{config_text}\nseed {}\nbackend {backend}", args.seed);
    let phases = args.open_phases(&out, fingerprint, R::PAPER)?;
    let mut run = Run {
        device,
        backend,
        seed: args.seed,
        phases,
        // Host memory is only a model's memory on the CPU backend.
        memory: if backend == Backend::Flex {
            memory
        } else {
            &UNCOUNTED
        },
    };
    let results = R::run(&config, &mut run)?;
    let info = RunInfo {
        command: format!(
            "cargo xtask reproduce {} --scale {scale} --backend {backend} --seed {}",
            R::PAPER,
            args.seed
        ),
        scale,
        backend: backend.to_string(),
        seeds: config.seeds(args.seed),
        finished_utc: utc_now(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let report = (R::REPORT)(&config, &results, info)?;
    publish(report, &out, config_text)?;
    Ok(())
}

/// The arguments of every `reproduce` binary (`cargo xtask reproduce` passes them all).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ReproduceArgs {
    /// Experiment config (`configs/<paper>/{smoke,cpu,full}.ron`).
    #[arg(long)]
    pub config: PathBuf,
    /// Backend: flex (CPU), wgpu or cuda; defaults to `$KILN_BACKEND`, else flex.
    #[arg(long)]
    pub backend: Option<String>,
    /// Added to every seed in the config.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder for report.md, metrics.json and plots (default `results/<paper>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Ignore phases finished by an earlier, interrupted run and start over.
    #[arg(long)]
    pub fresh: bool,
}

impl ReproduceArgs {
    /// The output folder: `--out`, else `results/<paper>`.
    pub fn out_dir(&self, paper: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| Path::new("results").join(paper))
    }

    /// Opens `<out>/phases.json`, the finished phases of an earlier run under the same
    /// `fingerprint` (config, seed, backend) and the same program, which are reused; `--fresh`
    /// deletes it first. A resumed run says so on stderr.
    ///
    /// The program counts through a hash of the running executable, so phases finished by
    /// another build (changed code, another Burn) are run again rather than reused.
    ///
    /// # Errors
    /// If the folder cannot be created or the old store cannot be removed or read.
    pub fn open_phases(
        &self,
        out: &Path,
        fingerprint: String,
        paper: &str,
    ) -> Result<PhaseStore, PhaseError> {
        let path = out.join("phases.json");
        let io = |source| PhaseError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(out).map_err(io)?;
        if self.fresh && path.exists() {
            std::fs::remove_file(&path).map_err(io)?;
        }
        let fingerprint = format!("{fingerprint}\nprogram {}", program_fingerprint());
        let (store, resumed) = PhaseStore::open(path.clone(), fingerprint)?;
        if resumed > 0 {
            eprintln!(
                "{paper}: resuming: {resumed} finished phase(s) in {} are reused (pass --fresh to start over)",
                path.display()
            );
        }
        Ok(store)
    }
}

/// A hash of the running executable's bytes: it changes whenever the code compiled into it
/// does. If the executable cannot be read, its path and modification time stand in.
fn program_fingerprint() -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let Ok(exe) = std::env::current_exe() else {
        return "unknown".into();
    };
    let mut hasher = DefaultHasher::new();
    match std::fs::read(&exe) {
        Ok(bytes) => bytes.hash(&mut hasher),
        Err(_) => {
            exe.hash(&mut hasher);
            std::fs::metadata(&exe)
                .and_then(|m| m.modified())
                .ok()
                .hash(&mut hasher);
        }
    }
    format!("{:016x}", hasher.finish())
}

/// A config file that could not be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not valid RON for this config, or its values fail the config's checks.
    #[error("config {} is invalid: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (for RON errors, the line, column and unknown or missing field).
        problem: String,
    },
}

/// Reads a RON config file into `T` (whose serde derive should deny unknown fields) and checks
/// it with `validate`.
pub fn load_config<T: DeserializeOwned>(
    path: &Path,
    validate: impl FnOnce(&T) -> Result<(), InvalidConfig>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    let invalid = |problem: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let config: T = ron::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    validate(&config).map_err(|e| invalid(e.0))?;
    Ok(config)
}

/// Writes `report`, with the run's config as `config.ron`, into `out`, and prints it on stdout
/// with the path of `report.md`.
pub fn publish(mut report: Report, out: &Path, config_text: String) -> Result<(), ReportError> {
    report.file("config.ron", config_text);
    report.write(out)?;
    println!(
        "{}\nreport written to {}",
        report.to_markdown(),
        out.join("report.md").display()
    );
    Ok(())
}

/// The exit status of a binary's work: success, or failure after printing the error (with its
/// causes, for errors that format them under `{:#}`).
pub fn exit_code<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(fresh: bool) -> ReproduceArgs {
        ReproduceArgs {
            config: "c.ron".into(),
            backend: None,
            seed: 0,
            out: None,
            fresh,
        }
    }

    #[test]
    fn phases_resume_unless_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut store = args(false).open_phases(&out, "f".into(), "toy").unwrap();
        let first: u32 = store.run("a", || Ok::<_, PhaseError>(7)).unwrap();
        assert_eq!(first, 7);
        let store = args(false).open_phases(&out, "f".into(), "toy").unwrap();
        assert!(store.is_done("a"), "a second run resumes");
        let store = args(true).open_phases(&out, "f".into(), "toy").unwrap();
        assert!(!store.is_done("a"), "--fresh starts over");
        assert_eq!(args(false).out_dir("toy"), Path::new("results/toy"));
    }

    #[test]
    fn phases_of_another_program_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir_all(&out).unwrap();
        // The same config fingerprint, stored without this program's hash: another build.
        let (mut other, _) = PhaseStore::open(out.join("phases.json"), "f".into()).unwrap();
        other.run("a", || Ok::<_, PhaseError>(1u32)).unwrap();
        let store = args(false).open_phases(&out, "f".into(), "toy").unwrap();
        assert!(!store.is_done("a"), "another build's phases run again");
        assert_eq!(program_fingerprint(), program_fingerprint());
    }
}

/// Helpers for the config tests every paper crate runs on its shipped configs.
pub mod config_tests {
    use std::path::{Path, PathBuf};

    use super::ReproductionConfig;
    use crate::report::RunInfo;

    /// Loads the shipped `configs/<paper>/<scale>.ron` of every scale in `scales` and checks
    /// that each names its own scale.
    ///
    /// # Panics
    /// If one does not load or names another scale: a failed test.
    pub fn assert_shipped_configs_load<C: ReproductionConfig>(
        manifest_dir: &str,
        paper: &str,
        scales: &[&str],
    ) {
        for &scale in scales {
            let config = C::load(&shipped(manifest_dir, paper, scale))
                .unwrap_or_else(|e| panic!("configs/{paper}/{scale}.ron: {e}"));
            assert_eq!(config.scale(), scale, "configs/{paper}/{scale}.ron");
        }
    }

    /// The run description of a test run: command `test`, smoke scale, flex, these seeds,
    /// no finish time, no wall time.
    pub fn smoke_run_info(seeds: Vec<u64>) -> RunInfo {
        RunInfo {
            command: "test".into(),
            scale: "smoke".into(),
            backend: "flex".into(),
            seeds,
            finished_utc: String::new(),
            wall_seconds: 0.0,
        }
    }

    /// `configs/<paper>/<scale>.ron` of the workspace, seen from a paper crate's manifest folder
    /// (`env!("CARGO_MANIFEST_DIR")`).
    pub fn shipped(manifest_dir: &str, paper: &str, scale: &str) -> PathBuf {
        Path::new(manifest_dir).join(format!("../../configs/{paper}/{scale}.ron"))
    }

    /// The error message of loading `path` with its first `from` replaced by `to`, written as
    /// `bad.ron` in a fresh temporary folder (so the message must name that file).
    ///
    /// # Panics
    /// If the file cannot be read, lacks `from`, or loads without error: a failed test.
    pub fn load_edited<C: ReproductionConfig>(path: &Path, from: &str, to: &str) -> String {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(text.contains(from), "{} has no `{from}`", path.display());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("kiln-config-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let edited = dir.join("bad.ron");
        std::fs::write(&edited, text.replacen(from, to, 1))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", edited.display()));
        let message = match C::load(&edited) {
            Ok(_) => panic!("`{from}` → `{to}` still loads"),
            Err(e) => e.to_string(),
        };
        let _ = std::fs::remove_dir_all(&dir);
        message
    }
}

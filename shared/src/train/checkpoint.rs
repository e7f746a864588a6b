//! Checkpoints for stopping and resuming long runs.
//!
//! A checkpoint is a folder `step-<N>/` holding any number of modules and optimizers (burnpack
//! `.bpk` files, named by the caller) and one `state.json` for the loop's own progress (epoch,
//! metrics so far, RNG state). It is written under a temporary name and renamed when complete,
//! so a run killed while saving never leaves a half-written checkpoint that a resume would load.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file-system operation failed.
    #[error("checkpoint {}: could not {action}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Burn could not save or load a module or optimizer record.
    #[error("checkpoint {}: {problem}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// Burn's message.
        problem: String,
    },
    /// `state.json` could not be written or parsed.
    #[error("checkpoint {}: bad state.json: {source}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io {
        path,
        action,
        source,
    }
}

/// The folder that holds a run's checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
}

impl CheckpointDir {
    /// Checkpoints under `root` (created on first save).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn step_dir(&self, step: u64) -> PathBuf {
        self.root.join(format!("step-{step:010}"))
    }

    /// The completed checkpoint steps, in increasing order.
    pub fn steps(&self) -> Result<Vec<u64>, CheckpointError> {
        if !self.root.exists() {
            return Ok(vec![]);
        }
        let mut steps: Vec<u64> = std::fs::read_dir(&self.root)
            .map_err(io(&self.root, "list"))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("step-")?.parse().ok())
            .collect();
        steps.sort_unstable();
        Ok(steps)
    }

    /// The newest completed checkpoint, if any.
    pub fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        Ok(self.steps()?.last().map(|&step| Checkpoint {
            step,
            path: self.step_dir(step),
        }))
    }

    /// Starts writing checkpoint `step`; nothing is visible until [`CheckpointWriter::commit`].
    pub fn begin(&self, step: u64) -> Result<CheckpointWriter, CheckpointError> {
        let staging = self
            .root
            .join(format!(".writing-{step:010}-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging, "clear"))?;
        }
        std::fs::create_dir_all(&staging).map_err(io(&staging, "create"))?;
        Ok(CheckpointWriter {
            staging,
            target: self.step_dir(step),
        })
    }

    /// Deletes all but the newest `keep` checkpoints.
    pub fn prune(&self, keep: usize) -> Result<(), CheckpointError> {
        let steps = self.steps()?;
        for &step in &steps[..steps.len().saturating_sub(keep)] {
            let dir = self.step_dir(step);
            std::fs::remove_dir_all(&dir).map_err(io(&dir, "remove"))?;
        }
        Ok(())
    }
}

/// A checkpoint being written.
pub struct CheckpointWriter {
    staging: PathBuf,
    target: PathBuf,
}

impl CheckpointWriter {
    /// Adds a module's parameters as `<name>.bpk`.
    pub fn module<M: Module>(&self, name: &str, module: &M) -> Result<(), CheckpointError> {
        let path = self.staging.join(format!("{name}.bpk"));
        module
            .clone()
            .save_file(&path)
            .map_err(|e| CheckpointError::Record {
                path,
                problem: e.to_string(),
            })
    }

    /// Adds an optimizer's state as `<name>.bpk`.
    pub fn optimizer(&self, name: &str, optim: &ModuleOptimizer) -> Result<(), CheckpointError> {
        let path = self.staging.join(format!("{name}.bpk"));
        optim.save(&path).map_err(|e| CheckpointError::Record {
            path,
            problem: e.to_string(),
        })
    }

    /// Adds the loop's own state as `state.json`.
    pub fn state<S: Serialize>(&self, state: &S) -> Result<(), CheckpointError> {
        let path = self.staging.join("state.json");
        let json = serde_json::to_vec_pretty(state).map_err(|source| CheckpointError::State {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json).map_err(io(&path, "write"))
    }

    /// Makes the checkpoint visible (one atomic rename), replacing an older one of the same step.
    pub fn commit(self) -> Result<Checkpoint, CheckpointError> {
        if self.target.exists() {
            std::fs::remove_dir_all(&self.target).map_err(io(&self.target, "replace"))?;
        }
        std::fs::rename(&self.staging, &self.target).map_err(io(&self.target, "commit"))?;
        let step = self
            .target
            .file_name()
            .and_then(|n| n.to_str()?.strip_prefix("step-")?.parse().ok())
            .unwrap_or(0);
        Ok(Checkpoint {
            step,
            path: self.target,
        })
    }
}

/// A completed checkpoint on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The step it was taken at.
    pub step: u64,
    /// Its folder.
    pub path: PathBuf,
}

impl Checkpoint {
    /// Loads `<name>.bpk` into `module` (which supplies structure and device).
    pub fn module<M: Module>(&self, name: &str, module: M) -> Result<M, CheckpointError> {
        let path = self.path.join(format!("{name}.bpk"));
        module
            .try_load_file(&path)
            .map_err(|e| CheckpointError::Record {
                path,
                problem: e.to_string(),
            })
    }

    /// Loads `<name>.bpk` into a freshly built optimizer of the same kind.
    pub fn optimizer(
        &self,
        name: &str,
        optim: ModuleOptimizer,
    ) -> Result<ModuleOptimizer, CheckpointError> {
        let path = self.path.join(format!("{name}.bpk"));
        optim.load(&path).map_err(|e| CheckpointError::Record {
            path,
            problem: e.to_string(),
        })
    }

    /// Reads `state.json`.
    pub fn state<S: DeserializeOwned>(&self) -> Result<S, CheckpointError> {
        let path = self.path.join("state.json");
        let bytes = std::fs::read(&path).map_err(io(&path, "read"))?;
        serde_json::from_slice(&bytes).map_err(|source| CheckpointError::State { path, source })
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;
    use serde::Deserialize;

    use super::*;
    use crate::train::SeededRng;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct LoopState {
        step: u64,
        rng: u64,
    }

    /// One Adam step on a batch whose content depends on `step`.
    fn train_step(
        model: Linear,
        optim: &mut ModuleOptimizer,
        step: u64,
        device: &Device,
    ) -> Linear {
        let mut rng = SeededRng::new(step);
        let x: Vec<f32> = (0..8 * 4).map(|_| rng.normal() as f32).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [8, 4]), device);
        let loss = model.forward(x).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-2, model, grads)
    }

    fn weights(model: &Linear) -> Vec<f32> {
        model.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn resumed_run_equals_uninterrupted_run() {
        let device = Device::default().autodiff();
        device.seed(1);
        let init = LinearConfig::new(4, 3).init(&device);

        let mut straight = init.clone();
        let mut optim = AdamConfig::new().init();
        for step in 0..6 {
            straight = train_step(straight, &mut optim, step, &device);
        }

        let dir = tempfile::tempdir().unwrap();
        let checkpoints = CheckpointDir::new(dir.path());
        let mut first = init.clone();
        let mut optim = AdamConfig::new().init();
        for step in 0..3 {
            first = train_step(first, &mut optim, step, &device);
        }
        let writer = checkpoints.begin(3).unwrap();
        writer.module("model", &first).unwrap();
        writer.optimizer("optim", &optim).unwrap();
        writer.state(&LoopState { step: 3, rng: 99 }).unwrap();
        writer.commit().unwrap();

        // Resume into a differently initialised model and a fresh optimizer.
        let checkpoint = checkpoints.latest().unwrap().expect("a checkpoint");
        assert_eq!(checkpoint.step, 3);
        let fresh = LinearConfig::new(4, 3).init(&device);
        let mut resumed = checkpoint.module("model", fresh).unwrap();
        let mut optim = checkpoint
            .optimizer("optim", AdamConfig::new().init())
            .unwrap();
        let state: LoopState = checkpoint.state().unwrap();
        assert_eq!(state, LoopState { step: 3, rng: 99 });
        for step in state.step..6 {
            resumed = train_step(resumed, &mut optim, step, &device);
        }
        assert_eq!(weights(&resumed), weights(&straight));
    }

    #[test]
    fn uncommitted_checkpoints_are_invisible_and_prune_keeps_newest() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = CheckpointDir::new(dir.path());
        let writer = checkpoints.begin(1).unwrap();
        writer.state(&1u32).unwrap();
        assert_eq!(checkpoints.latest().unwrap(), None, "not committed yet");
        writer.commit().unwrap();
        for step in [2, 3] {
            let w = checkpoints.begin(step).unwrap();
            w.state(&step).unwrap();
            w.commit().unwrap();
        }
        checkpoints.prune(2).unwrap();
        assert_eq!(checkpoints.steps().unwrap(), vec![2, 3]);
        let bad = checkpoints
            .latest()
            .unwrap()
            .unwrap()
            .module("missing", LinearConfig::new(1, 1).init(&Device::default()));
        assert!(bad.unwrap_err().to_string().contains("missing.bpk"));
    }
}

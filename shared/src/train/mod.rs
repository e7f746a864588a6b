//! Training utilities shared by every paper: seeding, statistics over seeds, metrics, parameter
//! counts, progress, checkpoints, resumable phases and peak memory.

pub mod checkpoint;
pub mod lm;
pub mod memory;
pub mod metrics;
pub mod params;
pub mod phases;
pub mod progress;
pub mod rng;
pub mod stats;

use burn::prelude::Device;

pub use checkpoint::{Checkpoint, CheckpointDir, CheckpointError, CheckpointWriter};
pub use lm::{LmBatch, LmTrainer, WarmupCosine, masked_cross_entropy};
pub use memory::PeakAlloc;
pub use metrics::{accuracy, count_correct, cross_entropy, dataset_accuracy};
pub use params::{materialize, parameter_values, trainable_params};
pub use phases::{PhaseError, PhaseStore};
pub use progress::Progress;
pub use rng::{SeededRng, derive_seed};
pub use stats::Summary;

/// Burn's CPU backend keeps one random generator per process. Code that needs reproducible
/// draws while other threads may draw too (parallel tests, above all) holds this lock around
/// seeding and the work that follows; a poisoned lock is taken over, not propagated.
pub fn device_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seeds everything random in a run from one number: the device's tensor RNG (weight
/// initialisation, `Tensor::random`) and the returned host RNG (data order, splits).
///
/// Same seed, same backend, same numbers (on flex; GPU kernels may reorder float sums).
pub fn seed_everything(device: &Device, seed: u64) -> SeededRng {
    device.seed(derive_seed(seed, "device"));
    SeededRng::new(derive_seed(seed, "host"))
}

//! Training utilities shared by every paper: the training loop, seeding, statistics over seeds,
//! metrics, parameter counts, checkpoints and timing; with the `reproduce` feature also
//! progress bars, resumable phases and peak-memory measurement.

pub mod checkpoint;
pub mod finetune;
pub mod fit;
pub mod flat;
pub mod lm;
#[cfg(feature = "reproduce")]
pub mod memory;
pub mod metrics;
pub mod padded;
pub mod params;
#[cfg(feature = "reproduce")]
pub mod phases;
#[cfg(feature = "reproduce")]
pub mod progress;
pub mod rng;
pub mod spans;
pub mod stats;
pub mod timing;

use burn::prelude::Device;

pub use checkpoint::{Checkpoint, CheckpointDir, CheckpointError, CheckpointWriter};
pub use finetune::{
    FineTuning, LoraConfig, Projection, attach_lora, frozen_reference, kl_to_reference,
    load_trainable, save_trainable,
};
pub use fit::{FitOptions, Fitted, ModuleStep, Optimize, Update, fit};
pub use lm::{LmBatch, LmTrainer, WarmupCosine, masked_cross_entropy};
#[cfg(feature = "reproduce")]
pub use memory::PeakAlloc;
pub use metrics::{accuracy, count_correct, cross_entropy, dataset_accuracy};
pub use padded::padded_batch;
pub use params::{materialize, parameter_values, trainable_params};
#[cfg(feature = "reproduce")]
pub use phases::{PhaseError, PhaseStore};
#[cfg(feature = "reproduce")]
pub use progress::Progress;
pub use rng::{SeededRng, derive_seed};
pub use spans::{LabelledSpan, SpanScore, SpanSummary, TokenScores};
pub use stats::Summary;
pub use timing::{measure_time, timed};

/// Burn's CPU backend keeps one random generator per process, so two tests that seed it and
/// draw from it in parallel threads can interleave their draws. A test that needs reproducible
/// draws holds this lock around seeding and the work that follows; a poisoned lock is taken
/// over, not propagated. Library code never takes it: a program that trains in several threads
/// at once must give each its own process (or accept interleaved draws).
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

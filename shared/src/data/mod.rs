//! Datasets: readers for the real files, in-memory datasets, and (with the `reproduce` feature)
//! the fetch registry.
//!
//! Readers take a path and reject malformed files with a [`DataError`] that names the file and
//! the problem. With `reproduce`, registry data lives under the data directory
//! (`$KILN_DATA_DIR`, else `./data`), one folder per registry dataset, filled by
//! `cargo xtask data fetch <name>` (`dataset_dir`).

#[cfg(feature = "reproduce")]
mod choice;
mod cifar;
pub mod corpus;
mod error;
pub mod idx;
pub mod images;
#[cfg(feature = "reproduce")]
mod registry;
pub mod sampling;
pub mod text;

#[cfg(feature = "reproduce")]
pub use choice::DatasetChoice;
pub use cifar::{CifarKind, load_cifar};
pub use error::{DataError, read_data_file};
pub use images::{ImageDataset, ImageShape, Normalization, Split, load_mnist_like};
/// The Burn-free fetch step (registry, checksums, atomic install), re-exported.
#[cfg(feature = "reproduce")]
pub use kiln_fetch as fetch;
#[cfg(feature = "reproduce")]
pub use registry::{brown_tarball, dataset_dir};
pub use sampling::WeightedSampler;

//! Datasets: readers for the real files, the fetch registry, and in-memory datasets.
//!
//! Real data lives under the data directory (`$KILN_DATA_DIR`, else `./data`), one folder per
//! registry dataset, filled by `cargo xtask data fetch <name>`. Readers reject malformed files
//! with a [`DataError`] that names the file and the problem.

mod choice;
pub mod corpus;
mod error;
pub mod idx;
pub mod images;
pub mod text;

use std::path::PathBuf;

pub use choice::DatasetChoice;
pub use error::{DataError, read_data_file};
pub use images::{
    CifarKind, ImageDataset, ImageShape, Normalization, Split, load_cifar, load_mnist_like,
};
/// The Burn-free fetch step (registry, checksums, atomic install), re-exported.
pub use kiln_fetch as fetch;

/// The folder of registry dataset `name` (e.g. `mnist`), which must exist.
///
/// Looks in `$KILN_DATA_DIR` when it is set; otherwise in `data/` of the working directory or the
/// nearest parent that has one (so tests and binaries find the workspace's data from any
/// sub-folder). The error says which command fetches it.
pub fn dataset_dir(name: &str) -> Result<PathBuf, DataError> {
    let fetch_hint = format!(
        "run `cargo xtask data fetch {name}` (or set {} to the folder that holds `{name}/`)",
        kiln_fetch::DATA_DIR_ENV
    );
    if let Some(root) = std::env::var_os(kiln_fetch::DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(root).join(name);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(DataError::Missing {
                path: dir,
                hint: fetch_hint,
            })
        };
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .map(|dir| dir.join("data").join(name))
        .find(|dir| dir.is_dir())
        .ok_or_else(|| DataError::Missing {
            path: cwd.join("data").join(name),
            hint: format!("also looked in the data/ folders of its parents; {fetch_hint}"),
        })
}

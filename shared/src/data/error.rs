//! The error type of the dataset readers.

use std::path::PathBuf;

/// A dataset file that could not be read, or is not what it claims to be.
///
/// Every variant names the file, so a message is enough to find and fix the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not exist; the message says how to get it.
    #[error("{} not found; {hint}", path.display())]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// How to get it (usually a `cargo xtask data fetch` command).
        hint: String,
    },
    /// The file's content is not in the expected format.
    #[error("{} is malformed: {problem}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// Two files that belong together disagree (e.g. image and label counts).
    #[error("{} and {} disagree: {problem}", first.display(), second.display())]
    Mismatch {
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
        /// What differs.
        problem: String,
    },
    /// A caller asked for something the dataset cannot give (e.g. a split larger than the data).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Reads a whole data file; a missing file becomes [`DataError::Missing`] with `hint`.
pub fn read_data_file(path: &std::path::Path, hint: &str) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_path_buf(),
                hint: hint.to_string(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

//! Checking files against the sizes and SHA-256 sums in the registry.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::FetchError;
use crate::registry::FileSpec;

/// What a file on disk looks like compared with its registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Present, right size, right checksum.
    Verified,
    /// Not there at all.
    Missing,
    /// There, but of the wrong length (typically an interrupted copy).
    WrongSize {
        /// Bytes found.
        found: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// Right length, wrong content.
    WrongChecksum {
        /// The SHA-256 found.
        found: String,
    },
}

impl FileStatus {
    /// Whether the file can be used as it is.
    pub fn is_verified(&self) -> bool {
        matches!(self, FileStatus::Verified)
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileStatus::Verified => write!(f, "verified"),
            FileStatus::Missing => write!(f, "missing"),
            FileStatus::WrongSize { found, expected } => {
                write!(f, "wrong size: {found} bytes, expected {expected}")
            }
            FileStatus::WrongChecksum { found } => write!(f, "wrong sha256 {found}"),
        }
    }
}

/// Hex SHA-256 of a file's contents, read in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let io_err = |source| FetchError::Io {
        path: path.to_path_buf(),
        action: "read for checksumming",
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io_err)?);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buffer).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares `path` with its registry entry: size first (cheap, and names truncation), then hash.
pub fn check_file(path: &Path, spec: &FileSpec) -> Result<FileStatus, FetchError> {
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileStatus::Missing),
        Err(source) => {
            return Err(FetchError::Io {
                path: path.to_path_buf(),
                action: "inspect",
                source,
            });
        }
    };
    if metadata.len() != spec.size {
        return Ok(FileStatus::WrongSize {
            found: metadata.len(),
            expected: spec.size,
        });
    }
    let found = sha256_file(path)?;
    Ok(if found == spec.sha256 {
        FileStatus::Verified
    } else {
        FileStatus::WrongChecksum { found }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn check_file_reports_each_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let spec = FileSpec {
            name: "f".into(),
            size: 3,
            sha256: sha256_bytes(b"abc"),
        };
        assert_eq!(check_file(&path, &spec).unwrap(), FileStatus::Missing);
        std::fs::write(&path, b"ab").unwrap();
        assert_eq!(
            check_file(&path, &spec).unwrap(),
            FileStatus::WrongSize {
                found: 2,
                expected: 3
            }
        );
        std::fs::write(&path, b"abd").unwrap();
        assert!(matches!(
            check_file(&path, &spec).unwrap(),
            FileStatus::WrongChecksum { .. }
        ));
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(check_file(&path, &spec).unwrap(), FileStatus::Verified);
    }
}

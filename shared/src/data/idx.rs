//! The IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.
//!
//! Layout (LeCun et al.): a 4-byte magic `0x00 0x00 <type> <rank>`, then `rank` big-endian `u32`
//! dimensions, then the values in row-major order. Kiln reads unsigned-byte files (type `0x08`),
//! which is what both datasets use. Compression is detected from the gzip magic bytes, not from
//! the file name.

use std::io::Read;
use std::path::Path;

use super::{DataError, read_data_file};

/// The one element type the readers accept: unsigned byte.
const UNSIGNED_BYTE: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An IDX array of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file, inflating it first if it is gzip-compressed.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let raw = read_data_file(
        path,
        "fetch it with `cargo xtask data fetch mnist` (or `fashion-mnist`)",
    )?;
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut inflated)
            .map_err(|e| malformed(path, format!("gzip stream is corrupt or truncated ({e})")))?;
        inflated
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|problem| malformed(path, problem))
}

fn malformed(path: &Path, problem: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    }
}

/// Parses IDX bytes; the error says what was expected.
pub(crate) fn parse_idx(bytes: &[u8]) -> Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "{} bytes is too short for the 4-byte IDX magic number",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "bad magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with 00 00",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    if bytes[2] != UNSIGNED_BYTE {
        return Err(format!(
            "element type 0x{:02x} is not supported; expected 0x08 (unsigned byte)",
            bytes[2]
        ));
    }
    let rank = usize::from(bytes[3]);
    if rank == 0 {
        return Err("rank 0 in the magic number; expected at least one dimension".into());
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(format!(
            "truncated header: rank {rank} needs {header} bytes, file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("dimensions {dims:?} overflow"))?;
    let found = bytes.len() - header;
    if found < expected {
        return Err(format!(
            "truncated data: dimensions {dims:?} need {expected} bytes, found {found}"
        ));
    }
    if found > expected {
        return Err(format!(
            "{} unexpected trailing bytes after the {expected} bytes of dimensions {dims:?}",
            found - expected
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encodes bytes as an IDX file (for tests and fixtures).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_raw_and_gzip_files_alike() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..24).collect();
        let bytes = encode_idx(&[2, 3, 4], &data);
        let raw = read_idx(&write(dir.path(), "a", &bytes)).unwrap();
        assert_eq!(raw.dims, vec![2, 3, 4]);
        assert_eq!(raw.data, data);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&bytes).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(read_idx(&write(dir.path(), "a.gz", &gz)).unwrap(), raw);
    }

    #[test]
    fn each_malformed_case_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good = encode_idx(&[2, 2], &[1, 2, 3, 4]);
        let mut bad_magic = good.clone();
        bad_magic[0] = 0x42;
        let mut bad_type = good.clone();
        bad_type[2] = 0x0d;
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "too short"),
            ("magic", bad_magic, "bad magic number"),
            ("type", bad_type, "0x0d is not supported"),
            ("header", good[..6].to_vec(), "truncated header"),
            ("data", good[..good.len() - 1].to_vec(), "truncated data"),
            (
                "trailing",
                [good.clone(), vec![9]].concat(),
                "trailing bytes",
            ),
            ("gzip", vec![0x1f, 0x8b, 8, 0, 1, 2], "gzip stream"),
        ];
        for (name, bytes, needle) in cases {
            let path = write(dir.path(), name, &bytes);
            let message = read_idx(&path).unwrap_err().to_string();
            assert!(message.contains(needle), "{name}: {message}");
            assert!(
                message.contains(&path.display().to_string()),
                "{name}: {message}"
            );
        }
    }

    #[test]
    fn missing_file_says_how_to_fetch() {
        let message = read_idx(Path::new("/nonexistent/t10k-images-idx3-ubyte"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("cargo xtask data fetch"), "{message}");
    }
}

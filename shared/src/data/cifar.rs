//! CIFAR-10 and CIFAR-100 in their binary distribution (`cifar-10-batches-bin/`,
//! `cifar-100-binary/`), read from a folder the user supplies.

use std::path::Path;

use super::images::{ImageDataset, ImageShape, Split};
use super::{DataError, read_data_file};

/// Which CIFAR and, for CIFAR-100, which of its two labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// CIFAR-10: records of 1 label byte + 3072 pixel bytes.
    Cifar10,
    /// CIFAR-100 with its 20 coarse superclass labels (records of 2 label bytes + 3072).
    Cifar100Coarse,
    /// CIFAR-100 with its 100 fine labels.
    Cifar100Fine,
}

impl CifarKind {
    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            _ => 2,
        }
    }

    fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100Coarse => 20,
            CifarKind::Cifar100Fine => 100,
        }
    }

    /// The files of a split in the binary distribution (`cifar-10-batches-bin/`,
    /// `cifar-100-binary/`).
    pub fn files(self, split: Split) -> Vec<String> {
        match (self, split) {
            (CifarKind::Cifar10, Split::Train) => {
                (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
            }
            (CifarKind::Cifar10, Split::Test) => vec!["test_batch.bin".into()],
            (_, Split::Train) => vec!["train.bin".into()],
            (_, Split::Test) => vec!["test.bin".into()],
        }
    }
}

const CIFAR_PIXELS: usize = 3 * 32 * 32;

/// Parses the records of one CIFAR binary file.
fn parse_cifar(bytes: &[u8], kind: CifarKind) -> Result<(Vec<u8>, Vec<u16>), String> {
    let record = kind.label_bytes() + CIFAR_PIXELS;
    if bytes.is_empty() {
        return Err("file is empty".into());
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(format!(
            "{} bytes is not a whole number of {record}-byte records (truncated after record {})",
            bytes.len(),
            bytes.len() / record
        ));
    }
    let n = bytes.len() / record;
    let mut images = Vec::with_capacity(n * CIFAR_PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (i, chunk) in bytes.chunks_exact(record).enumerate() {
        let label = match kind {
            CifarKind::Cifar10 | CifarKind::Cifar100Coarse => chunk[0],
            CifarKind::Cifar100Fine => chunk[1],
        };
        if usize::from(label) >= kind.num_classes() {
            return Err(format!(
                "record {i} has label {label}, but {kind:?} has {} classes",
                kind.num_classes()
            ));
        }
        labels.push(u16::from(label));
        images.extend_from_slice(&chunk[kind.label_bytes()..]);
    }
    Ok((images, labels))
}

/// Loads CIFAR-10 or CIFAR-100 from a folder of the binary distribution's files.
///
/// No registry ships CIFAR, so Kiln never fetches it: download the "binary version" yourself and
/// point the reproduction at the folder.
pub fn load_cifar(dir: &Path, kind: CifarKind, split: Split) -> Result<ImageDataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for name in kind.files(split) {
        let path = dir.join(&name);
        let hint = format!(
            "CIFAR cannot be fetched offline; download the binary version and put {} in {}",
            kind.files(split).join(", "),
            dir.display()
        );
        let bytes = read_data_file(&path, &hint)?;
        let (i, l) = parse_cifar(&bytes, kind).map_err(|problem| DataError::Malformed {
            path: path.clone(),
            problem,
        })?;
        images.extend(i);
        labels.extend(l);
    }
    ImageDataset::new(
        images,
        labels,
        ImageShape {
            channels: 3,
            height: 32,
            width: 32,
        },
        kind.num_classes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cifar_record(label: &[u8], fill: u8) -> Vec<u8> {
        let mut r = label.to_vec();
        r.extend(std::iter::repeat_n(fill, CIFAR_PIXELS));
        r
    }

    #[test]
    fn reads_generated_cifar10_and_cifar100_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let test: Vec<u8> = [cifar_record(&[7], 1), cifar_record(&[2], 2)].concat();
        std::fs::write(dir.path().join("test_batch.bin"), &test).unwrap();
        let ds = load_cifar(dir.path(), CifarKind::Cifar10, Split::Test).unwrap();
        assert_eq!(ds.labels(), &[7, 2]);
        assert_eq!(ds.image(1)[0], 2);
        assert_eq!(ds.shape().channels, 3);

        let c100: Vec<u8> = [cifar_record(&[3, 77], 5), cifar_record(&[19, 99], 6)].concat();
        std::fs::write(dir.path().join("test.bin"), &c100).unwrap();
        let fine = load_cifar(dir.path(), CifarKind::Cifar100Fine, Split::Test).unwrap();
        let coarse = load_cifar(dir.path(), CifarKind::Cifar100Coarse, Split::Test).unwrap();
        assert_eq!(fine.labels(), &[77, 99]);
        assert_eq!(coarse.labels(), &[3, 19]);
        assert_eq!(fine.num_classes(), 100);
    }

    #[test]
    fn malformed_cifar_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut truncated = cifar_record(&[1], 0);
        truncated.pop();
        std::fs::write(dir.path().join("test_batch.bin"), &truncated).unwrap();
        let message = load_cifar(dir.path(), CifarKind::Cifar10, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("test_batch.bin") && message.contains("3073-byte records"),
            "{message}"
        );

        std::fs::write(dir.path().join("test_batch.bin"), cifar_record(&[10], 0)).unwrap();
        let message = load_cifar(dir.path(), CifarKind::Cifar10, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(message.contains("label 10"), "{message}");

        let message = load_cifar(dir.path(), CifarKind::Cifar10, Split::Train)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("data_batch_1.bin") && message.contains("binary version"),
            "{message}"
        );
    }
}

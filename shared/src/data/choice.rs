//! A dataset named in a reproduction config: the registry's MNIST and Fashion-MNIST, or CIFAR
//! files the user supplies.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{CifarKind, DataError, ImageDataset, Split, dataset_dir, load_cifar, load_mnist_like};

/// An image-classification dataset a reproduction config can name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DatasetChoice {
    /// MNIST from the fetch registry.
    Mnist,
    /// Fashion-MNIST from the fetch registry (the offline stand-in for CIFAR).
    FashionMnist,
    /// CIFAR-10 binary files in a folder you supply.
    Cifar10 {
        /// Folder holding `data_batch_1.bin` … `test_batch.bin`.
        dir: PathBuf,
    },
    /// Generated 14×14 stand-in images ([`ImageDataset::synthetic_rows`]: 2,000 training and
    /// 500 test images), for smoke runs and tests that must not need a download.
    Synthetic,
    /// CIFAR-100 binary files (fine labels) in a folder you supply.
    Cifar100 {
        /// Folder holding `train.bin` and `test.bin`.
        dir: PathBuf,
    },
}

impl DatasetChoice {
    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            DatasetChoice::Mnist => "MNIST",
            DatasetChoice::FashionMnist => "Fashion-MNIST",
            DatasetChoice::Synthetic => "synthetic rows",
            DatasetChoice::Cifar10 { .. } => "CIFAR-10",
            DatasetChoice::Cifar100 { .. } => "CIFAR-100",
        }
    }

    /// Loads both splits.
    pub fn load(&self) -> Result<(ImageDataset, ImageDataset), DataError> {
        let mnist_like = |name: &str| -> Result<_, DataError> {
            let dir = dataset_dir(name)?;
            Ok((
                load_mnist_like(&dir, Split::Train)?,
                load_mnist_like(&dir, Split::Test)?,
            ))
        };
        match self {
            DatasetChoice::Mnist => mnist_like("mnist"),
            DatasetChoice::FashionMnist => mnist_like("fashion-mnist"),
            DatasetChoice::Synthetic => Ok((
                ImageDataset::synthetic_rows(2000, 1),
                ImageDataset::synthetic_rows(500, 2),
            )),
            DatasetChoice::Cifar10 { dir } => Ok((
                load_cifar(dir, CifarKind::Cifar10, Split::Train)?,
                load_cifar(dir, CifarKind::Cifar10, Split::Test)?,
            )),
            DatasetChoice::Cifar100 { dir } => Ok((
                load_cifar(dir, CifarKind::Cifar100Fine, Split::Train)?,
                load_cifar(dir, CifarKind::Cifar100Fine, Split::Test)?,
            )),
        }
    }
}

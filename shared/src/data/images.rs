//! Image classification datasets held in memory: MNIST, Fashion-MNIST, CIFAR-10/100.
//!
//! Images are kept as bytes (a 60,000-image MNIST is 47 MB) and turned into normalised `f32`
//! tensors one batch at a time.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::DataError;
use super::idx::read_idx;
use crate::train::SeededRng;

/// Which half of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The held-out test set.
    Test,
}

/// Channels, height and width of every image in a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Colour channels (1 for MNIST, 3 for CIFAR).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// Bytes per image.
    pub fn numel(&self) -> usize {
        self.channels * self.height * self.width
    }
}

/// Per-channel mean and standard deviation of pixel values scaled to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel.
    pub std: Vec<f32>,
}

impl Normalization {
    /// The customary MNIST statistics (training set).
    pub fn mnist() -> Self {
        Self {
            mean: vec![0.1307],
            std: vec![0.3081],
        }
    }

    /// The customary Fashion-MNIST statistics (training set).
    pub fn fashion_mnist() -> Self {
        Self {
            mean: vec![0.2860],
            std: vec![0.3530],
        }
    }

    /// No normalisation beyond scaling to `[0, 1]`.
    pub fn unit(channels: usize) -> Self {
        Self {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }
}

/// A labelled image dataset in memory, images stored channel-major (`C×H×W`) as bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataset {
    images: Vec<u8>,
    labels: Vec<u16>,
    shape: ImageShape,
    num_classes: usize,
}

impl ImageDataset {
    /// Builds a dataset, checking that sizes agree and every label is below `num_classes`.
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u16>,
        shape: ImageShape,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        if shape.numel() == 0 {
            return Err(DataError::Invalid(format!("empty image shape {shape:?}")));
        }
        if images.len() != labels.len() * shape.numel() {
            return Err(DataError::Invalid(format!(
                "{} image bytes do not make {} images of {} bytes",
                images.len(),
                labels.len(),
                shape.numel()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| usize::from(l) >= num_classes) {
            return Err(DataError::Invalid(format!(
                "label {bad} is out of range for {num_classes} classes"
            )));
        }
        Ok(Self {
            images,
            labels,
            shape,
            num_classes,
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of each image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All labels.
    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// The bytes of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.shape.numel();
        &self.images[index * n..(index + 1) * n]
    }

    /// Examples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// A new dataset with the examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self, DataError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::Invalid(format!(
                "index {bad} out of range for {} examples",
                self.len()
            )));
        }
        let mut images = Vec::with_capacity(indices.len() * self.shape.numel());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Self::new(images, labels, self.shape, self.num_classes)
    }

    /// `n` examples drawn without replacement in an order fixed by `seed`.
    pub fn seeded_subset(&self, n: usize, seed: u64) -> Result<Self, DataError> {
        if n > self.len() {
            return Err(DataError::Invalid(format!(
                "subset of {n} requested from {} examples",
                self.len()
            )));
        }
        let order = SeededRng::new(seed).permutation(self.len());
        self.select(&order[..n])
    }

    /// Shuffles with `seed` and splits into the first `first` examples and the rest
    /// (e.g. a validation set carved from the training set).
    pub fn split(&self, first: usize, seed: u64) -> Result<(Self, Self), DataError> {
        if first > self.len() {
            return Err(DataError::Invalid(format!(
                "split of {first} requested from {} examples",
                self.len()
            )));
        }
        let order = SeededRng::new(seed).permutation(self.len());
        Ok((self.select(&order[..first])?, self.select(&order[first..])?))
    }

    /// Mean and standard deviation of each channel over the whole dataset, pixels in `[0, 1]`.
    pub fn channel_stats(&self) -> Normalization {
        let c = self.shape.channels;
        let per_channel = self.shape.height * self.shape.width;
        let mut sum = vec![0f64; c];
        let mut sum_sq = vec![0f64; c];
        for (k, chunk) in self.images.chunks_exact(per_channel).enumerate() {
            let ch = k % c;
            for &p in chunk {
                let v = f64::from(p) / 255.0;
                sum[ch] += v;
                sum_sq[ch] += v * v;
            }
        }
        let count = (self.len() * per_channel).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| ((s / count - m * m).max(0.0)).sqrt() as f32)
            .collect();
        Normalization {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// The examples at `indices` as a normalised `[B, C, H, W]` tensor and `[B]` labels.
    pub fn batch(
        &self,
        indices: &[usize],
        norm: &Normalization,
        device: &Device,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        let ImageShape {
            channels,
            height,
            width,
        } = self.shape;
        let plane = height * width;
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.numel());
        for &i in indices {
            for (k, &p) in self.image(i).iter().enumerate() {
                let ch = k / plane;
                pixels.push((f32::from(p) / 255.0 - norm.mean[ch]) / norm.std[ch]);
            }
        }
        let labels: Vec<i64> = indices.iter().map(|&i| i64::from(self.labels[i])).collect();
        let images = Tensor::from_data(
            TensorData::new(pixels, [indices.len(), channels, height, width]),
            device,
        );
        let labels = Tensor::from_data(TensorData::new(labels, [indices.len()]), device);
        (images, labels)
    }

    /// Like [`ImageDataset::batch`] with each image flattened: `[B, C·H·W]`.
    pub fn flat_batch(
        &self,
        indices: &[usize],
        norm: &Normalization,
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        let (images, labels) = self.batch(indices, norm, device);
        (images.flatten(1, 3), labels)
    }
}

impl ImageDataset {
    /// A generated stand-in for MNIST-like data, for tests and examples that must not need a
    /// download: `n` grey 14×14 images of 10 classes in turn, class `c` lighting up row `c + 2`
    /// over Gaussian noise. Easy to learn, impossible to guess.
    pub fn synthetic_rows(n: usize, seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let mut pixels = Vec::with_capacity(n * 196);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let class = i % 10;
            for row in 0..14 {
                for _ in 0..14 {
                    let base = if row == class + 2 { 200.0 } else { 20.0 };
                    pixels.push((base + 30.0 * rng.normal()).clamp(0.0, 255.0) as u8);
                }
            }
            labels.push(class as u16);
        }
        let shape = ImageShape {
            channels: 1,
            height: 14,
            width: 14,
        };
        Self {
            images: pixels,
            labels,
            shape,
            num_classes: 10,
        }
    }
}

/// Loads MNIST or Fashion-MNIST from the folder holding the four IDX files (raw or `.gz`).
pub fn load_mnist_like(dir: &Path, split: Split) -> Result<ImageDataset, DataError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx(&images_path)?;
    let labels = read_idx(&labels_path)?;
    let [n, height, width] = images.dims[..] else {
        return Err(DataError::Malformed {
            path: images_path,
            problem: format!("expected 3 dimensions [N, H, W], found {:?}", images.dims),
        });
    };
    if labels.dims.len() != 1 {
        return Err(DataError::Malformed {
            path: labels_path,
            problem: format!("expected 1 dimension [N], found {:?}", labels.dims),
        });
    }
    if labels.dims[0] != n {
        return Err(DataError::Mismatch {
            first: images_path,
            second: labels_path,
            problem: format!("{n} images but {} labels", labels.dims[0]),
        });
    }
    if let Some(bad) = labels.data.iter().find(|&&l| l >= 10) {
        return Err(DataError::Malformed {
            path: labels_path,
            problem: format!("label {bad} is not a class 0-9"),
        });
    }
    ImageDataset::new(
        images.data,
        labels.data.into_iter().map(u16::from).collect(),
        ImageShape {
            channels: 1,
            height,
            width,
        },
        10,
    )
}

/// The raw file `name` in `dir`, or `name.gz` if only that exists.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::Missing {
        path: raw,
        hint: format!(
            "expected `{name}` or `{name}.gz` in {}; fetch the dataset with `cargo xtask data fetch mnist` (or `fashion-mnist`)",
            dir.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::encode_idx;

    /// Writes a tiny MNIST-like folder: `n` images of 4×3 whose pixels encode their index.
    fn write_mnist(dir: &Path, n: usize, labels: &[u8], gzip_images: bool) {
        let pixels: Vec<u8> = (0..n * 12).map(|k| (k / 12) as u8).collect();
        let images = encode_idx(&[n, 4, 3], &pixels);
        if gzip_images {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&images).unwrap();
            std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
        } else {
            std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
        }
        std::fs::write(
            dir.join("train-labels-idx1-ubyte"),
            encode_idx(&[labels.len()], labels),
        )
        .unwrap();
    }

    #[test]
    fn loads_a_well_formed_mnist_folder() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_mnist(dir.path(), 5, &[3, 1, 4, 1, 5], gzip);
            let ds = load_mnist_like(dir.path(), Split::Train).unwrap();
            assert_eq!(ds.len(), 5);
            assert_eq!(
                ds.shape(),
                ImageShape {
                    channels: 1,
                    height: 4,
                    width: 3
                }
            );
            assert_eq!(ds.labels(), &[3, 1, 4, 1, 5]);
            assert_eq!(ds.image(2), &[2u8; 12]);
            assert_eq!(ds.class_counts()[1], 2);
        }
    }

    #[test]
    fn count_mismatch_and_bad_labels_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_mnist(dir.path(), 5, &[3, 1, 4, 1], false);
        let message = load_mnist_like(dir.path(), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(message.contains("5 images but 4 labels"), "{message}");

        write_mnist(dir.path(), 2, &[3, 12], false);
        let message = load_mnist_like(dir.path(), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(message.contains("label 12"), "{message}");

        let message = load_mnist_like(dir.path(), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("t10k-images-idx3-ubyte") && message.contains("fetch"),
            "{message}"
        );
    }

    #[test]
    fn subsets_splits_and_normalised_batches() {
        let dir = tempfile::tempdir().unwrap();
        write_mnist(dir.path(), 10, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], false);
        let ds = load_mnist_like(dir.path(), Split::Train).unwrap();

        let (a, b) = ds.split(7, 42).unwrap();
        assert_eq!((a.len(), b.len()), (7, 3));
        let mut all: Vec<u16> = a.labels().iter().chain(b.labels()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<u16>>());
        assert_eq!(ds.split(7, 42).unwrap().0, a, "same seed, same split");
        assert_ne!(ds.seeded_subset(7, 43).unwrap(), a);
        assert!(ds.split(11, 0).is_err());

        // Pixel value of image i is i; with mean 0.1 and std 2 the batch holds (i/255 - 0.1)/2.
        let norm = Normalization {
            mean: vec![0.1],
            std: vec![2.0],
        };
        let device = Device::default();
        let (x, y) = ds.batch(&[4, 9], &norm, &device);
        assert_eq!(x.dims(), [2, 1, 4, 3]);
        let values = x.into_data().try_to_vec::<f32>().unwrap();
        assert!((values[0] - (4.0 / 255.0 - 0.1) / 2.0).abs() < 1e-6);
        assert!((values[12] - (9.0 / 255.0 - 0.1) / 2.0).abs() < 1e-6);
        assert_eq!(
            y.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(),
            vec![4, 9]
        );

        let stats = ds.channel_stats();
        let expected_mean = 4.5 / 255.0;
        assert!((stats.mean[0] - expected_mean as f32).abs() < 1e-6);
    }
}

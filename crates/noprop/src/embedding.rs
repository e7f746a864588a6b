//! Class embeddings `W_Embed ∈ R^{m×d}` (paper §2, "class embeddings").
//!
//! Row `y` is the target `u_y` that every block learns to predict. A block outputs class logits
//! and its prediction is the convex combination `û = softmax(logits) · W_Embed`; with one-hot
//! embeddings `û` is just the softmax.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use kiln_core::data::ImageDataset;

/// Which class embedding to use (Table 1's three rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum EmbeddingKind {
    /// The identity, fixed: `d = m`.
    OneHot,
    /// Learned `d`-dimensional embeddings (orthogonal init when `m ≤ d`, Gaussian otherwise).
    Learned {
        /// Embedding width (the paper uses 20).
        dim: usize,
    },
    /// Learned embeddings of image size, each initialised with one training image of its
    /// class: the one whose median distance to the other images of that class is smallest.
    Prototype,
}

impl EmbeddingKind {
    /// The width `d` for `m` classes and images of `image_numel` values.
    pub fn dim(self, num_classes: usize, image_numel: usize) -> usize {
        match self {
            EmbeddingKind::OneHot => num_classes,
            EmbeddingKind::Learned { dim } => dim,
            EmbeddingKind::Prototype => image_numel,
        }
    }
}

/// The embedding matrix, learnable or fixed.
#[derive(Module, Debug)]
pub struct ClassEmbedding {
    /// `W_Embed`, one row per class.
    pub weight: Param<Tensor<2>>,
}

impl ClassEmbedding {
    /// One-hot embeddings: the fixed `m × m` identity (never receives gradients).
    pub fn one_hot(num_classes: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::eye(num_classes, device)),
        }
        .no_grad()
    }

    /// Learned embeddings of width `dim`: orthonormal rows when `num_classes ≤ dim`
    /// (Gram–Schmidt on a Gaussian draw from `seed`), `N(0, 1/dim)` otherwise.
    pub fn learned(num_classes: usize, dim: usize, seed: u64, device: &Device) -> Self {
        let mut rng = kiln_core::train::SeededRng::new(seed);
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(num_classes);
        for _ in 0..num_classes {
            let mut v: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
            if num_classes <= dim {
                for r in &rows {
                    let dot: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(r).for_each(|(a, b)| *a -= dot * b);
                }
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                v.iter_mut().for_each(|a| *a /= norm);
            } else {
                v.iter_mut().for_each(|a| *a /= (dim as f64).sqrt());
            }
            rows.push(v);
        }
        Self::from_rows(&rows, device)
    }

    /// Learned embeddings initialised with given rows (e.g. [`prototype_rows`]).
    pub fn from_rows(rows: &[Vec<f64>], device: &Device) -> Self {
        let (m, d) = (rows.len(), rows.first().map_or(0, Vec::len));
        let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
        Self {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(flat, [m, d]), device)),
        }
    }

    /// Number of classes `m`.
    pub fn num_classes(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Width `d`.
    pub fn dim(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The targets `u_y` for a batch of labels: `[B, d]`.
    pub fn targets(&self, labels: Tensor<1, Int>) -> Tensor<2> {
        self.weight.val().select(0, labels)
    }

    /// A block's prediction from its logits: `û = softmax(logits) · W_Embed`, `[B, d]`.
    pub fn predict(&self, logits: Tensor<2>) -> Tensor<2> {
        softmax(logits, 1).matmul(self.weight.val())
    }

    /// The class whose embedding is nearest (Euclidean) to each row of `z`: `[B]`.
    pub fn nearest(&self, z: Tensor<2>) -> Tensor<1, Int> {
        let w = self.weight.val();
        // ‖z − w_y‖² = ‖z‖² − 2 z·w_y + ‖w_y‖²; the ‖z‖² term is the same for every class.
        let scores = z.matmul(w.clone().transpose()).mul_scalar(2.0)
            - w.powi_scalar(2).sum_dim(1).transpose();
        scores.argmax(1).squeeze_dim(1)
    }
}

/// Prototype initial embeddings: per class, the (normalised, flattened) training image whose
/// median Euclidean distance to the other images of its class is smallest. At most
/// `per_class_cap` images per class are compared (the search is quadratic).
pub fn prototype_rows(
    data: &ImageDataset,
    norm: &kiln_core::data::Normalization,
    per_class_cap: usize,
    device: &Device,
) -> Vec<Vec<f64>> {
    (0..data.num_classes())
        .map(|class| {
            let members: Vec<usize> = (0..data.len())
                .filter(|&i| usize::from(data.labels()[i]) == class)
                .take(per_class_cap)
                .collect();
            let (x, _) = data.flat_batch(&members, norm, device);
            let sq = x.clone().powi_scalar(2).sum_dim(1);
            let dist = (sq.clone() + sq.transpose()
                - x.clone().matmul(x.clone().transpose()).mul_scalar(2.0))
            .clamp_min(0.0);
            let n = members.len();
            let dist = kiln_core::host_values(dist);
            let best = (0..n)
                .min_by(|&a, &b| {
                    median_excluding_self(&dist[a * n..(a + 1) * n], a)
                        .total_cmp(&median_excluding_self(&dist[b * n..(b + 1) * n], b))
                })
                .unwrap_or(0);
            kiln_core::host_values(x.slice(s![best..best + 1, ..]))
                .into_iter()
                .map(f64::from)
                .collect()
        })
        .collect()
}

fn median_excluding_self(row: &[f32], this: usize) -> f32 {
    let mut others: Vec<f32> = row
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != this)
        .map(|(_, &d)| d)
        .collect();
    if others.is_empty() {
        return 0.0;
    }
    let mid = others.len() / 2;
    *others.select_nth_unstable_by(mid, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::data::{ImageShape, Normalization};

    #[test]
    fn one_hot_prediction_is_the_softmax_and_targets_are_rows() {
        let device = Device::default();
        let e = ClassEmbedding::one_hot(3, &device);
        let logits = Tensor::<2>::from_floats([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]], &device);
        let u_hat = e
            .predict(logits)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        assert!((u_hat[0] - 1.0 / 3.0).abs() < 1e-6 && u_hat[3] > 0.999);
        let y = Tensor::<1, Int>::from_ints([2, 0], &device);
        let u = e
            .targets(y)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(u, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        assert!(!e.weight.val().is_require_grad());
    }

    #[test]
    fn learned_init_is_orthonormal_and_nearest_finds_each_row() {
        let device = Device::default();
        let e = ClassEmbedding::learned(4, 20, 7, &device);
        let w = e.weight.val();
        let gram = w.clone().matmul(w.clone().transpose());
        let gram = gram
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        for i in 0..4 {
            for j in 0..4 {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((gram[i * 4 + j] - expected).abs() < 1e-5, "{gram:?}");
            }
        }
        let nearest = e
            .nearest(w.mul_scalar(0.9))
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap();
        assert_eq!(nearest, vec![0, 1, 2, 3]);
    }

    #[test]
    fn prototype_is_the_most_central_image() {
        // Class 0 images with one value each: 0, 1, 2, 10 → medians of distances² favour 1 or 2;
        // 1 has distances² {1, 1, 81} (median 1), 2 has {4, 1, 64} (median 4).
        let pixels = vec![0u8, 1, 2, 10, 50];
        let data = ImageDataset::new(
            pixels,
            vec![0, 0, 0, 0, 1],
            ImageShape {
                channels: 1,
                height: 1,
                width: 1,
            },
            2,
        )
        .unwrap();
        let norm = Normalization {
            mean: vec![0.0],
            std: vec![1.0 / 255.0],
        };
        let rows = prototype_rows(&data, &norm, 100, &Device::default());
        assert_eq!(rows.len(), 2);
        assert!((rows[0][0] - 1.0).abs() < 1e-4, "{rows:?}");
        assert!((rows[1][0] - 50.0).abs() < 1e-3, "{rows:?}");
    }
}

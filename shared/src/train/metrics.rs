//! Classification losses and metrics computed on tensors.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

use crate::data::{ImageDataset, Normalization};

/// Mean cross-entropy `mean_i −log softmax(logits_i)[y_i]` of `[B, classes]` logits: Burn's
/// [`CrossEntropyLoss`](burn::nn::loss::CrossEntropyLoss) on logits, under the short name the
/// papers' training code calls.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, labels)
}

/// Accuracy (%) of `predict` (images `[B, C, H, W]` → classes `[B]`) over a whole dataset,
/// evaluated `batch` images at a time.
pub fn dataset_accuracy(
    data: &ImageDataset,
    norm: &Normalization,
    device: &Device,
    batch: usize,
    mut predict: impl FnMut(Tensor<4>) -> Tensor<1, Int>,
) -> f64 {
    let indices: Vec<usize> = (0..data.len()).collect();
    let correct: usize = indices
        .chunks(batch.max(1))
        .map(|chunk| {
            let (x, y) = data.batch(chunk, norm, device);
            predict(x).equal(y).int().sum().into_scalar::<i64>() as usize
        })
        .sum();
    100.0 * correct as f64 / data.len().max(1) as f64
}

/// Number of rows of `logits` (`[B, classes]`) whose arg-max equals `labels` (`[B]`).
pub fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let predicted: Tensor<1, Int> = logits.argmax(1).squeeze_dim(1);
    predicted.equal(labels).int().sum().into_scalar::<i64>() as usize
}

/// Fraction of rows of `logits` whose arg-max equals `labels`, in `[0, 1]`.
pub fn accuracy(logits: Tensor<2>, labels: Tensor<1, Int>) -> f64 {
    let n = labels.dims()[0];
    if n == 0 {
        return f64::NAN;
    }
    count_correct(logits, labels) as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_matches_its_closed_form() {
        let device = Device::default();
        let logits = Tensor::<2>::from_floats([[0.0, 0.0], [2.0, 0.0]], &device);
        let labels = Tensor::<1, Int>::from_ints([0, 1], &device);
        // ln 2 for the uniform row; ln(1 + e²) for the second.
        let expected = (2f32.ln() + (1.0 + 2f32.exp()).ln()) / 2.0;
        let got = cross_entropy(logits, labels).into_scalar::<f32>();
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
    }

    #[test]
    fn dataset_accuracy_counts_over_uneven_batches() {
        use crate::data::ImageShape;
        let device = Device::default();
        let shape = ImageShape {
            channels: 1,
            height: 1,
            width: 1,
        };
        let data = ImageDataset::new(vec![0; 5], vec![0, 1, 0, 1, 1], shape, 2).unwrap();
        // Always predicting class 1 is right 3 times in 5, whatever the batch size.
        for batch in [1, 2, 5, 7] {
            let acc = dataset_accuracy(&data, &Normalization::unit(1), &device, batch, |x| {
                Tensor::<1, Int>::ones([x.dims()[0]], &device)
            });
            assert!((acc - 60.0).abs() < 1e-9, "batch {batch}: {acc}");
        }
    }

    #[test]
    fn accuracy_of_known_predictions() {
        let device = Device::default();
        let logits = Tensor::<2>::from_floats(
            [
                [0.1, 0.9, 0.0],
                [2.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
                [0.3, 0.2, 0.1],
            ],
            &device,
        );
        let labels = Tensor::<1, Int>::from_ints([1, 0, 1, 2], &device);
        assert_eq!(count_correct(logits.clone(), labels.clone()), 2);
        assert!((accuracy(logits, labels) - 0.5).abs() < 1e-12);
    }
}

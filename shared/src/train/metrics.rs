//! Classification metrics computed on tensors.

use burn::prelude::*;

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

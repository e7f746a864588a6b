//! What a reproduction run does, read from `configs/noprop/<scale>.ron`, and the datasets it
//! trains on.

use kiln_core::cli::ReproductionConfig;
use kiln_core::data::{DataError, DatasetChoice, ImageDataset, Normalization};
use kiln_core::train::derive_seed;
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use crate::block::{BlockShape, MIN_IMAGE_SIDE};
use crate::config::{NoPropConfig, Variant};
use crate::embedding::EmbeddingKind;

/// Everything a reproduction run needs, read from `configs/noprop/<scale>.ron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// The main dataset (Table 1's MNIST column).
    pub dataset: DatasetChoice,
    /// A second dataset run the same way (Fashion-MNIST standing in for CIFAR-10), if any.
    pub second_dataset: Option<DatasetChoice>,
    /// Train on a seeded subset of this many training images (all when `None`).
    pub train_size: Option<usize>,
    /// Test on a seeded subset of this many test images (all when `None`).
    pub test_size: Option<usize>,
    /// Test images for the per-epoch learning curves and for CT and FM, whose inference takes
    /// many network evaluations (a seeded subset of the test set; all when `None`).
    pub curve_test_size: Option<usize>,
    /// Training seeds (offset by `--seed`).
    pub seeds: Vec<u64>,
    /// Stochastic inference runs per trained model (the paper uses 5).
    pub inference_runs: usize,
    /// The method.
    pub noprop: NoPropConfig,
    /// Epochs of the η = 0 ablation (0 skips it).
    pub eta_zero_epochs: usize,
    /// Epochs of NoProp-CT on the main dataset (0 skips it).
    pub ct_epochs: usize,
    /// Epochs of NoProp-FM on the main dataset (0 skips it).
    pub fm_epochs: usize,
}

/// Images, normalisation and name of one dataset, ready for training.
pub struct PreparedData {
    /// Display name.
    pub name: String,
    /// Training images.
    pub train: ImageDataset,
    /// Test images.
    pub test: ImageDataset,
    /// The test images used for learning curves and for CT and FM.
    pub curve_test: ImageDataset,
    /// Normalisation (computed on the training images).
    pub norm: Normalization,
}

impl PreparedData {
    /// Takes the configured subsets (seeded) and computes the normalisation on the training set.
    pub fn new(
        name: &str,
        train: ImageDataset,
        test: ImageDataset,
        config: &ExperimentConfig,
    ) -> Result<Self, DataError> {
        let train = match config.train_size {
            Some(n) if n < train.len() => train.seeded_subset(n, derive_seed(0, "train-subset"))?,
            _ => train,
        };
        let test = match config.test_size {
            Some(n) if n < test.len() => test.seeded_subset(n, derive_seed(0, "test-subset"))?,
            _ => test,
        };
        let curve_test = match config.curve_test_size {
            Some(n) if n < test.len() => test.seeded_subset(n, derive_seed(0, "curve-subset"))?,
            _ => test.clone(),
        };
        let shape = train.shape();
        if shape.height < MIN_IMAGE_SIDE || shape.width < MIN_IMAGE_SIDE {
            return Err(DataError::Invalid(format!(
                "{name} has {}×{} images; the paper's block needs at least {m}×{m}",
                shape.height,
                shape.width,
                m = MIN_IMAGE_SIDE
            )));
        }
        let norm = train.channel_stats();
        Ok(Self {
            name: name.to_string(),
            train,
            test,
            curve_test,
            norm,
        })
    }

    /// The block shape for this data: image size, classes and embedding width.
    pub fn block_shape(&self, embedding: EmbeddingKind, continuous: bool) -> BlockShape {
        let s = self.train.shape();
        let classes = self.train.num_classes();
        BlockShape {
            image: [s.channels, s.height, s.width],
            num_classes: classes,
            embed_dim: embedding.dim(classes, s.numel()),
            prototype: embedding == EmbeddingKind::Prototype,
            continuous,
        }
    }
}

impl ReproductionConfig for ExperimentConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// If there are no seeds or inference runs, the main variant is not DT, or the method's
    /// config is invalid.
    fn validate(&self) -> Result<(), InvalidConfig> {
        ensure_config!(
            !self.seeds.is_empty() && self.inference_runs > 0,
            "seeds must be non-empty and inference_runs at least 1"
        );
        ensure_config!(
            self.noprop.variant == Variant::Dt,
            "the reproduction trains NoProp-DT as its main method; set `variant: Dt` (CT and FM run via `ct_epochs` and `fm_epochs`)"
        );
        self.noprop.validate()
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    /// The seeds trained, with `--seed` added.
    fn seeds(&self, offset: u64) -> Vec<u64> {
        self.seeds.iter().map(|s| s + offset).collect()
    }
}

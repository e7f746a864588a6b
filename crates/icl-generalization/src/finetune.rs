//! The conditions of the study (§3) and fine-tuning.
//!
//! Every fine-tuning condition starts from a clone of the same pre-trained decoder (a Burn
//! module clone is a full copy: training one never changes another) and runs the same loop:
//! full-parameter AdamW at a constant rate on batches of whole documents, shuffled each
//! epoch, until the mean loss of the last epoch is below a target or a step budget is spent.
//! The stopping rule matches the conditions by training loss, not by steps; each run reports
//! its steps.

use kiln_core::InvalidConfig;
use kiln_core::nn::Decoder;
use kiln_core::train::{LmTrainer, SeededRng, WarmupCosine};
use serde::{Deserialize, Serialize};

use crate::augment::AugKind;
use crate::batch::batch;
use crate::corpus::Doc;

/// How documents are split into sentences for fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SplitMode {
    /// Each sentence is its own example.
    Independent,
    /// Example `k` is a document's first `k` sentences.
    Cumulative,
}

/// A condition of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Condition {
    /// The pre-trained model, never shown the study world: must be at chance.
    Pretrained,
    /// The world's document in the prompt.
    Icl,
    /// Fine-tuned on the documents.
    Ft,
    /// Fine-tuned on the documents split into sentences.
    FtSplit(SplitMode),
    /// Fine-tuned on the documents plus augmentations.
    FtAug(AugKind),
}

impl Condition {
    /// A short name for tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pretrained => "pretrained",
            Self::Icl => "icl",
            Self::Ft => "ft",
            Self::FtSplit(SplitMode::Independent) => "ft_split",
            Self::FtSplit(SplitMode::Cumulative) => "ft_split_cumulative",
            Self::FtAug(AugKind::Local) => "ft_aug_local",
            Self::FtAug(AugKind::Global) => "ft_aug_global",
            Self::FtAug(AugKind::Oracle) => "ft_aug_oracle",
        }
    }

    /// Whether the condition fine-tunes.
    pub fn fine_tunes(self) -> bool {
        !matches!(self, Self::Pretrained | Self::Icl)
    }
}

/// `docs` with every sentence its own document, or every prefix of sentences.
pub fn split_sentences(docs: &[Doc], mode: SplitMode) -> Vec<Doc> {
    docs.iter()
        .flat_map(|d| {
            (1..=d.sentences.len()).map(move |k| Doc {
                sentences: match mode {
                    SplitMode::Independent => vec![d.sentences[k - 1].clone()],
                    SplitMode::Cumulative => d.sentences[..k].to_vec(),
                },
            })
        })
        .collect()
}

/// Fine-tuning settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneConfig {
    /// Constant AdamW learning rate.
    pub lr: f64,
    /// Documents per batch.
    pub batch_size: usize,
    /// The step budget.
    pub max_steps: usize,
    /// Stop once an epoch's mean loss is below this.
    pub target_loss: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
}

impl FinetuneConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// The first bad value, named.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        kiln_core::ensure_config!(
            self.lr > 0.0,
            "finetune.lr must be positive, got {}",
            self.lr
        );
        kiln_core::ensure_config!(
            self.batch_size > 0,
            "finetune.batch_size must be at least 1"
        );
        kiln_core::ensure_config!(self.max_steps > 0, "finetune.max_steps must be at least 1");
        Ok(())
    }
}

/// What a fine-tuning run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneLog {
    /// Steps taken.
    pub steps: usize,
    /// Mean loss of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Training examples.
    pub examples: usize,
}

/// Fine-tunes `model` (on an autodiff device) on `docs`, shuffled by `seed`.
///
/// # Errors
/// If the settings are invalid or there is nothing to train on.
pub fn finetune(
    mut model: Decoder,
    docs: &[Doc],
    config: &FinetuneConfig,
    seed: u64,
) -> Result<(Decoder, FinetuneLog), InvalidConfig> {
    config.validate()?;
    let sequences: Vec<Vec<u32>> = docs
        .iter()
        .filter(|d| !d.sentences.is_empty())
        .map(Doc::sequence)
        .collect();
    kiln_core::ensure_config!(!sequences.is_empty(), "no documents to fine-tune on");
    let device = model.embedding.weight.device();
    let mut trainer = LmTrainer::new(WarmupCosine::constant(config.lr), config.weight_decay);
    let mut rng = SeededRng::new(seed);
    let mut log = FinetuneLog {
        steps: 0,
        epoch_losses: Vec::new(),
        examples: sequences.len(),
    };
    while log.steps < config.max_steps {
        let (mut sum, mut count) = (0.0, 0);
        for rows in rng.batches(sequences.len(), config.batch_size) {
            if log.steps == config.max_steps {
                break;
            }
            let chosen: Vec<Vec<u32>> = rows.iter().map(|&i| sequences[i].clone()).collect();
            let (next, loss) = trainer.step(model, &batch(&chosen, &device));
            model = next;
            (sum, count, log.steps) = (sum + loss, count + 1, log.steps + 1);
        }
        let mean = sum / f64::from(count.max(1));
        log.epoch_losses.push(mean);
        if mean < config.target_loss {
            break;
        }
    }
    Ok((model, log))
}

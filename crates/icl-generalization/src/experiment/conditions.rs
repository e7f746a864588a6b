//! Every condition on one study world, from one pre-trained decoder: no exposure and
//! in-context scoring, the augmentations (made by the pre-trained model, before any
//! fine-tuning), then the fine-tuning runs, `workers` at a time, each from a clone of the
//! pre-trained weights and each saved as a phase when it finishes.

use std::time::Instant;

use kiln_core::cli::ExperimentError;
use kiln_core::lm::LmEngine;
use kiln_core::nn::{Decoder, DecoderConfig};
use kiln_core::train::{PhaseStore, derive_seed};
use serde::{Deserialize, Serialize};

use super::config::ExperimentConfig;
use crate::augment::{AugKind, AugQuality, augment, quality};
use crate::corpus::Doc;
use crate::eval::{ItemResult, evaluate};
use crate::finetune::{Condition, FinetuneLog, finetune, split_sentences};
use crate::study::StudySet;
use crate::vocab::Vocab;

/// One condition's outcome on one study world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionRun {
    /// The condition.
    pub condition: Condition,
    /// Every test item's outcome.
    pub items: Vec<ItemResult>,
    /// The fine-tuning run, for the conditions that fine-tune.
    pub finetune: Option<FinetuneLog>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The augmentations of one study world and how good they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Augmentations {
    /// Local, global and oracle documents.
    pub docs: Vec<(AugKind, Vec<Doc>)>,
    /// Their quality against the symbolic world.
    pub quality: Vec<(AugKind, AugQuality)>,
}

/// Everything measured on one study world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    /// The study-world seed.
    pub seed: u64,
    /// One entry per condition of the config, in its order.
    pub conditions: Vec<ConditionRun>,
    /// Augmentation quality (the documents are not kept in the results).
    pub augment_quality: Vec<(AugKind, AugQuality)>,
}

/// What every study world shares.
pub struct Setting<'a> {
    /// The run's configuration.
    pub config: &'a ExperimentConfig,
    /// The vocabulary.
    pub vocab: &'a Vocab,
    /// The pre-trained decoder (on an autodiff device).
    pub pretrained: &'a Decoder,
    /// Its shape.
    pub decoder_config: &'a DecoderConfig,
}

/// Runs every condition of the config on the study world of `seed`.
///
/// # Errors
/// If scoring, augmentation or fine-tuning fails, or a phase cannot be saved.
pub fn run_seed(
    s: &Setting<'_>,
    seed: u64,
    phases: &mut PhaseStore,
) -> Result<SeedRun, ExperimentError> {
    let failed =
        |e: &dyn std::fmt::Display| ExperimentError::failed("icl-generalization", e.to_string());
    let study = StudySet::generate(
        &s.config.world,
        &s.config.study,
        s.vocab,
        derive_seed(seed, "study-world"),
    )?;
    let engine = LmEngine::from_decoder(s.pretrained, s.decoder_config);
    let augmentations = phases.run(&format!("seed{seed}/augment"), || {
        make_augmentations(s, &engine, &study, seed)
    })?;
    let mut runs = Vec::new();
    let mut jobs = Vec::new();
    for &condition in &s.config.conditions {
        let name = format!("seed{seed}/{}", condition.name());
        match condition {
            Condition::Pretrained | Condition::Icl => {
                let contexts = (condition == Condition::Icl).then_some(study.contexts.as_slice());
                runs.push(phases.run(&name, || {
                    let started = Instant::now();
                    let items =
                        evaluate(&engine, &study.tests, contexts).map_err(|e| failed(&e))?;
                    Ok::<_, ExperimentError>(ConditionRun {
                        condition,
                        items,
                        finetune: None,
                        seconds: started.elapsed().as_secs_f64(),
                    })
                })?);
            }
            _ => jobs.push((
                name,
                (condition, training_docs(condition, &study, &augmentations)),
            )),
        }
    }
    let finetuned = phases.run_parallel(jobs, s.config.workers, |(condition, docs)| {
        let started = Instant::now();
        let (model, log) = finetune(s.pretrained.clone(), &docs, &s.config.finetune, derive_seed(seed, condition.name()))?;
        let tuned = LmEngine::from_decoder(&model, s.decoder_config);
        let items = evaluate(&tuned, &study.tests, None).map_err(|e| failed(&e))?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "icl-generalization: seed {seed}: {} fine-tuned {} steps on {} examples (final epoch loss {:.3}) in {seconds:.0} s",
            condition.name(),
            log.steps,
            log.examples,
            log.epoch_losses.last().copied().unwrap_or(f64::NAN)
        );
        Ok::<_, ExperimentError>(ConditionRun { condition, items, finetune: Some(log), seconds })
    })?;
    runs.extend(finetuned);
    // Back into the config's order.
    runs.sort_by_key(|r| s.config.conditions.iter().position(|c| *c == r.condition));
    Ok(SeedRun {
        seed,
        conditions: runs,
        augment_quality: augmentations.quality,
    })
}

/// The local, global and oracle augmentations of `study`, by the pre-trained `engine`.
fn make_augmentations(
    s: &Setting<'_>,
    engine: &LmEngine,
    study: &StudySet,
    seed: u64,
) -> Result<Augmentations, ExperimentError> {
    let mut docs = Vec::new();
    for kind in [AugKind::Local, AugKind::Global, AugKind::Oracle] {
        let started = Instant::now();
        let made = augment(engine, study, kind, s.vocab, &s.config.augment)
            .map_err(|e| ExperimentError::failed("icl-generalization", e.to_string()))?;
        eprintln!(
            "icl-generalization: seed {seed}: {kind:?} augmentation in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        docs.push((kind, made));
    }
    let quality = docs
        .iter()
        .map(|(k, d)| (*k, quality(d, study, s.vocab)))
        .collect();
    Ok(Augmentations { docs, quality })
}

/// What a fine-tuning condition trains on: the documents, split, or with augmentations.
fn training_docs(condition: Condition, study: &StudySet, aug: &Augmentations) -> Vec<Doc> {
    match condition {
        Condition::FtSplit(mode) => split_sentences(&study.train_docs, mode),
        Condition::FtAug(kind) => {
            let extra = aug
                .docs
                .iter()
                .filter(|(k, _)| *k == kind)
                .flat_map(|(_, d)| d.iter().cloned());
            study.train_docs.iter().cloned().chain(extra).collect()
        }
        _ => study.train_docs.clone(),
    }
}

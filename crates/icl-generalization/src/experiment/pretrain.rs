//! Pre-training the decoder from scratch on the world stream, with the gate: in-context
//! reversal and syllogism accuracy on fresh random study worlds, measured every `eval_every`
//! steps. The run stops at the step budget, or as soon as the gate passes when
//! `stop_at_gate` is set.

use std::time::Instant;

use burn::prelude::*;
use kiln_core::lm::{LmEngine, LmError};
use kiln_core::nn::{Decoder, DecoderConfig};
use kiln_core::train::{LmTrainer, WarmupCosine, derive_seed, flat};
use serde::{Deserialize, Serialize};

use super::config::ExperimentConfig;
use crate::batch::batch_masked;
use crate::corpus::{Doc, WorldSampler};
use crate::eval::{SplitScores, evaluate, summarise};
use crate::study::{Split, StudySet};
use crate::vocab::Vocab;

/// One gate evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatePoint {
    /// Steps taken.
    pub step: usize,
    /// Mean training loss since the last point (none at step 0).
    pub train_loss: Option<f64>,
    /// In-context accuracy per split on the gate worlds.
    pub icl: SplitScores,
    /// Whether the gate passes here.
    pub passed: bool,
}

/// What pre-training produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pretrained {
    /// The gate curve.
    pub curve: Vec<GatePoint>,
    /// Steps taken.
    pub steps: usize,
    /// Documents (and tokens) trained on.
    pub documents: usize,
    /// Tokens trained on.
    pub tokens: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The weights, flattened in module order (kiln-core's `flat_params`).
    pub weights: Vec<f32>,
}

impl Pretrained {
    /// Whether the last gate evaluation passed.
    pub fn passed(&self) -> bool {
        self.curve.last().is_some_and(|p| p.passed)
    }

    /// The decoder, rebuilt from the saved weights on `device`.
    pub fn decoder(&self, config: &DecoderConfig, device: &Device) -> Decoder {
        let mut rest = self.weights.as_slice();
        flat::map_flat(config.init(device), |_, tensor| {
            let n = tensor.dims()[0];
            let (head, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            Tensor::from_data(
                TensorData::new(head.to_vec(), [head.len()]),
                &tensor.device(),
            )
        })
    }
}

/// The gate's fresh study worlds (their own seed stream, never a study seed).
pub fn gate_worlds(
    config: &ExperimentConfig,
    vocab: &Vocab,
) -> Result<Vec<StudySet>, kiln_core::InvalidConfig> {
    (0..config.gate.worlds)
        .map(|i| {
            StudySet::generate(
                &config.world,
                &config.study,
                vocab,
                derive_seed(i as u64, "gate-world"),
            )
        })
        .collect()
}

/// In-context accuracy on `worlds`, and whether it passes the gate.
///
/// # Errors
/// If a prompt does not fit the engine.
pub fn gate(
    config: &ExperimentConfig,
    engine: &LmEngine,
    worlds: &[StudySet],
) -> Result<(SplitScores, bool), LmError> {
    let mut results = Vec::new();
    for w in worlds {
        results.extend(evaluate(engine, &w.tests, Some(&w.contexts))?);
    }
    let scores = summarise(&results);
    let acc = |s: Split| scores.get(&s).map_or(0.0, |x| x.accuracy);
    let passed = acc(Split::Reversal) >= config.gate.reversal
        && acc(Split::Syllogism) >= config.gate.syllogism;
    Ok((scores, passed))
}

/// Pre-trains `model` on `sampler`'s stream.
///
/// # Errors
/// If a gate prompt does not fit the model.
pub fn pretrain(
    config: &ExperimentConfig,
    decoder_config: &DecoderConfig,
    mut model: Decoder,
    mut sampler: WorldSampler,
    gate_sets: &[StudySet],
) -> Result<Pretrained, LmError> {
    let p = config.pretrain;
    let started = Instant::now();
    let mut trainer = LmTrainer::new(
        WarmupCosine {
            peak: p.lr,
            min: p.lr * p.min_lr_fraction,
            warmup: p.warmup,
            total: p.steps,
        },
        p.weight_decay,
    );
    let device = model.embedding.weight.device();
    let (mut curve, mut losses, mut tokens) = (Vec::new(), Vec::new(), 0);
    let mut step = 0;
    loop {
        if step % p.eval_every == 0 || step == p.steps {
            let engine = LmEngine::from_decoder(&model, decoder_config);
            let (icl, passed) = gate(config, &engine, gate_sets)?;
            let train_loss =
                (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64);
            log_point(
                step,
                p.steps,
                train_loss,
                &icl,
                started.elapsed().as_secs_f64(),
            );
            curve.push(GatePoint {
                step,
                train_loss,
                icl,
                passed,
            });
            losses.clear();
            if step == p.steps || (passed && p.stop_at_gate) {
                break;
            }
        }
        let docs: Vec<Doc> = (0..p.batch_size)
            .map(|_| next_fitting(&mut sampler, decoder_config.max_len))
            .collect();
        let sequences: Vec<Vec<u32>> = docs.iter().map(Doc::sequence).collect();
        tokens += sequences.iter().map(Vec::len).sum::<usize>();
        let masks: Vec<Vec<bool>> = docs.iter().map(Doc::inference_targets).collect();
        let trained = (!config.world.loss_on_facts).then_some(masks.as_slice());
        let (next, loss) = trainer.step(model, &batch_masked(&sequences, trained, &device));
        model = next;
        losses.push(loss);
        step += 1;
    }
    Ok(Pretrained {
        curve,
        steps: step,
        documents: step * p.batch_size,
        tokens,
        seconds: started.elapsed().as_secs_f64(),
        weights: flat::flat_params(&model)
            .into_iter()
            .flat_map(|p| kiln_core::host_values(p.value))
            .collect(),
    })
}

/// The next document that fits the decoder (a longer one, rare with the shipped configs, is
/// skipped rather than cut, so no document loses its questions).
fn next_fitting(sampler: &mut WorldSampler, max_len: usize) -> Doc {
    loop {
        let doc = sampler.next_doc();
        if doc.tokens().len() + 2 <= max_len {
            return doc;
        }
    }
}

fn log_point(step: usize, total: usize, loss: Option<f64>, icl: &SplitScores, seconds: f64) {
    let acc = |s: Split| icl.get(&s).map_or(f64::NAN, |x| 100.0 * x.accuracy);
    eprintln!(
        "icl-generalization: pretrain step {step}/{total} ({seconds:.0} s): loss {}, in-context reversal {:.0} %, syllogism {:.0} %, inheritance {:.0} %",
        loss.map_or("–".to_string(), |l| format!("{l:.3}")),
        acc(Split::Reversal),
        acc(Split::Syllogism),
        acc(Split::Inheritance),
    );
}

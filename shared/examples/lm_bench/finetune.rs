//! Fine-tuning steps on SmolLM2 in Burn (flex backend, autodiff): LoRA and full fine-tuning,
//! one AdamW step on 8 sequences of 128 tokens, with its time and peak memory.

use std::time::Instant;

use burn::prelude::*;
use kiln_core::gguf::{GgufFile, load_llama};
use kiln_core::nn::Decoder;
use kiln_core::train::{FineTuning, LmBatch, LmTrainer, LoraConfig, PeakAlloc, WarmupCosine};

/// Sequences and tokens per sequence of the timed step.
const ROWS: usize = 8;
const LEN: usize = 128;

/// One fine-tuning step measurement.
pub struct StepRow {
    /// What was trained.
    pub name: String,
    /// Best wall time of one step.
    pub seconds: f64,
    /// Peak bytes above the loaded model, from preparing it through its first step
    /// (adapters, optimizer moments, gradients and activations).
    pub peak_bytes: Option<usize>,
}

/// Times LoRA (rank 8 on every projection) and full fine-tuning, best of `repeats` steps after
/// a first one that also sets up the optimizer state.
pub fn step_rows(
    file: &GgufFile,
    tokens: &[u32],
    repeats: usize,
    alloc: &PeakAlloc,
) -> anyhow::Result<Vec<StepRow>> {
    let device = Device::default().autodiff();
    let (base, _) = load_llama(file, LEN + 1, &device)?;
    kiln_core::train::materialize(&base);
    let batch = batch(tokens, &device);
    let ways = [
        (
            "LoRA step, r = 8 on every projection",
            FineTuning::Lora(LoraConfig::all_projections(8)),
        ),
        ("full fine-tuning step", FineTuning::Full),
    ];
    let mut rows = Vec::new();
    for (name, how) in ways {
        let ((mut model, mut trainer), peak_bytes) = alloc.measure(|| {
            let model = how.prepare(base.clone()).expect("valid LoRA settings");
            let mut trainer = LmTrainer::new(WarmupCosine::constant(1e-4), 0.0);
            let (model, _) = trainer.step(model, &batch);
            (model, trainer)
        });
        let mut seconds = f64::INFINITY;
        for _ in 0..repeats.max(1) {
            let started = Instant::now();
            model = step(&mut trainer, model, &batch);
            seconds = seconds.min(started.elapsed().as_secs_f64());
        }
        eprintln!(
            "{name}: {seconds:.2} s, peak {:.2} GB",
            peak_bytes.unwrap_or(0) as f64 / 1e9
        );
        rows.push(StepRow {
            name: name.into(),
            seconds,
            peak_bytes,
        });
    }
    Ok(rows)
}

fn step(trainer: &mut LmTrainer, model: Decoder, batch: &LmBatch) -> Decoder {
    trainer.step(model, batch).0
}

/// `ROWS` windows of the text, `LEN` tokens each, every target counted.
fn batch(tokens: &[u32], device: &Device) -> LmBatch {
    let window = |offset: usize| -> Vec<i64> {
        (0..ROWS)
            .flat_map(|r| {
                tokens[r * 7 + offset..r * 7 + offset + LEN]
                    .iter()
                    .map(|&t| i64::from(t))
            })
            .collect()
    };
    let ids =
        |offset| Tensor::<2, Int>::from_data(TensorData::new(window(offset), [ROWS, LEN]), device);
    LmBatch {
        tokens: ids(0),
        targets: ids(1),
        loss_mask: Tensor::ones([ROWS, LEN], device),
        segments: None,
    }
}

/// Prints the fine-tuning table.
pub fn print_steps(rows: &[StepRow]) {
    println!();
    println!("| fine-tuning, {ROWS} × {LEN} tokens | seconds per step | tokens/s | peak memory |");
    println!("|---|---|---|---|");
    for r in rows {
        let peak = r
            .peak_bytes
            .map_or("–".into(), |b| format!("{:.2} GB", b as f64 / 1e9));
        println!(
            "| {} | {:.2} | {:.0} | {peak} |",
            r.name,
            r.seconds,
            (ROWS * LEN) as f64 / r.seconds
        );
    }
}

//! LoRA fine-tuning of SmolLM2-135M-Instruct on CPU, on facts it cannot know: invented people
//! and the invented cities they were born in. Recall is measured before and after training, on
//! the questions trained and on the same facts asked in a wording never trained.
//!
//! ```sh
//! cargo xtask data fetch smollm2
//! cargo run --release -p kiln-core --features reproduce --example lora_facts
//! ```
//!
//! Options: `--facts N` (default 24), `--steps N` (default 60), `--rank R` (default 16, on
//! every projection), `--lr X` (peak AdamW rate, default 2e-3), `--save PATH` (write the
//! trained adapters), `--model PATH` (another Llama GGUF file).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::*;
use kiln_core::data::text::Tokenizer;
use kiln_core::gguf::{BpeTokenizer, GgufFile, load_llama};
use kiln_core::lm::{GenerateOptions, LmEngine, Request};
use kiln_core::nn::{Decoder, DecoderConfig};
use kiln_core::train::{
    LmBatch, LmTrainer, LoraConfig, SeededRng, WarmupCosine, attach_lora, save_trainable,
};

/// Facts per optimizer step.
const BATCH: usize = 8;

struct Options {
    facts: usize,
    steps: usize,
    rank: usize,
    lr: f64,
    save: Option<PathBuf>,
    model: Option<PathBuf>,
}

/// One invented fact as token ids: the trained question, the untrained wording, the answer.
struct Fact {
    text: String,
    asked: Vec<u32>,
    reworded: Vec<u32>,
    answer: Vec<u32>,
}

/// Recall of a model: exact greedy answers and the mean per-token log-probability of the
/// answer, for the trained wording and the other one.
struct Recall {
    exact: [usize; 2],
    logprob: [f64; 2],
}

fn main() -> std::process::ExitCode {
    kiln_core::cli::exit_code(run())
}

fn run() -> anyhow::Result<()> {
    let options = parse_args()?;
    let path = match &options.model {
        Some(path) => path.clone(),
        None => kiln_core::data::dataset_dir("smollm2")?.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    };
    let file = GgufFile::read(&path)?;
    let tokenizer = BpeTokenizer::from_gguf(&file)?;
    let facts = invent_facts(options.facts, &tokenizer);
    println!("facts, e.g. «{}»", facts[0].text);
    let device = Device::default().autodiff();
    device.seed(0);
    let (base, config) = load_llama(&file, 64, &device)?;
    let before = recall(&base, &config, &facts)?;
    let lora = LoraConfig::all_projections(options.rank);
    let mut model = attach_lora(base, &lora)?;
    let mut trainer = LmTrainer::new(
        WarmupCosine {
            peak: options.lr,
            min: options.lr / 10.0,
            warmup: 5,
            total: options.steps,
        },
        0.0,
    );
    let mut rng = SeededRng::new(1);
    let mut order = Vec::new();
    let started = Instant::now();
    for step in 0..options.steps {
        if order.len() < BATCH {
            order.extend(rng.permutation(facts.len()));
        }
        let picked: Vec<&Fact> = order.drain(..BATCH).map(|i| &facts[i]).collect();
        let (next, loss) = trainer.step(model, &answer_batch(&picked, &device));
        model = next;
        if step % 10 == 0 || step + 1 == options.steps {
            eprintln!(
                "step {step:>3}: answer loss {loss:.3} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let after = recall(&model, &config, &facts)?;
    if let Some(path) = &options.save {
        save_trainable(&model, path)?;
        println!("adapters written to {}", path.display());
    }
    report(&options, &facts, &before, &after, train_seconds);
    Ok(())
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        facts: 24,
        steps: 60,
        rank: 16,
        lr: 2e-3,
        save: None,
        model: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--facts" => options.facts = value("--facts")?.parse()?,
            "--steps" => options.steps = value("--steps")?.parse()?,
            "--rank" => options.rank = value("--rank")?.parse()?,
            "--lr" => options.lr = value("--lr")?.parse()?,
            "--save" => options.save = Some(PathBuf::from(value("--save")?)),
            "--model" => options.model = Some(PathBuf::from(value("--model")?)),
            other => bail!(
                "unknown option {other}; usage: lora_facts [--facts N] [--steps N] [--rank R] [--lr X] [--save PATH] [--model PATH]"
            ),
        }
    }
    if options.facts < BATCH {
        bail!("--facts must be at least the batch of {BATCH}");
    }
    if options.steps == 0 {
        bail!("--steps must be at least 1");
    }
    Ok(options)
}

/// `n` people with invented two-part names, each born in an invented city; no name repeats.
fn invent_facts(n: usize, tokenizer: &BpeTokenizer) -> Vec<Fact> {
    const SYLLABLES: [&str; 20] = [
        "ka", "lor", "vem", "dri", "sul", "tha", "mor", "quen", "bra", "zil", "fen", "oru", "tav",
        "nek", "isk", "pel", "gor", "ual", "syn", "bex",
    ];
    let mut rng = SeededRng::new(7);
    let mut word = |parts: usize| {
        let mut w: String = (0..parts)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        w[..1].make_ascii_uppercase();
        w
    };
    let mut seen = std::collections::HashSet::new();
    let mut facts = Vec::with_capacity(n);
    while facts.len() < n {
        let (person, city) = (format!("{} {}", word(2), word(3)), word(3));
        if !seen.insert(person.clone()) {
            continue;
        }
        facts.push(Fact {
            text: format!("{person} was born in {city}."),
            asked: tokenizer.encode(&format!("Q: Where was {person} born?\nA:")),
            reworded: tokenizer
                .encode(&format!("Q: Which city is the birthplace of {person}?\nA:")),
            answer: tokenizer.encode(&format!(" {city}.")),
        });
    }
    facts
}

/// Question and answer per row, padded on the right; the loss counts the answer tokens only.
fn answer_batch(facts: &[&Fact], device: &Device) -> LmBatch {
    let rows: Vec<Vec<u32>> = facts
        .iter()
        .map(|f| f.asked.iter().chain(&f.answer).copied().collect())
        .collect();
    let t = rows.iter().map(Vec::len).max().unwrap_or(1) - 1;
    let (mut tokens, mut targets, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for (row, fact) in rows.iter().zip(facts) {
        let answer_from = fact.asked.len() - 1;
        for i in 0..t {
            let known = i + 1 < row.len();
            tokens.push(i64::from(row.get(i).copied().unwrap_or(0)));
            targets.push(i64::from(if known { row[i + 1] } else { 0 }));
            mask.push(if known && i >= answer_from {
                1.0f32
            } else {
                0.0
            });
        }
    }
    let b = facts.len();
    LmBatch {
        tokens: Tensor::from_data(TensorData::new(tokens, [b, t]), device),
        targets: Tensor::from_data(TensorData::new(targets, [b, t]), device),
        loss_mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
        segments: None,
    }
}

/// Recall through the inference engine (the LoRA update merged into its weights).
fn recall(model: &Decoder, config: &DecoderConfig, facts: &[Fact]) -> anyhow::Result<Recall> {
    let engine = LmEngine::from_decoder(model, config);
    let mut out = Recall {
        exact: [0; 2],
        logprob: [0.0; 2],
    };
    let wordings: [fn(&Fact) -> &Vec<u32>; 2] = [|f| &f.asked, |f| &f.reworded];
    for (k, prompt_of) in wordings.into_iter().enumerate() {
        let requests: Vec<Request> = facts
            .iter()
            .map(|f| Request {
                prompt: prompt_of(f).clone(),
                max_new_tokens: f.answer.len(),
                seed: 0,
            })
            .collect();
        let generated = engine.generate(&requests, &GenerateOptions::default())?;
        out.exact[k] = generated
            .iter()
            .zip(facts)
            .filter(|(g, f)| g.tokens == f.answer)
            .count();
        let mut total = 0.0;
        for f in facts {
            let score = &engine.score(prompt_of(f), std::slice::from_ref(&f.answer))?[0];
            total += score.total() / f.answer.len() as f64;
        }
        out.logprob[k] = total / facts.len() as f64;
    }
    Ok(out)
}

fn report(options: &Options, facts: &[Fact], before: &Recall, after: &Recall, seconds: f64) {
    let n = facts.len();
    println!(
        "\nLoRA r = {} on every projection, {} steps of {BATCH} facts, {:.0} s of training ({:.2} s/step)\n",
        options.rank,
        options.steps,
        seconds,
        seconds / options.steps as f64
    );
    println!(
        "| {n} invented facts | exact answers, before | after | mean log p per answer token, before | after |"
    );
    println!("|---|---|---|---|---|");
    for (k, name) in ["trained question", "question reworded (never trained)"]
        .iter()
        .enumerate()
    {
        println!(
            "| {name} | {}/{n} | {}/{n} | {:.2} | {:.2} |",
            before.exact[k], after.exact[k], before.logprob[k], after.logprob[k]
        );
    }
}

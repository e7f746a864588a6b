//! Text from SmolLM2-135M-Instruct (or any Llama GGUF file) on the shared decoder.
//!
//! ```sh
//! cargo xtask data fetch smollm2
//! cargo run --release -p kiln-core --example generate -- "The capital of France is"
//! cargo run --release -p kiln-core --example generate -- --chat "Name three colours."
//! ```
//!
//! Options: `--chat` wraps the prompt in the model's ChatML template; `--max-new N` (default 40);
//! `--temperature T` samples instead of greedy decoding; `--model PATH` picks another file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::*;
use kiln_core::data::text::Tokenizer;
use kiln_core::gguf::{BpeTokenizer, ChatMessage, GgufFile, chat_prompt, load_llama};
use kiln_core::nn::Sampling;

fn main() -> std::process::ExitCode {
    kiln_core::cli::exit_code(run())
}

fn run() -> anyhow::Result<()> {
    let (mut prompt, mut chat, mut max_new, mut temperature, mut model) =
        (None, false, 40usize, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--chat" => chat = true,
            "--max-new" => max_new = value("--max-new")?.parse()?,
            "--temperature" => temperature = Some(value("--temperature")?.parse::<f64>()?),
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            flag if flag.starts_with("--") => bail!("unknown option {flag}"),
            text => prompt = Some(text.to_string()),
        }
    }
    let prompt =
        prompt.context("usage: generate [--chat] [--max-new N] [--temperature T] \"prompt\"")?;
    let path = match model {
        Some(path) => path,
        None => kiln_core::data::dataset_dir("smollm2")?.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    };
    let started = Instant::now();
    let file = GgufFile::read(&path)?;
    let tokenizer = BpeTokenizer::from_gguf(&file)?;
    let text = if chat {
        let user = ChatMessage {
            role: "user".into(),
            content: prompt,
        };
        chat_prompt(&file, &[user])?
    } else {
        prompt
    };
    let ids = tokenizer.encode(&text);
    if ids.is_empty() {
        bail!("the prompt is empty: give some text to continue");
    }
    let device = Device::default();
    let (model, config) = load_llama(&file, ids.len() + max_new, &device)?;
    if ids.len() + max_new > config.max_len {
        bail!(
            "{} prompt tokens + {max_new} new ones exceed the model's context of {}",
            ids.len(),
            config.max_len
        );
    }
    eprintln!(
        "loaded {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let sampling = match temperature {
        Some(temperature) => Sampling::Temperature {
            temperature,
            seed: 0,
        },
        None => Sampling::Greedy,
    };
    let started = Instant::now();
    let mut out = model.generate(&ids, max_new, sampling, true, &device);
    let seconds = started.elapsed().as_secs_f64();
    // Stop at the end of the reply.
    let stop = [
        tokenizer.specials().eos,
        tokenizer.id("<|im_end|>").unwrap_or(u32::MAX),
    ];
    if let Some(end) = out[ids.len()..].iter().position(|t| stop.contains(t)) {
        out.truncate(ids.len() + end);
    }
    println!("{}{}", text, tokenizer.decode(&out[ids.len()..]));
    eprintln!(
        "{max_new} tokens in {seconds:.1} s ({:.1} tokens/s)",
        max_new as f64 / seconds
    );
    Ok(())
}

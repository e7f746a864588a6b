//! Text from SmolLM2-135M-Instruct (or any Llama GGUF file) on the inference engine
//! ([`kiln_core::lm::LmEngine`]), the weights kept in their quantised blocks.
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
use kiln_core::data::text::Tokenizer;
use kiln_core::gguf::{BpeTokenizer, ChatMessage, GgufFile, chat_prompt};
use kiln_core::lm::{GenerateOptions, LmEngine, Request, Sampler};

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
            "--temperature" => temperature = Some(value("--temperature")?.parse::<f32>()?),
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
    let engine = LmEngine::from_gguf(&file, ids.len() + max_new)?;
    eprintln!(
        "loaded {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let sampler = match temperature {
        Some(t) => Sampler::temperature(t),
        None => Sampler::greedy(),
    };
    // Stop at the end of the reply.
    let stop_tokens = vec![
        tokenizer.specials().eos,
        tokenizer.id("<|im_end|>").unwrap_or(u32::MAX),
    ];
    let request = Request {
        prompt: ids,
        max_new_tokens: max_new,
        seed: 0,
    };
    let options = GenerateOptions {
        sampler,
        stop_tokens: stop_tokens.clone(),
    };
    let started = Instant::now();
    let mut out = engine.generate(&[request], &options)?.remove(0);
    let seconds = started.elapsed().as_secs_f64();
    let generated = out.tokens.len();
    if out.tokens.last().is_some_and(|t| stop_tokens.contains(t)) {
        out.tokens.pop();
    }
    println!("{}{}", text, tokenizer.decode(&out.tokens));
    eprintln!(
        "{generated} tokens in {seconds:.2} s ({:.1} tokens/s, prefill included)",
        generated as f64 / seconds
    );
    Ok(())
}

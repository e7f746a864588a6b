//! SmolLM2-135M-Instruct on the shared decoder: the GGUF loader, the tokenizer and generation
//! against the real file. Needs it, so ignored by default: `cargo xtask data fetch smollm2 &&
//! cargo xtask data fetch brown`, then
//! `cargo test --release -p kiln-core --test pretrained -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::time::Instant;

use burn::prelude::*;
use kiln_core::data::corpus::read_brown;
use kiln_core::data::dataset_dir;
use kiln_core::data::text::Tokenizer;
use kiln_core::gguf::{BpeTokenizer, ChatMessage, GgufFile, chat_prompt, load_llama};
use kiln_core::nn::{Decoder, Sampling};
use kiln_core::train::masked_cross_entropy;

fn model_file() -> GgufFile {
    let dir = dataset_dir("smollm2").expect("`cargo xtask data fetch smollm2`");
    GgufFile::read(&dir.join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap()
}

/// Mean next-token loss (nats) of `model` on `ids`.
fn loss(model: &Decoder, ids: &[u32], device: &Device) -> f64 {
    let n = ids.len() - 1;
    let tensor = |v: &[u32]| {
        let v: Vec<i64> = v.iter().map(|&i| i64::from(i)).collect();
        Tensor::<2, Int>::from_data(TensorData::new(v, [1, n]), device)
    };
    let logits = model.forward(tensor(&ids[..n]), None, None, false).logits;
    let mask = Tensor::<2>::ones([1, n], device);
    masked_cross_entropy(logits, tensor(&ids[1..]), mask).into_scalar::<f64>()
}

#[test]
#[ignore = "needs `cargo xtask data fetch smollm2`"]
fn greedy_generation_is_coherent_english() {
    let file = model_file();
    let tokenizer = BpeTokenizer::from_gguf(&file).unwrap();
    let device = Device::default();
    let (model, _) = load_llama(&file, 128, &device).unwrap();
    // The tokenizer cuts a plain sentence into the pieces the vocabulary has for it.
    let ids = tokenizer.encode("The capital of France is");
    let pieces: Vec<&str> = ids.iter().map(|&i| tokenizer.token(i).unwrap()).collect();
    assert_eq!(pieces, vec!["The", "Ġcapital", "Ġof", "ĠFrance", "Ġis"]);
    let started = Instant::now();
    let out = model.generate(&ids, 24, Sampling::Greedy, true, &device);
    let seconds = started.elapsed().as_secs_f64();
    let text = tokenizer.decode(&out[ids.len()..]);
    eprintln!("plain: {text:?} ({:.1} tokens/s)", 24.0 / seconds);
    assert!(text.contains("Paris"), "{text}");
    let prompt = chat_prompt(
        &file,
        &[ChatMessage {
            role: "user".into(),
            content: "Name three colours of the rainbow.".into(),
        }],
    )
    .unwrap();
    let ids = tokenizer.encode(&prompt);
    let out = model.generate(&ids, 32, Sampling::Greedy, true, &device);
    let reply = tokenizer.decode(&out[ids.len()..]);
    eprintln!("chat: {reply:?}");
    let letters = reply
        .chars()
        .filter(|c| c.is_ascii_alphabetic() || *c == ' ')
        .count();
    assert!(
        letters * 10 >= reply.chars().count() * 7,
        "mostly words: {reply:?}"
    );
    let lower = reply.to_lowercase();
    let colours = [
        "red", "orange", "yellow", "green", "blue", "indigo", "violet",
    ];
    assert!(
        colours.iter().filter(|c| lower.contains(*c)).count() >= 2,
        "{reply:?}"
    );
}

#[test]
#[ignore = "needs `cargo xtask data fetch smollm2` and `cargo xtask data fetch brown`"]
fn brown_text_is_far_more_likely_under_the_pretrained_model() {
    let file = model_file();
    let tokenizer = BpeTokenizer::from_gguf(&file).unwrap();
    let brown = kiln_core::data::brown_tarball().unwrap();
    let text = read_brown(&brown).unwrap()[0].text.clone();
    assert_eq!(
        tokenizer.decode(&tokenizer.encode(&text)),
        text,
        "round trip"
    );
    let ids: Vec<u32> = tokenizer.encode(&text).into_iter().take(256).collect();
    let device = Device::default();
    let (model, config) = load_llama(&file, 256, &device).unwrap();
    device.seed(0);
    let untrained = config.init(&device);
    let (trained_loss, untrained_loss) =
        (loss(&model, &ids, &device), loss(&untrained, &ids, &device));
    eprintln!(
        "Brown ca01, 256 tokens: perplexity {:.1} pretrained vs {:.0} untrained",
        trained_loss.exp(),
        untrained_loss.exp()
    );
    assert!(
        untrained_loss > 10.0,
        "untrained ≈ ln 49152 = 10.8: {untrained_loss}"
    );
    assert!(
        trained_loss < untrained_loss - 5.0,
        "{trained_loss} vs {untrained_loss}"
    );
}

#[test]
#[ignore = "needs `cargo xtask data fetch smollm2` and `cargo xtask data fetch brown`"]
fn the_engine_keeps_the_quantised_weights_and_computes_the_same_model() {
    use kiln_core::lm::{GenerateOptions, LmEngine, Request};
    let file = model_file();
    let tokenizer = BpeTokenizer::from_gguf(&file).unwrap();
    let engine = LmEngine::from_gguf(&file, 512).unwrap();
    let device = Device::default();
    let (model, _) = load_llama(&file, 512, &device).unwrap();
    // Same greedy continuation as the Burn decoder with its dequantised weights.
    let ids = tokenizer.encode("The capital of France is");
    let request = Request {
        prompt: ids.clone(),
        max_new_tokens: 24,
        seed: 0,
    };
    let started = Instant::now();
    let ours = engine
        .generate(&[request], &GenerateOptions::default())
        .unwrap()
        .remove(0);
    let seconds = started.elapsed().as_secs_f64();
    let reference = model.generate(&ids, 24, Sampling::Greedy, true, &device);
    eprintln!(
        "engine: {:?} ({:.1} tokens/s)",
        tokenizer.decode(&ours.tokens),
        24.0 / seconds
    );
    assert_eq!(ours.tokens, reference[ids.len()..]);
    // Same perplexity on Brown ca01's first 256 tokens.
    let brown = kiln_core::data::brown_tarball().unwrap();
    let text = read_brown(&brown).unwrap()[0].text.clone();
    let ids: Vec<u32> = tokenizer.encode(&text).into_iter().take(256).collect();
    let score = engine.score(&ids[..1], &[ids[1..].to_vec()]).unwrap();
    let engine_loss = -score[0].total() / 255.0;
    let burn_loss = loss(&model, &ids, &device);
    eprintln!(
        "Brown ca01 perplexity: engine {:.2}, Burn decoder {:.2}",
        engine_loss.exp(),
        burn_loss.exp()
    );
    assert!(
        (engine_loss - burn_loss).abs() < 1e-3,
        "{engine_loss} vs {burn_loss}"
    );
}

//! The byte-level BPE tokenizer read from a GGUF vocabulary.

use super::*;
use crate::data::text::Tokenizer;
use crate::gguf::tokenizer::{BpeTokenizer, ChatMessage, chat_prompt, pre_tokenize};

fn strings(items: &[&str]) -> MetaValue {
    MetaValue::Array(items.iter().map(|s| MetaValue::Str((*s).into())).collect())
}

/// A vocabulary of every byte (GPT-2's alphabet), a few merges, and two control tokens.
fn tokenizer() -> (BpeTokenizer, GgufFile) {
    let alphabet: Vec<String> = (0..=255u8)
        .map(|b| {
            let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
            if printable {
                char::from(b).to_string()
            } else {
                let skipped = (0..b)
                    .filter(|&x| !matches!(x, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF))
                    .count() as u32;
                char::from_u32(256 + skipped).unwrap().to_string()
            }
        })
        .collect();
    let mut tokens: Vec<&str> = vec!["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    tokens.extend(alphabet.iter().map(String::as_str));
    tokens.extend(["Ġt", "he", "Ġthe", "Ġc", "Ġca", "Ġcat"]);
    let mut types = vec![MetaValue::U32(3); 3];
    types.extend(std::iter::repeat_n(MetaValue::U32(1), tokens.len() - 3));
    let bytes = write(
        &[
            ("tokenizer.ggml.model", MetaValue::Str("gpt2".into())),
            ("tokenizer.ggml.tokens", strings(&tokens)),
            ("tokenizer.ggml.token_type", MetaValue::Array(types)),
            ("tokenizer.ggml.merges", strings(&["Ġ t", "h e", "Ġt he", "Ġ c", "Ġc a", "Ġca t"])),
            ("tokenizer.ggml.bos_token_id", MetaValue::U32(1)),
            ("tokenizer.ggml.eos_token_id", MetaValue::U32(2)),
            (
                "tokenizer.chat_template",
                MetaValue::Str(
                    "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nBe brief.<|im_end|>\n' }}{% endif %}..."
                        .into(),
                ),
            ),
        ],
        &[],
    );
    let file = GgufFile::parse(bytes).unwrap();
    (BpeTokenizer::from_gguf(&file).unwrap(), file)
}

#[test]
fn merges_apply_by_rank_and_any_text_round_trips() {
    let (t, _) = tokenizer();
    let ids = t.encode(" the cat");
    let pieces: Vec<&str> = ids.iter().map(|&i| t.token(i).unwrap()).collect();
    assert_eq!(pieces, vec!["Ġthe", "Ġcat"]);
    for text in [
        "",
        "The cat's 42 naïve cafés!\n\n  end  ",
        "\u{1F600} tabs\tand\r\nCRLF",
    ] {
        assert_eq!(t.decode(&t.encode(text)), text, "{text:?}");
    }
    assert_eq!(t.specials().bos, 1);
}

#[test]
fn control_tokens_are_single_ids_and_chat_prompts_use_them() {
    let (t, file) = tokenizer();
    let ids = t.encode("<|im_start|>user\nhi<|im_end|>");
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&2));
    assert_eq!(t.decode(&ids), "<|im_start|>user\nhi<|im_end|>");
    let prompt = chat_prompt(
        &file,
        &[ChatMessage {
            role: "user".into(),
            content: "hi".into(),
        }],
    )
    .unwrap();
    assert_eq!(
        prompt,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
    let own_system = ChatMessage {
        role: "system".into(),
        content: "Be long.".into(),
    };
    let prompt = chat_prompt(&file, &[own_system]).unwrap();
    assert!(!prompt.contains("Be brief."), "{prompt}");
}

#[test]
fn pre_tokenizer_cuts_like_gpt2_with_single_digits() {
    assert_eq!(
        pre_tokenize("Hello world's 2024 end!!  ok\n"),
        vec![
            "Hello", " world", "'s", " ", "2", "0", "2", "4", " end", "!!", " ", " ok", "\n"
        ]
    );
}

//! The byte-level BPE tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.model =
//! "gpt2"`: GPT-2, SmolLM2, Llama 3), and the ChatML chat format of SmolLM2.
//!
//! Encoding, as GPT-2 does it:
//! 1. control tokens written in the text (`<|im_start|>`, …) become their ids;
//! 2. the rest is cut into words by a hand-written version of the pre-tokenizer regex
//!    (each digit alone, as SmolLM2's `smollm` pre-tokenizer does; contractions; an optional
//!    space and a run of letters; an optional space and a run of other symbols; whitespace);
//! 3. each word's UTF-8 bytes are mapped to printable characters (GPT-2's byte alphabet) and
//!    merged pairwise, lowest merge rank first, until no listed merge applies.
//!
//! Decoding maps each token back through the byte alphabet, so `decode(encode(s)) == s` for any
//! text whatever the pre-tokenizer does; where our pre-tokenizer cuts differently from the
//! reference one (rare Unicode classes), the ids differ but remain a valid encoding.

use std::collections::HashMap;

use super::{GgufError, GgufFile, MetaValue};
use crate::data::text::{Specials, Tokenizer};

/// GGUF token type of control tokens (`<|im_start|>`, `<|endoftext|>`, …).
const CONTROL: u64 = 3;

/// A byte-level BPE tokenizer.
#[derive(Debug, Clone)]
pub struct BpeTokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    control: Vec<(String, u32)>,
    byte_char: [char; 256],
    char_byte: HashMap<char, u8>,
    specials: Specials,
}

/// GPT-2's map from bytes to printable characters: printable Latin-1 bytes stand for
/// themselves, the other 68 bytes for the characters from U+0100 on, in byte order.
fn byte_alphabet() -> [char; 256] {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut map = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        map[b as usize] = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or('\u{FFFD}');
            next += 1;
            c
        };
    }
    map
}

impl BpeTokenizer {
    /// The tokenizer of `file`.
    ///
    /// # Errors
    /// If the file has no `gpt2`-style tokenizer or its tables are malformed.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, GgufError> {
        let model = file.meta_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(GgufError::Malformed(format!(
                "tokenizer model `{model}` is not byte-level BPE (`gpt2`)"
            )));
        }
        let strings = |key: &str| -> Result<Vec<String>, GgufError> {
            file.meta(key)
                .and_then(MetaValue::as_array)
                .and_then(|a| a.iter().map(|v| v.as_str().map(String::from)).collect())
                .ok_or_else(|| GgufError::MissingKey {
                    key: key.to_string(),
                    expected: "an array of strings",
                })
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, merge) in merges.iter().enumerate() {
            let (a, b) = merge.split_once(' ').ok_or_else(|| {
                GgufError::Malformed(format!("merge {rank} `{merge}` is not two symbols"))
            })?;
            ranks.insert((a.to_string(), b.to_string()), rank);
        }
        let types: Vec<u64> = file
            .meta("tokenizer.ggml.token_type")
            .and_then(MetaValue::as_array)
            .map(|a| a.iter().filter_map(MetaValue::as_u64).collect())
            .unwrap_or_default();
        let mut control: Vec<(String, u32)> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == CONTROL)
            .filter_map(|(i, _)| Some((tokens.get(i)?.clone(), i as u32)))
            .filter(|(s, _)| !s.is_empty())
            .collect();
        // Longest first, so that a control token is never cut by a shorter one it contains.
        control.sort_by_key(|c| std::cmp::Reverse(c.0.len()));
        let id = |key: &str| file.meta_u64(key).ok().map(|v| v as u32);
        let bos = id("tokenizer.ggml.bos_token_id").unwrap_or(0);
        let eos = id("tokenizer.ggml.eos_token_id").unwrap_or(bos);
        let pad = id("tokenizer.ggml.padding_token_id").unwrap_or(eos);
        let byte_char = byte_alphabet();
        Ok(Self {
            ids: tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i as u32))
                .collect(),
            tokens,
            ranks,
            control,
            char_byte: byte_char
                .iter()
                .enumerate()
                .map(|(b, &c)| (c, b as u8))
                .collect(),
            byte_char,
            specials: Specials { bos, eos, pad },
        })
    }

    /// The token string of `id` (in the byte alphabet), if there is one.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a token string (a control token such as `<|im_end|>`, say).
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Ids of one pre-tokenized word.
    fn encode_word(&self, word: &str, out: &mut Vec<u32>) {
        let mut symbols: Vec<String> = word
            .bytes()
            .map(|b| self.byte_char[b as usize].to_string())
            .collect();
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, pair)| {
                    self.ranks
                        .get(&(pair[0].clone(), pair[1].clone()))
                        .map(|&rank| (rank, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = symbols.remove(i + 1);
            symbols[i].push_str(&right);
        }
        for symbol in symbols {
            match self.ids.get(&symbol) {
                Some(&id) => out.push(id),
                // Every single byte is in a byte-level vocabulary; fall back to bytes anyway.
                None => out.extend(symbol.chars().filter_map(|c| self.ids.get(&c.to_string()))),
            }
        }
    }
}

/// Cuts text into words the way GPT-2's pre-tokenizer regex does, with every digit alone
/// (SmolLM2's `smollm` pre-tokenizer).
pub fn pre_tokenize(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let offset = |i: usize| chars.get(i).map_or(text.len(), |c| c.0);
    let is_other = |c: char| !c.is_whitespace() && !c.is_alphabetic() && !c.is_numeric();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let run = |mut j: usize, pred: &dyn Fn(char) -> bool| {
            while at(j).is_some_and(pred) {
                j += 1;
            }
            j
        };
        let end = if c.is_numeric() {
            i + 1
        } else if let Some(len) = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
            .iter()
            .find(|s| text[offset(i)..].starts_with(*s))
            .map(|s| s.len())
        {
            i + len
        } else if c.is_alphabetic() || (c == ' ' && at(i + 1).is_some_and(char::is_alphabetic)) {
            run(i + 1, &|c: char| c.is_alphabetic())
        } else if is_other(c) || (c == ' ' && at(i + 1).is_some_and(is_other)) {
            run(i + 1, &is_other)
        } else {
            // Whitespace: all of it if it ends the text or a digit follows; otherwise leave
            // the last character to start the next word (`\s+(?!\S)`).
            let j = run(i, &|c: char| c.is_whitespace());
            let next_is_word = at(j).is_some_and(|c| !c.is_numeric());
            if next_is_word && j - i > 1 { j - 1 } else { j }
        };
        words.push(&text[offset(i)..offset(end)]);
        i = end;
    }
    words
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            // The earliest control token in what is left, if any.
            let next = self
                .control
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
            let (plain, control) = match next {
                Some((at, len, id)) => (&rest[..at], Some((len, id))),
                None => (rest, None),
            };
            for word in pre_tokenize(plain) {
                self.encode_word(word, &mut out);
            }
            match control {
                Some((len, id)) => {
                    out.push(id);
                    rest = &rest[plain.len() + len..];
                }
                None => break,
            }
        }
        out
    }

    fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(token) = self.token(id) else {
                continue;
            };
            if self.control.iter().any(|(_, c)| *c == id) {
                bytes.extend(token.as_bytes());
                continue;
            }
            for c in token.chars() {
                match self.char_byte.get(&c) {
                    Some(&b) => bytes.push(b),
                    None => bytes.extend(c.to_string().as_bytes()),
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    fn specials(&self) -> Specials {
        self.specials
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub content: String,
}

/// The ChatML prompt of SmolLM2's chat template: the template's default system message when
/// the conversation does not start with one, each message as
/// `<|im_start|>{role}\n{content}<|im_end|>\n`, then `<|im_start|>assistant\n` for the reply.
///
/// # Errors
/// If the file's template (`tokenizer.chat_template`) is not ChatML.
pub fn chat_prompt(file: &GgufFile, messages: &[ChatMessage]) -> Result<String, GgufError> {
    let template = file.meta_str("tokenizer.chat_template")?;
    if !template.contains("<|im_start|>") {
        return Err(GgufError::Malformed(
            "the chat template is not ChatML (`<|im_start|>`), the only one this library renders"
                .into(),
        ));
    }
    // The template writes a literal system turn when the first message is not one.
    const SYSTEM: &str = "'<|im_start|>system\n";
    let default_system = template.find(SYSTEM).and_then(|i| {
        let rest = &template[i + SYSTEM.len()..];
        rest.find("<|im_end|>").map(|j| &rest[..j])
    });
    let mut prompt = String::new();
    if let Some(system) =
        default_system.filter(|_| messages.first().is_some_and(|m| m.role != "system"))
    {
        prompt.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
    }
    for m in messages {
        prompt.push_str(&format!(
            "<|im_start|>{}\n{}<|im_end|>\n",
            m.role, m.content
        ));
    }
    prompt.push_str("<|im_start|>assistant\n");
    Ok(prompt)
}

//! Text for language models: byte and word tokenizers, and packing documents into
//! fixed-length training windows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::InvalidConfig;
use crate::nn::SHARED_SEGMENT;

/// Ids of the special tokens every tokenizer reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specials {
    /// Beginning of sequence, ⟨bos⟩.
    pub bos: u32,
    /// End of document, ⟨eos⟩.
    pub eos: u32,
    /// Padding (never a training target).
    pub pad: u32,
}

/// Text ↔ token ids.
pub trait Tokenizer {
    /// Token ids of `text` (no special tokens added).
    fn encode(&self, text: &str) -> Vec<u32>;
    /// Text of `ids`; special tokens are dropped.
    fn decode(&self, ids: &[u32]) -> String;
    /// Number of ids, specials included.
    fn vocab_size(&self) -> usize;
    /// The special tokens.
    fn specials(&self) -> Specials;
}

/// UTF-8 bytes as tokens 0–255, then ⟨bos⟩ 256, ⟨eos⟩ 257, ⟨pad⟩ 258. Loses nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteTokenizer;

impl Tokenizer for ByteTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }

    fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().filter_map(|&i| u8::try_from(i).ok()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn vocab_size(&self) -> usize {
        259
    }

    fn specials(&self) -> Specials {
        Specials {
            bos: 256,
            eos: 257,
            pad: 258,
        }
    }
}

/// Lower-cased words and single punctuation marks; the `max_words` most frequent of a corpus
/// are tokens (ties broken alphabetically), the rest map to ⟨unk⟩. Decoding joins with spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordTokenizer {
    words: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl WordTokenizer {
    /// Splits text into lower-case words and punctuation marks.
    pub fn split(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut word = String::new();
        for c in text.chars() {
            if c.is_alphanumeric() || c == '\'' {
                word.extend(c.to_lowercase());
            } else {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if !c.is_whitespace() {
                    out.push(c.to_string());
                }
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    }

    /// The vocabulary of the `max_words` most frequent words of `corpus`.
    pub fn fit(corpus: &str, max_words: usize) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for w in Self::split(corpus) {
            *counts.entry(w).or_default() += 1;
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let words: Vec<String> = ranked.into_iter().take(max_words).map(|(w, _)| w).collect();
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Self { words, index }
    }

    /// A vocabulary of exactly `words`, in order (word `i` has id `i`), for a language whose
    /// words are known in advance (a synthetic world). Words are stored as [`split`](Self::split)
    /// would produce them, so each must be a single lower-case word or punctuation mark.
    ///
    /// # Errors
    /// If a word is repeated, or is not one token of [`split`](Self::split), with that word.
    pub fn from_words(words: Vec<String>) -> Result<Self, InvalidConfig> {
        let mut index = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            crate::ensure_config!(
                Self::split(w) == [w.clone()],
                "{w:?} is not a single lower-case word or mark"
            );
            crate::ensure_config!(
                index.insert(w.clone(), i as u32).is_none(),
                "{w:?} appears twice in the vocabulary"
            );
        }
        Ok(Self { words, index })
    }

    /// The id of `word`, if it is in the vocabulary.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// Id of words not in the vocabulary.
    pub fn unknown(&self) -> u32 {
        self.words.len() as u32
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        Self::split(text)
            .into_iter()
            .map(|w| self.index.get(&w).copied().unwrap_or(self.unknown()))
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .filter_map(|&i| match self.words.get(i as usize) {
                Some(w) => Some(w.as_str()),
                None if i == self.unknown() => Some("<unk>"),
                None => None,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn vocab_size(&self) -> usize {
        self.words.len() + 4
    }

    fn specials(&self) -> Specials {
        let n = self.words.len() as u32;
        Specials {
            bos: n + 1,
            eos: n + 2,
            pad: n + 3,
        }
    }
}

/// Where ⟨bos⟩ goes when documents are packed (the attention-sink paper's Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BosMode {
    /// ⟨bos⟩ starts every document; documents run on across windows.
    BosPerDoc,
    /// ⟨bos⟩ at position 0 of every window, ⟨eos⟩ after every document.
    FixedBos,
    /// No ⟨bos⟩; ⟨eos⟩ after every document.
    NoBos,
}

/// One training window: inputs, next-token targets, document ids and which targets count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Input ids, `window` long.
    pub tokens: Vec<u32>,
    /// The id that follows each input.
    pub targets: Vec<u32>,
    /// Document index of each input; [`SHARED_SEGMENT`] for a window's pinned ⟨bos⟩, which every
    /// document may attend to.
    pub segments: Vec<usize>,
    /// Whether each target is trained on: a real token of the input's own document (not
    /// padding, not an inserted ⟨bos⟩, not the start of the next document).
    pub loss_mask: Vec<bool>,
}

/// Packs documents into windows of `window` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packer {
    /// Window length `T`.
    pub window: usize,
    /// ⟨bos⟩ placement.
    pub mode: BosMode,
    /// Special token ids.
    pub specials: Specials,
}

impl Packer {
    /// Packs `docs` (token ids without specials) in order; the last window is padded.
    ///
    /// # Panics
    /// If the window cannot hold a token besides a pinned ⟨bos⟩ (`window < 2` with
    /// [`BosMode::FixedBos`], `window < 1` otherwise).
    pub fn pack(&self, docs: &[Vec<u32>]) -> Vec<Window> {
        let pinned = usize::from(self.mode == BosMode::FixedBos);
        assert!(
            self.window > pinned,
            "a {:?} window needs at least {} tokens, got {}",
            self.mode,
            pinned + 1,
            self.window
        );
        let Specials { bos, eos, pad } = self.specials;
        // The stream of (token, document) pairs, specials included.
        let mut stream: Vec<(u32, usize)> = Vec::new();
        for (d, doc) in docs.iter().enumerate() {
            if self.mode == BosMode::BosPerDoc {
                stream.push((bos, d));
            }
            stream.extend(doc.iter().map(|&t| (t, d)));
            if self.mode != BosMode::BosPerDoc {
                stream.push((eos, d));
            }
        }
        // Each window takes `window − pinned + 1` stream items: inputs plus one more target.
        let take = self.window - pinned;
        let mut windows = Vec::new();
        let mut start = 0;
        while start < stream.len().saturating_sub(1) || (windows.is_empty() && !stream.is_empty()) {
            let end = (start + take + 1).min(stream.len());
            let mut items: Vec<(u32, usize)> = Vec::with_capacity(self.window + 1);
            if pinned == 1 {
                items.push((bos, SHARED_SEGMENT));
            }
            items.extend_from_slice(&stream[start..end]);
            items.resize(self.window + 1, (pad, usize::MAX - 1));
            let mut w = Window {
                tokens: Vec::with_capacity(self.window),
                targets: Vec::with_capacity(self.window),
                segments: Vec::with_capacity(self.window),
                loss_mask: Vec::with_capacity(self.window),
            };
            for pair in items.windows(2) {
                let ((input, seg), (target, target_seg)) = (pair[0], pair[1]);
                w.tokens.push(input);
                w.targets.push(target);
                w.segments.push(seg);
                let same_doc = target_seg == seg || seg == SHARED_SEGMENT;
                w.loss_mask
                    .push(target != pad && target != bos && same_doc && input != pad);
            }
            windows.push(w);
            start += take;
        }
        windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_tokenizer_round_trips_any_text() {
        let text = "Sinks on ⟨bos⟩ — naïve café, 100%!";
        let t = ByteTokenizer;
        assert_eq!(t.decode(&t.encode(text)), text);
        assert_eq!(t.encode("A"), vec![65]);
    }

    #[test]
    fn the_word_tokenizer_round_trips_its_vocabulary() {
        let corpus = "the cat sat on the mat. the end";
        let words = WordTokenizer::fit(corpus, 100);
        assert_eq!(words.decode(&words.encode("The cat sat.")), "the cat sat .");
        assert_eq!(words.encode("the")[0], 0, "most frequent word gets id 0");
        assert_eq!(words.encode("dog"), vec![words.unknown()]);
        assert_eq!(
            WordTokenizer::split("Don't stop!"),
            vec!["don't", "stop", "!"]
        );
    }

    fn specials() -> Specials {
        Specials {
            bos: 100,
            eos: 101,
            pad: 102,
        }
    }

    fn docs() -> Vec<Vec<u32>> {
        vec![vec![1, 2, 3], vec![4, 5], vec![6, 7, 8, 9]]
    }

    #[test]
    fn fixed_bos_windows_start_with_bos_and_mask_cross_document_targets() {
        let packer = Packer {
            window: 4,
            mode: BosMode::FixedBos,
            specials: specials(),
        };
        let windows = packer.pack(&docs());
        // Stream: 1 2 3 eos 4 5 eos 6 7 8 9 eos, three stream items per window after the ⟨bos⟩.
        assert_eq!(windows[0].tokens, vec![100, 1, 2, 3]);
        assert_eq!(windows[0].targets, vec![1, 2, 3, 101]);
        assert_eq!(windows[1].tokens, vec![100, 101, 4, 5]);
        assert_eq!(windows[1].targets, vec![101, 4, 5, 101]);
        for w in &windows {
            assert_eq!(w.tokens[0], 100, "every window starts with ⟨bos⟩");
            assert_eq!(w.segments[0], SHARED_SEGMENT);
            assert_eq!((w.tokens.len(), w.targets.len()), (4, 4));
        }
        // Window 1: ⟨bos⟩→eos(doc 0) is fine for the shared ⟨bos⟩; eos(doc 0)→4 crosses documents.
        assert_eq!(windows[1].loss_mask, vec![true, false, true, true]);
        // The last window is padded and padding is never a target.
        let last = windows.last().unwrap();
        assert!(last.targets.contains(&102));
        for (t, &m) in last.targets.iter().zip(&last.loss_mask) {
            assert!(*t != 102 || !m);
        }
    }

    #[test]
    #[should_panic(expected = "needs at least 2 tokens")]
    fn a_fixed_bos_window_of_one_token_is_refused() {
        Packer {
            window: 1,
            mode: BosMode::FixedBos,
            specials: specials(),
        }
        .pack(&docs());
    }

    #[test]
    fn bos_per_doc_and_no_bos_streams() {
        let per_doc = Packer {
            window: 5,
            mode: BosMode::BosPerDoc,
            specials: specials(),
        }
        .pack(&docs());
        assert_eq!(per_doc[0].tokens, vec![100, 1, 2, 3, 100]);
        // Targets: 1 2 3 ⟨bos⟩ 4. Predicting the next document's ⟨bos⟩ is masked; its ⟨bos⟩
        // predicting that document's first token is trained.
        assert_eq!(per_doc[0].targets, vec![1, 2, 3, 100, 4]);
        assert_eq!(
            per_doc[0].loss_mask,
            vec![true, true, true, false, true],
            "⟨bos⟩ is never a target"
        );
        let no_bos = Packer {
            window: 5,
            mode: BosMode::NoBos,
            specials: specials(),
        }
        .pack(&docs());
        assert_eq!(no_bos[0].tokens, vec![1, 2, 3, 101, 4]);
        assert!(no_bos.iter().all(|w| !w.tokens.contains(&100)));
        // Every real token of the stream appears as an input exactly once across windows.
        let inputs: Vec<u32> = no_bos
            .iter()
            .flat_map(|w| w.tokens.clone())
            .filter(|&t| t != 102)
            .collect();
        assert_eq!(inputs, vec![1, 2, 3, 101, 4, 5, 101, 6, 7, 8, 9, 101]);
    }
}

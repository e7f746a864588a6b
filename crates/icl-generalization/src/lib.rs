//! # kiln-icl-generalization: in-context learning against fine-tuning
//!
//! Lampinen, Chaudhry, Chan, Wild, Wan, Ku, Bornschein, Pascanu, Shanahan, McClelland (2025),
//! *On the generalization of language models from in-context learning and finetuning: a
//! controlled study*, arXiv 2505.00661.
//!
//! The paper's question: after learning new facts, can a language model use them flexibly:
//! reverse them, chain them in a syllogism, apply a category's properties to its members?
//! Fine-tuning on the facts mostly fails at this (the reversal curse), while the same facts in
//! the context window generalise well; and fine-tuning on the model's *own in-context
//! inferences* about the training data recovers much of the gap (§3–4).
//!
//! ## The data (§2)
//!
//! Worlds of nonsense words ([`vocab`]), so that nothing could have been learned before:
//! comparisons (`femp are more dangerous than glon .`), premise pairs of syllogisms
//! (`all glon are yomp . all troff are glon .`) and small category hierarchies with
//! properties ([`world`]). A [`StudySet`] is one fixed world: its fine-tuning documents state
//! every fact forward only, and its test items ([`Split`]) ask for
//!
//! ```text
//! reversal          femp are more F than glon   ⊢  glon are less F than femp    (vs its contradiction)
//! syllogism         all A are B, all B are C    ⊢  all A are C                  (vs what does not follow)
//! rephrase          glon are a type of femp     ⊢  all glon are femp            (vs a hard distractor)
//! hier. reversal    glon are a type of femp     ⊢  femp include glon
//! inheritance       glon ⊂ femp, femp have zept ⊢  glon have zept
//! category holdout  the same, for a category whose only trained fact is its parent
//! ```
//!
//! ## The evaluation (§2)
//!
//! Multiple choice by likelihood ([`eval`]): with `x = ⟨bos⟩ [context] ⟨q⟩` and candidates
//! `c`, the answer is `argmax_c Σ_j log p(c_j | x, c_{<j})`; the options are never shown.
//!
//! ## The conditions (§3)
//!
//! No exposure, in-context (the world's document in `x`), fine-tuning on the documents, on
//! their sentences one by one, and on the documents plus augmentations: the model's own
//! in-context reversals and rephrasings of each sentence (local), its inferences about each
//! document with the rest in context (global), or the symbolic ones (the oracle).
//!
//! ## Use
//!
//! ```
//! use kiln_icl_generalization::{Split, StudySet, corpus::WorldSampler};
//! # use kiln_icl_generalization::{corpus::WorldConfig, study::StudyConfig, world::HierarchyShape};
//! # let hierarchy = HierarchyShape { roots: 2, children: (2, 2), root_properties: (2, 2), child_properties: (1, 2), held_out: 1 };
//! # let config = WorldConfig { n_entities: 100, n_properties: 40, comparisons: (2, 6), syllogisms: (1, 3), hierarchy, doc_mix: [1.0; 3], preamble_rate: 0.5, probe_rate: 0.3, questions: (2, 5), global_rate: 0.3, vocab_seed: 0, loss_on_facts: true };
//! # let sizes = StudyConfig { comparisons: 12, comparisons_per_world: 6, syllogisms: 6, syllogisms_per_world: 3, hierarchies: 1, hierarchy, variants: 2 };
//! let vocab = config.vocab()?;
//! let study = StudySet::generate(&config, &sizes, &vocab, 7)?;
//! assert_eq!(study.items_of(Split::Reversal).count(), 12);
//! let mut pretraining = WorldSampler::new(config, 1)?.excluding(&study.worlds);
//! println!("{}", vocab.decode(&pretraining.next_doc().sequence()));
//! # Ok::<(), kiln_core::InvalidConfig>(())
//! ```

pub mod augment;
pub mod batch;
pub mod corpus;
pub mod eval;
#[cfg(feature = "reproduce")]
pub mod experiment;
pub mod export;
pub mod finetune;
pub mod statement;
pub mod study;
pub mod syllogism;
pub mod vocab;
pub mod world;

pub use augment::{AugConfig, AugKind, augment};
pub use corpus::{Doc, WorldConfig, WorldSampler};
pub use eval::{ItemResult, SplitScore, SplitScores, evaluate, summarise};
pub use export::to_jsonl;
pub use finetune::{Condition, FinetuneConfig, SplitMode, finetune, split_sentences};
pub use study::{McItem, Split, StudyConfig, StudySet};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

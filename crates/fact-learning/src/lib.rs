//! # kiln-fact-learning: how language models learn facts
//!
//! Zucchet, Bornschein, Chan, Lampinen, Pascanu, De (2025), *How do language models learn
//! facts? Dynamics, curricula and hallucinations*, arXiv 2503.21676 (COLM 2025).
//!
//! A decoder trained on synthetic biographies learns in three phases (§2.1): it first learns
//! the marginal distribution of each attribute, then sits on a plateau at exactly the loss of
//! a model that knows nothing about individuals, and only then starts recalling facts about
//! people. The plateau grows with the number of people; unbalanced data shortens it (§3);
//! once knowledge emerges the model hallucinates confident values for people it has never
//! seen (§4.1); and fine-tuning on new people quickly corrupts what it knew (§4.2).
//!
//! ## The data (App. B.2)
//!
//! `N` people, each with a unique three-part name and six attributes ([`Attribute`]): birth
//! place, birth date (month, day, year: three tokens), current location, university, major and
//! company, each value drawn uniformly from its list ([`ListSizes`]). Every attribute has 25
//! templates; each person is trained on 20 and evaluated on the other 5. A training sequence
//! is a fresh [`Biography`]: ⟨bos⟩ and one sentence per attribute in random order, with the
//! name repeated in each ([`World::biography`]). Who the sequence is about is drawn from an
//! [`IndividualDist`] ([`sampling`]): uniform, a power law `p_i ∝ i^(−α)`, a warm-up curriculum
//! or fine-tuning with replay.
//!
//! ## The measures (App. B.3)
//!
//! With `V_a` the values attribute `a` can take and `span(b, a)` the value tokens of
//! attribute `a` in sequence `b` ([`metrics`]):
//!
//! ```text
//! L₀ = (1/6) Σ_a ln |V_a|                                no-knowledge baseline
//! L  = (1/6B) Σ_{b,a} Σ_{p ∈ span(b,a)} −log p(x_p)     attribute loss (a sum over a value's tokens)
//! A  = (1/6B) Σ_{b,a} 1[argmax is right at every p ∈ span(b,a)]      attribute accuracy
//! plateau end = min { t : L_t < L₀ − δ }                 our definition, δ reported
//! ```
//!
//! With the CPU lists `L₀ = (2 ln 64 + ln 32 + ln 32 + ln 48 + ln(100·12·28)) / 6 = 4.924`
//! nats; with the paper's, 6.785.
//!
//! ## Attention patching (§2.2, App. D.1)
//!
//! [`AttentionPatcher`] runs a model with a reference model's attention maps in place of its
//! own, through kiln-core's [`Decoder::forward_with_attention`](kiln_core::nn::Decoder::forward_with_attention):
//! the experiment that shows recall circuits form during the plateau.
//!
//! ## Use
//!
//! ```
//! use burn::prelude::*;
//! use kiln_core::train::SeededRng;
//! use kiln_fact_learning::{BioBatch, BioConfig, IndividualDist, Population, TemplateSet, World};
//!
//! let world = World::new(BioConfig::CPU)?;
//! assert!((kiln_fact_learning::no_knowledge_baseline(&world) - 4.924).abs() < 1e-3);
//! let population = Population::generate(&world, 64, 7)?;
//! let sampler = IndividualDist::PowerLaw { alpha: 0.8 }.sampler(population.len(), 8)?;
//! let mut rng = SeededRng::new(1);
//! let people = (0..8).map(|_| sampler.draw(0, &mut rng)).collect();
//! let batch = BioBatch::of_people(&world, &population, people, TemplateSet::Train, &mut rng, &Device::default());
//! assert_eq!(batch.spans.len(), 6 * 8);
//! # Ok::<(), kiln_core::InvalidConfig>(())
//! ```

pub mod batch;
#[cfg(feature = "reproduce")]
pub mod experiment;
pub mod metrics;
pub mod patching;
pub mod sampling;
pub mod world;

pub use batch::BioBatch;
pub use metrics::{
    PowerLawFit, attribute_loss_and_accuracy, confidence_stats, fit_power_law,
    no_knowledge_baseline, plateau_end,
};
pub use patching::AttentionPatcher;
pub use sampling::{IndividualDist, IndividualSampler};
pub use world::{
    Attribute, BioConfig, Biography, Individual, ListSizes, Population, TemplateSet, ValueLists,
    ValueSpan, World,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

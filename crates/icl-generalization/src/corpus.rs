//! Documents, and the pre-training stream ([`WorldSampler`]): every document is a fresh random
//! mini-world, so no entity keeps a fact from one document to the next, and the only thing
//! that can be learned is how to reason over what the document itself states.
//!
//! A pre-training document (the loss covers every token):
//!
//! ```text
//! ⟨bos⟩ [preamble] fact .  [⟨rev⟩ reversal . | ⟨para⟩ rephrasing .]  …      the body
//!       ⟨q⟩ inference .  ⟨q⟩ inference .  …                                  questions
//!       [⟨sep⟩ fact . fact . ⟨infer⟩ inference . …]  ⟨eos⟩                     global section
//! ```
//!
//! A probe (⟨rev⟩, ⟨para⟩) right after a sentence restates *that* sentence, which is what local
//! augmentation asks of the model later; a question states any entailed statement about the
//! body, which is what the test items score; the global section restates some facts and lists
//! inferences that use them, which is what global augmentation asks for.

use std::collections::HashSet;

use kiln_core::InvalidConfig;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::statement::{Sentence, Statement};
use crate::vocab::{BOS, EOS, INFER, PARA, PREAMBLES, Q, REV, SEP, Token, Vocab};
use crate::world::{Derivation, Draw, Family, HierarchyShape, MiniWorld, world_links};

/// A document: its sentences' tokens, in order, without ⟨bos⟩ or ⟨eos⟩.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    /// One token list per sentence (a probe or question counts as one, marker included).
    pub sentences: Vec<Vec<Token>>,
}

impl Doc {
    /// All tokens, in order.
    pub fn tokens(&self) -> Vec<Token> {
        self.sentences.concat()
    }

    /// `⟨bos⟩ tokens ⟨eos⟩`, a training sequence.
    pub fn sequence(&self) -> Vec<Token> {
        let mut t = vec![BOS];
        t.extend(self.tokens());
        t.push(EOS);
        t
    }

    /// For each *target* of [`sequence`](Self::sequence) (each token after ⟨bos⟩), whether it
    /// is trained when the stated facts are not: false for the tokens of body sentences (the
    /// sentences before the first question or global section that do not start with a
    /// marker), true for probes, questions, global sections and ⟨eos⟩. The stated facts are
    /// random draws, so their tokens carry no signal a model could learn beyond frequencies.
    pub fn inference_targets(&self) -> Vec<bool> {
        let mut out = Vec::new();
        let mut body = true;
        for s in &self.sentences {
            let marker = s
                .first()
                .is_some_and(|&t| t < crate::vocab::SPECIALS.len() as Token);
            if s.first().is_some_and(|&t| t == Q || t == SEP) {
                body = false;
            }
            out.extend(std::iter::repeat_n(marker || !body, s.len()));
        }
        out.push(true);
        out
    }
}

/// How pre-training worlds are drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldConfig {
    /// Entity words in the vocabulary.
    pub n_entities: usize,
    /// Property words in the vocabulary.
    pub n_properties: usize,
    /// Facts per comparison document (inclusive range).
    pub comparisons: (usize, usize),
    /// Premise pairs per syllogism document (inclusive range).
    pub syllogisms: (usize, usize),
    /// Shape of the hierarchy documents.
    pub hierarchy: HierarchyShape,
    /// Relative frequency of comparison, syllogism and hierarchy documents.
    pub doc_mix: [f64; 3],
    /// Chance that a body sentence has a preamble.
    pub preamble_rate: f64,
    /// Chance that a body sentence is followed by a ⟨rev⟩ or ⟨para⟩ probe.
    pub probe_rate: f64,
    /// Questions per document (inclusive range).
    pub questions: (usize, usize),
    /// Chance that a document ends with a global inference section.
    pub global_rate: f64,
    /// Seed of the vocabulary's word assignment.
    pub vocab_seed: u64,
    /// Whether the loss covers the stated facts too, or only what can be inferred from them
    /// ([`Doc::inference_targets`]).
    pub loss_on_facts: bool,
}

impl WorldConfig {
    /// Checks that the ranges are ordered, the rates are probabilities and one world fits in
    /// the vocabulary.
    ///
    /// # Errors
    /// The first problem found, naming the field.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        for (name, (lo, hi)) in [
            ("comparisons", self.comparisons),
            ("syllogisms", self.syllogisms),
            ("questions", self.questions),
            ("hierarchy.children", self.hierarchy.children),
        ] {
            kiln_core::ensure_config!(lo <= hi, "{name}: the range ({lo}, {hi}) is reversed");
        }
        kiln_core::ensure_config!(self.comparisons.0 >= 1, "comparisons: at least 1 fact");
        for (name, p) in [
            ("preamble_rate", self.preamble_rate),
            ("probe_rate", self.probe_rate),
            ("global_rate", self.global_rate),
        ] {
            kiln_core::ensure_config!((0.0..=1.0).contains(&p), "{name} = {p} is not in [0, 1]");
        }
        kiln_core::ensure_config!(
            self.doc_mix.iter().all(|&w| w >= 0.0) && self.doc_mix.iter().sum::<f64>() > 0.0,
            "doc_mix {:?} needs non-negative weights, not all zero",
            self.doc_mix
        );
        let h = &self.hierarchy;
        let most = [
            2 * self.comparisons.1,
            3 * self.syllogisms.1,
            h.roots * (1 + h.children.1),
        ];
        let entities = most.into_iter().max().unwrap_or(0);
        kiln_core::ensure_config!(
            entities <= self.n_entities,
            "one world can need {entities} entities but n_entities is {}",
            self.n_entities
        );
        let properties = h.roots * (h.root_properties.1 + h.children.1 * h.child_properties.1);
        kiln_core::ensure_config!(
            properties <= self.n_properties,
            "one hierarchy can need {properties} properties but n_properties is {}",
            self.n_properties
        );
        Ok(())
    }

    /// The vocabulary these worlds are written in.
    ///
    /// # Errors
    /// If the nonsense-word pool is too small.
    pub fn vocab(&self) -> Result<Vocab, InvalidConfig> {
        Vocab::new(self.n_entities, self.n_properties, self.vocab_seed)
    }

    /// A fresh world of `family`.
    pub fn world(&self, family: Family, rng: &mut SeededRng) -> MiniWorld {
        let mut draw = Draw::new(rng, self.n_entities, self.n_properties);
        match family {
            Family::Comparisons => {
                let n = draw.between(self.comparisons.0, self.comparisons.1);
                MiniWorld::comparisons(&mut draw, n)
            }
            Family::Syllogisms => {
                let n = draw.between(self.syllogisms.0, self.syllogisms.1);
                MiniWorld::syllogisms(&mut draw, n)
            }
            Family::Hierarchy => MiniWorld::hierarchy(&mut draw, &self.hierarchy),
        }
    }
}

/// The endless, seeded pre-training stream of documents.
pub struct WorldSampler {
    config: WorldConfig,
    vocab: Vocab,
    rng: SeededRng,
    forbidden: HashSet<(usize, usize)>,
}

impl WorldSampler {
    /// A stream drawn with `seed`.
    ///
    /// # Errors
    /// If `config` is invalid.
    pub fn new(config: WorldConfig, seed: u64) -> Result<Self, InvalidConfig> {
        config.validate()?;
        Ok(Self {
            vocab: config.vocab()?,
            config,
            rng: SeededRng::new(seed),
            forbidden: HashSet::new(),
        })
    }

    /// Never links two words that one of `worlds` links (the contamination guard: a world
    /// that would is drawn again).
    pub fn excluding<'a>(mut self, worlds: impl IntoIterator<Item = &'a MiniWorld>) -> Self {
        for w in worlds {
            self.forbidden
                .extend(world_links(w, self.config.n_entities));
        }
        self
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The next mini-world, of a family drawn by `doc_mix`.
    pub fn next_world(&mut self) -> MiniWorld {
        let families = [Family::Comparisons, Family::Syllogisms, Family::Hierarchy];
        let family = families[self.rng.categorical(&self.config.doc_mix)];
        loop {
            let world = self.config.world(family, &mut self.rng);
            let links = world_links(&world, self.config.n_entities);
            if links.is_disjoint(&self.forbidden) {
                return world;
            }
        }
    }

    /// The next pre-training document.
    pub fn next_doc(&mut self) -> Doc {
        let world = self.next_world();
        render(&world, &self.config, &self.vocab, &mut self.rng)
    }
}

/// A world as a pre-training document (module docs).
pub fn render(world: &MiniWorld, config: &WorldConfig, v: &Vocab, rng: &mut SeededRng) -> Doc {
    let mut sentences = Vec::new();
    for fact in &world.facts {
        let preamble = (rng.next_f64() < config.preamble_rate).then(|| rng.below(PREAMBLES.len()));
        sentences.push(
            Sentence {
                statement: *fact,
                preamble,
            }
            .tokens(v),
        );
        if rng.next_f64() < config.probe_rate {
            let (marker, s) = if rng.below(2) == 0 {
                (REV, fact.reversal())
            } else {
                (PARA, fact.rephrasing())
            };
            if let Some(s) = s {
                sentences.push(marked(marker, &s, v));
            }
        }
    }
    let n = config.questions.0 + rng.below(config.questions.1 - config.questions.0 + 1);
    for s in pick_inferences(world, n, rng) {
        sentences.push(marked(Q, &s, v));
    }
    if rng.next_f64() < config.global_rate {
        sentences.extend(global_section(world, v, rng));
    }
    Doc { sentences }
}

/// `marker statement .` as one sentence.
pub fn marked(marker: Token, statement: &Statement, v: &Vocab) -> Vec<Token> {
    let mut t = vec![marker];
    t.extend(statement.tokens(v));
    t
}

/// Up to `n` distinct derived statements, each drawn by choosing a derivation kind uniformly
/// among those with statements left, then one of them. No question repeats another, so none
/// can be answered by copying an earlier question instead of reasoning over the facts.
fn pick_inferences(world: &MiniWorld, n: usize, rng: &mut SeededRng) -> Vec<Statement> {
    let mut left: Vec<&crate::world::Derived> = world.derived.iter().collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n && !left.is_empty() {
        let mut kinds: Vec<Derivation> = left.iter().map(|d| d.derivation).collect();
        kinds.sort_by_key(|k| *k as usize);
        kinds.dedup();
        let kind = kinds[rng.below(kinds.len())];
        let of_kind: Vec<usize> = (0..left.len())
            .filter(|&i| left[i].derivation == kind)
            .collect();
        out.push(
            left.swap_remove(of_kind[rng.below(of_kind.len())])
                .statement,
        );
    }
    out
}

/// `⟨sep⟩` one to three contiguous facts restated, `⟨infer⟩`, then up to 6 inferences that use them,
/// each a sentence; the section ends the document.
fn global_section(world: &MiniWorld, v: &Vocab, rng: &mut SeededRng) -> Vec<Vec<Token>> {
    let n = world.facts.len();
    let take = 1 + rng.below(n.min(3));
    let start = rng.below(n - take + 1);
    let chosen = start..start + take;
    let mut out = vec![vec![SEP]];
    out.extend(world.facts[chosen.clone()].iter().map(|f| f.tokens(v)));
    out.push(vec![INFER]);
    let mut inferences: Vec<Statement> = world
        .derived
        .iter()
        .filter(|d| d.sources.iter().any(|s| chosen.contains(s)))
        .map(|d| d.statement)
        .collect();
    rng.shuffle(&mut inferences);
    out.extend(inferences.iter().take(6).map(|s| s.tokens(v)));
    out
}

#[cfg(test)]
pub(crate) mod tests;

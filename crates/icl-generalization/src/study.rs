//! The study world: a few fixed mini-worlds of new facts, their fine-tuning documents, the
//! in-context documents, the multiple-choice test items of six splits and the oracle
//! augmentation.
//!
//! - Fine-tuning documents state the facts forward only, each world's facts once per
//!   variant, every sentence after a random preamble.
//! - The in-context document of an item is its world's first variant: the same statements,
//!   about 60–130 tokens, within what pre-training showed (our analogue of the paper's
//!   subsampling of long contexts).
//! - A test item is `⟨bos⟩ [context] ⟨q⟩` followed by each candidate statement; no preamble,
//!   so no item shares its surface template with a training sentence.
//! - Hard distractors are statements of the same template about entities or properties of
//!   the same world that hold the relation to *something else*.

use kiln_core::InvalidConfig;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::corpus::{Doc, WorldConfig};
use crate::statement::{Sentence, Statement};
use crate::vocab::{PREAMBLES, Token, Vocab};
use crate::world::{Derivation, Draw, HierarchyShape, MiniWorld};

/// What a test item measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Split {
    /// A trained hierarchy fact in another template, same direction.
    Rephrase,
    /// A comparison reversed ("glon are less … than femp"), against its contradiction.
    Reversal,
    /// The conclusion of a trained premise pair, among the statements that do not follow.
    Syllogism,
    /// A hierarchy fact reversed ("femp include glon", "zept is found in glon").
    HierReversal,
    /// A property a category has through its parent.
    Inheritance,
    /// A property a held-out category (trained only by its membership) inherits.
    CategoryHoldout,
}

impl Split {
    /// Every split, in report order.
    pub const ALL: [Self; 6] = [
        Self::Reversal,
        Self::Syllogism,
        Self::Rephrase,
        Self::HierReversal,
        Self::Inheritance,
        Self::CategoryHoldout,
    ];

    /// A short name for tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rephrase => "rephrase",
            Self::Reversal => "reversal",
            Self::Syllogism => "syllogism",
            Self::HierReversal => "hier_reversal",
            Self::Inheritance => "inheritance",
            Self::CategoryHoldout => "category_holdout",
        }
    }
}

/// One multiple-choice item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McItem {
    /// Index of its world, whose document is the in-context prompt.
    pub world: usize,
    /// Each candidate statement's tokens.
    pub choices: Vec<Vec<Token>>,
    /// Index of the correct candidate.
    pub answer: usize,
    /// What it measures.
    pub split: Split,
}

/// The sizes of a study world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Comparison facts in all.
    pub comparisons: usize,
    /// Comparison facts per world (document).
    pub comparisons_per_world: usize,
    /// Premise pairs in all.
    pub syllogisms: usize,
    /// Premise pairs per world.
    pub syllogisms_per_world: usize,
    /// Hierarchy worlds.
    pub hierarchies: usize,
    /// Shape of each.
    pub hierarchy: HierarchyShape,
    /// Fine-tuning documents per world (each with fresh preambles).
    pub variants: usize,
}

impl StudyConfig {
    /// Checks that the facts divide into worlds and every world has a document.
    ///
    /// # Errors
    /// The first problem, naming the field.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        for (name, n, each) in [
            ("comparisons", self.comparisons, self.comparisons_per_world),
            ("syllogisms", self.syllogisms, self.syllogisms_per_world),
        ] {
            kiln_core::ensure_config!(
                each > 0 && n.is_multiple_of(each),
                "study.{name}: {n} does not split into worlds of {each}"
            );
        }
        kiln_core::ensure_config!(self.variants >= 1, "study.variants must be at least 1");
        Ok(())
    }

    /// Checks that the vocabulary of `world` has enough words for the whole study (no word is
    /// used twice in one study).
    ///
    /// # Errors
    /// If it does not, with what the study needs.
    pub fn fits(&self, world: &WorldConfig) -> Result<(), InvalidConfig> {
        let h = &self.hierarchy;
        let entities = 2 * self.comparisons
            + 3 * self.syllogisms
            + self.hierarchies * h.roots * (1 + h.children.1);
        let per_hierarchy = h.roots * (h.root_properties.1 + h.children.1 * h.child_properties.1);
        let properties = self.hierarchies * per_hierarchy;
        kiln_core::ensure_config!(
            entities <= world.n_entities && properties <= world.n_properties,
            "the study can need {entities} entities and {properties} properties, but the vocabulary has {} and {}: raise world.n_entities / world.n_properties or shrink the study",
            world.n_entities,
            world.n_properties
        );
        Ok(())
    }
}

/// One study world: everything the conditions train on and are tested with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySet {
    /// The mini-worlds.
    pub worlds: Vec<MiniWorld>,
    /// Fine-tuning documents, `variants` per world, in world order.
    pub train_docs: Vec<Doc>,
    /// The world each training document states.
    pub train_world: Vec<usize>,
    /// The in-context document of each world.
    pub contexts: Vec<Doc>,
    /// The test items.
    pub tests: Vec<McItem>,
    /// Every entailed statement of each world, one sentence each: the oracle augmentation.
    pub oracle_aug: Vec<Doc>,
}

impl StudySet {
    /// The study world drawn with `seed` from the vocabulary of `world`.
    ///
    /// # Errors
    /// If the sizes do not divide into worlds, a world cannot fit in the vocabulary, or a
    /// hierarchy leaves an item without a distractor.
    pub fn generate(
        world: &WorldConfig,
        study: &StudyConfig,
        v: &Vocab,
        seed: u64,
    ) -> Result<Self, InvalidConfig> {
        study.validate()?;
        study.fits(world)?;
        let comparison_worlds = study.comparisons / study.comparisons_per_world;
        let syllogism_worlds = study.syllogisms / study.syllogisms_per_world;
        let mut rng = SeededRng::new(seed);
        let mut worlds = Vec::new();
        // One draw for the whole study, so no entity is shared between its worlds.
        let mut draw = Draw::new(&mut rng, world.n_entities, world.n_properties);
        for _ in 0..comparison_worlds {
            worlds.push(MiniWorld::comparisons(
                &mut draw,
                study.comparisons_per_world,
            ));
        }
        for _ in 0..syllogism_worlds {
            worlds.push(MiniWorld::syllogisms(&mut draw, study.syllogisms_per_world));
        }
        for _ in 0..study.hierarchies {
            worlds.push(MiniWorld::hierarchy(&mut draw, &study.hierarchy));
        }
        let mut set = Self {
            train_docs: Vec::new(),
            train_world: Vec::new(),
            contexts: Vec::new(),
            tests: Vec::new(),
            oracle_aug: Vec::new(),
            worlds: Vec::new(),
        };
        for (i, w) in worlds.iter().enumerate() {
            for variant in 0..study.variants {
                let doc = stated(w, v, &mut rng);
                if variant == 0 {
                    set.contexts.push(doc.clone());
                }
                set.train_docs.push(doc);
                set.train_world.push(i);
            }
            set.tests.extend(items(i, w, v)?);
            set.oracle_aug.push(Doc {
                sentences: w.derived.iter().map(|d| d.statement.tokens(v)).collect(),
            });
        }
        set.worlds = worlds;
        Ok(set)
    }

    /// The test items of `split`.
    pub fn items_of(&self, split: Split) -> impl Iterator<Item = &McItem> {
        self.tests.iter().filter(move |t| t.split == split)
    }
}

/// The world's facts in order, each after a random preamble.
fn stated(w: &MiniWorld, v: &Vocab, rng: &mut SeededRng) -> Doc {
    let sentences = w
        .facts
        .iter()
        .map(|&statement| {
            Sentence {
                statement,
                preamble: Some(rng.below(PREAMBLES.len())),
            }
            .tokens(v)
        })
        .collect();
    Doc { sentences }
}

/// The test items of world `index`.
fn items(index: usize, w: &MiniWorld, v: &Vocab) -> Result<Vec<McItem>, InvalidConfig> {
    let item = |split, correct: Statement, wrong: Vec<Statement>| {
        kiln_core::ensure_config!(
            !wrong.is_empty(),
            "no distractor for a {split:?} item: give the hierarchy more categories or properties"
        );
        let choices = std::iter::once(correct)
            .chain(wrong)
            .map(|s| s.tokens(v))
            .collect();
        Ok(McItem {
            world: index,
            choices,
            answer: 0,
            split,
        })
    };
    let mut out = Vec::new();
    for &fact in &w.facts {
        if let Statement::Compare {
            a,
            feature,
            more,
            b,
        } = fact
        {
            let contradiction = Statement::Compare {
                a: b,
                feature,
                more,
                b: a,
            };
            let reversal = fact.reversal().expect("comparisons reverse");
            out.push(item(Split::Reversal, reversal, vec![contradiction])?);
        }
    }
    for &(form, terms) in &w.forms {
        let mut c = form
            .candidates()
            .into_iter()
            .map(|a| crate::syllogism::bind(a, terms));
        let correct = c.next().expect("the canonical conclusion comes first");
        out.push(item(Split::Syllogism, correct, c.collect())?);
    }
    if !w.tree.is_empty() {
        out.extend(hierarchy_items(w, &item)?);
    }
    Ok(out)
}

type ItemFn<'a> = dyn Fn(Split, Statement, Vec<Statement>) -> Result<McItem, InvalidConfig> + 'a;

/// Rephrasings and reversals of every hierarchy fact, and the inherited properties.
fn hierarchy_items(w: &MiniWorld, item: &ItemFn<'_>) -> Result<Vec<McItem>, InvalidConfig> {
    let h = Hierarchy::of(w);
    let mut out = Vec::new();
    for &fact in &w.facts {
        match fact {
            Statement::IsA { child, parent } => {
                out.extend(h.membership_items(child, parent, item)?)
            }
            Statement::Has { category, property } => {
                out.extend(h.property_items(category, property, item)?);
            }
            _ => {}
        }
    }
    let inherited = w
        .derived
        .iter()
        .filter(|d| d.derivation == Derivation::Inheritance);
    for d in inherited {
        if let Statement::Has { category, property } = d.statement {
            let split = if w.held_out.contains(&category) {
                Split::CategoryHoldout
            } else {
                Split::Inheritance
            };
            let has = |p| Statement::Has {
                category,
                property: p,
            };
            let wrong = h.lacking(category).into_iter().map(has).collect();
            out.push(item(split, has(property), wrong)?);
        }
    }
    Ok(out)
}

/// A hierarchy world's categories, properties and roots, for choosing distractors.
struct Hierarchy<'a> {
    w: &'a MiniWorld,
    categories: Vec<usize>,
    properties: Vec<usize>,
    roots: Vec<usize>,
}

impl<'a> Hierarchy<'a> {
    fn of(w: &'a MiniWorld) -> Self {
        let mut categories = Vec::new();
        for c in w.tree.iter().flat_map(|&(c, p)| [c, p]) {
            if !categories.contains(&c) {
                categories.push(c);
            }
        }
        let mut properties: Vec<usize> = w.properties.iter().map(|&(_, p)| p).collect();
        properties.sort_unstable();
        properties.dedup();
        let roots = categories
            .iter()
            .copied()
            .filter(|&c| w.parent(c).is_none())
            .collect();
        Self {
            w,
            categories,
            properties,
            roots,
        }
    }

    /// Up to three properties of this world that `category` does not have.
    fn lacking(&self, category: usize) -> Vec<usize> {
        let p = self.properties.iter().copied();
        p.filter(|&p| !self.w.has(category, p)).take(3).collect()
    }

    /// `all child are parent` against another root; `parent include child` against other
    /// roots' children.
    fn membership_items(
        &self,
        child: usize,
        parent: usize,
        item: &ItemFn<'_>,
    ) -> Result<Vec<McItem>, InvalidConfig> {
        let all = |b| Statement::Quantified {
            q: crate::statement::Quantifier::All,
            a: child,
            b,
        };
        let other_root = self.roots.iter().copied().filter(|&r| r != parent).take(1);
        let rephrase = item(Split::Rephrase, all(parent), other_root.map(all).collect())?;
        let include = |c| Statement::Includes { parent, child: c };
        let foreign = self
            .w
            .tree
            .iter()
            .filter(|&&(_, p)| p != parent)
            .map(|&(c, _)| c)
            .take(3);
        let reversal = item(
            Split::HierReversal,
            include(child),
            foreign.map(include).collect(),
        )?;
        Ok(vec![rephrase, reversal])
    }

    /// `all category have property` against a property it lacks; `property is found in
    /// category` against categories without it.
    fn property_items(
        &self,
        category: usize,
        property: usize,
        item: &ItemFn<'_>,
    ) -> Result<Vec<McItem>, InvalidConfig> {
        let all = |p| Statement::AllHave {
            category,
            property: p,
        };
        let wrong = self
            .lacking(category)
            .into_iter()
            .take(1)
            .map(all)
            .collect();
        let rephrase = item(Split::Rephrase, all(property), wrong)?;
        let found = |c| Statement::FoundIn {
            property,
            category: c,
        };
        let without = self
            .categories
            .iter()
            .copied()
            .filter(|&c| !self.w.has(c, property))
            .take(3);
        let reversal = item(
            Split::HierReversal,
            found(category),
            without.map(found).collect(),
        )?;
        Ok(vec![rephrase, reversal])
    }
}

#[cfg(test)]
mod tests;

//! Symbolic mini-worlds: the facts of one world of one family, and every statement they
//! entail that the documents and tests use (reversals, rephrasings, syllogistic conclusions,
//! inherited properties), each with the facts it comes from.
//!
//! Pre-training draws a fresh mini-world for every document ([`crate::WorldSampler`]); a study
//! world is a few fixed ones ([`crate::StudySet`]). Both are built here, so the oracle
//! augmentation, the tests and the pre-training targets follow one set of rules.

use std::collections::HashSet;

use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::statement::Statement;
use crate::syllogism::{Form, bind};
use crate::vocab::FEATURES;

/// The three families of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// Comparisons ("femp are more dangerous than glon").
    Comparisons,
    /// Premise pairs of syllogisms.
    Syllogisms,
    /// A small category hierarchy with properties.
    Hierarchy,
}

/// How a derived statement follows from the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Derivation {
    /// One fact with its arguments swapped.
    Reversal,
    /// One fact in another template, same direction.
    Rephrasing,
    /// The conclusion of a premise pair.
    Conclusion,
    /// A property a category has through its parent.
    Inheritance,
}

/// A statement entailed by the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// What it says.
    pub statement: Statement,
    /// How it follows.
    pub derivation: Derivation,
    /// Indices of the facts it follows from.
    pub sources: Vec<usize>,
}

/// One mini-world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiniWorld {
    /// Its family.
    pub family: Family,
    /// The stated facts, in document order.
    pub facts: Vec<Statement>,
    /// Everything the tests and inference sections may ask about.
    pub derived: Vec<Derived>,
    /// Syllogism forms, one per premise pair (empty for other families).
    pub forms: Vec<(Form, [usize; 3])>,
    /// Hierarchy: `(child, parent)` pairs.
    pub tree: Vec<(usize, usize)>,
    /// Hierarchy children whose own properties are withheld (the category holdout).
    pub held_out: Vec<usize>,
    /// Hierarchy: `(category, property)` pairs that hold, stated or inherited.
    pub properties: Vec<(usize, usize)>,
}

/// Draws distinct entities and properties for one world.
pub struct Draw<'a> {
    rng: &'a mut SeededRng,
    entities: Vec<usize>,
    properties: Vec<usize>,
}

impl<'a> Draw<'a> {
    /// A draw from `n_entities` entities and `n_properties` properties.
    pub fn new(rng: &'a mut SeededRng, n_entities: usize, n_properties: usize) -> Self {
        let entities = rng.permutation(n_entities);
        let properties = rng.permutation(n_properties);
        Self {
            rng,
            entities,
            properties,
        }
    }

    /// A fresh entity (none is used twice in one world).
    ///
    /// # Panics
    /// If the world needs more entities than the vocabulary has: configs are validated first.
    pub fn entity(&mut self) -> usize {
        self.entities.pop().expect("enough entities for one world")
    }

    /// A fresh property.
    pub fn property(&mut self) -> usize {
        self.properties
            .pop()
            .expect("enough properties for one world")
    }

    /// A uniform draw from `range`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.rng.below(hi - lo + 1)
    }

    /// The generator itself.
    pub fn rng(&mut self) -> &mut SeededRng {
        self.rng
    }
}

impl MiniWorld {
    fn empty(family: Family) -> Self {
        Self {
            family,
            facts: Vec::new(),
            derived: Vec::new(),
            forms: Vec::new(),
            tree: Vec::new(),
            held_out: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// `n` comparisons over distinct entities, with their reversals and rephrasings.
    pub fn comparisons(draw: &mut Draw<'_>, n: usize) -> Self {
        let mut w = Self::empty(Family::Comparisons);
        for _ in 0..n {
            let (a, b) = (draw.entity(), draw.entity());
            let feature = draw.rng().below(FEATURES.len());
            let more = draw.rng().below(2) == 0;
            w.facts.push(Statement::Compare {
                a,
                feature,
                more,
                b,
            });
        }
        w.derive_one_step();
        w
    }

    /// `n` premise pairs over distinct terms, each of a random valid form, with their
    /// canonical conclusions and the premises' reversals and rephrasings.
    pub fn syllogisms(draw: &mut Draw<'_>, n: usize) -> Self {
        let mut w = Self::empty(Family::Syllogisms);
        for _ in 0..n {
            let form = Form::ALL[draw.rng().below(Form::ALL.len())];
            let terms = [draw.entity(), draw.entity(), draw.entity()];
            let mut premises = form.premises().map(|p| bind(p, terms));
            if draw.rng().below(2) == 0 {
                premises.swap(0, 1);
            }
            let first = w.facts.len();
            w.facts.extend(premises);
            w.derived.push(Derived {
                statement: bind(form.conclusion(), terms),
                derivation: Derivation::Conclusion,
                sources: vec![first, first + 1],
            });
            w.forms.push((form, terms));
        }
        w.derive_one_step();
        w
    }

    /// A forest of `roots` categories with `children` children each; roots get
    /// `root_properties` properties, children `child_properties` (inclusive ranges), and the
    /// first `held_out` children (in draw order) get none: only their membership is stated.
    pub fn hierarchy(draw: &mut Draw<'_>, shape: &HierarchyShape) -> Self {
        let mut w = Self::empty(Family::Hierarchy);
        let mut own: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut children_so_far = 0;
        for _ in 0..shape.roots {
            let root = draw.entity();
            let n = draw.between(shape.root_properties.0, shape.root_properties.1);
            own.push((root, (0..n).map(|_| draw.property()).collect()));
            for _ in 0..draw.between(shape.children.0, shape.children.1) {
                let child = draw.entity();
                w.tree.push((child, root));
                let n = if children_so_far < shape.held_out {
                    w.held_out.push(child);
                    0
                } else {
                    draw.between(shape.child_properties.0, shape.child_properties.1)
                };
                children_so_far += 1;
                own.push((child, (0..n).map(|_| draw.property()).collect()));
            }
        }
        for &(child, parent) in &w.tree {
            w.facts.push(Statement::IsA { child, parent });
        }
        for (category, props) in &own {
            for &property in props {
                w.facts.push(Statement::Has {
                    category: *category,
                    property,
                });
                w.properties.push((*category, property));
            }
        }
        draw.rng().shuffle(&mut w.facts);
        w.derive_one_step();
        w.derive_inheritance();
        w
    }

    /// Reversals and rephrasings of every fact.
    fn derive_one_step(&mut self) {
        for (i, fact) in self.facts.iter().enumerate() {
            for (derivation, s) in [
                (Derivation::Reversal, fact.reversal()),
                (Derivation::Rephrasing, fact.rephrasing()),
            ] {
                if let Some(statement) = s {
                    self.derived.push(Derived {
                        statement,
                        derivation,
                        sources: vec![i],
                    });
                }
            }
        }
    }

    /// `child have p` for every property `p` of its parent.
    fn derive_inheritance(&mut self) {
        let index = |s: &Statement| self.facts.iter().position(|f| f == s);
        let mut inherited = Vec::new();
        for &(child, parent) in &self.tree {
            let isa = index(&Statement::IsA { child, parent });
            for &(category, property) in &self.properties {
                if category != parent {
                    continue;
                }
                let has = index(&Statement::Has { category, property });
                inherited.push((child, property));
                self.derived.push(Derived {
                    statement: Statement::Has {
                        category: child,
                        property,
                    },
                    derivation: Derivation::Inheritance,
                    sources: isa.into_iter().chain(has).collect(),
                });
            }
        }
        self.properties.extend(inherited);
    }

    /// Whether `category` has `property`, stated or inherited.
    pub fn has(&self, category: usize, property: usize) -> bool {
        self.properties.contains(&(category, property))
    }

    /// The parent of `child`, if it has one.
    pub fn parent(&self, child: usize) -> Option<usize> {
        self.tree.iter().find(|(c, _)| *c == child).map(|(_, p)| *p)
    }
}

/// The shape of a hierarchy world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HierarchyShape {
    /// Root categories.
    pub roots: usize,
    /// Children per root (inclusive range).
    pub children: (usize, usize),
    /// Own properties per root (inclusive range).
    pub root_properties: (usize, usize),
    /// Own properties per child (inclusive range).
    pub child_properties: (usize, usize),
    /// Children stated by membership only.
    pub held_out: usize,
}

/// Unordered pairs of the content words a statement links (entities, and properties offset
/// past the entities), the keys of the contamination check: pre-training never links two
/// words that a study world links.
pub fn links(statement: &Statement, n_entities: usize) -> Vec<(usize, usize)> {
    let pair = |x: usize, y: usize| (x.min(y), x.max(y));
    match *statement {
        Statement::Has { category, property }
        | Statement::FoundIn { property, category }
        | Statement::AllHave { category, property } => {
            vec![pair(category, n_entities + property)]
        }
        _ => {
            let e = statement.entities();
            vec![pair(e[0], e[1])]
        }
    }
}

/// Every link of `world`'s facts and derived statements.
pub fn world_links(world: &MiniWorld, n_entities: usize) -> HashSet<(usize, usize)> {
    world
        .facts
        .iter()
        .chain(world.derived.iter().map(|d| &d.statement))
        .flat_map(|s| links(s, n_entities))
        .collect()
}

//! Statements of the worlds and their templates: what a fact says, how it is written, and the
//! symbolic reversal and rephrasing that the oracle augmentation and the test items use.
//!
//! | kind | template | reversal ⟨rev⟩ | rephrasing ⟨para⟩ |
//! |---|---|---|---|
//! | comparison | `A are more F than B .` | `B are less F than A .` | `compared with B , A are more F .` |
//! | quantified | `all A are B .` | `some B are A .` (`some`, `no`: converted) | `of A , all are B .` |
//! | membership | `A are a type of B .` | `B include A .` | `all A are B .` |
//! | property | `A have P .` | `P is found in A .` | `all A have P .` |
//!
//! Every reversal and rephrasing is entailed by its source (for `all`, under existential
//! import: each category named has members).

use serde::{Deserialize, Serialize};

use crate::vocab::{Token, Vocab};

/// A quantifier of the syllogism statements ("some X are not Y" is omitted, as in the paper).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Quantifier {
    /// All X are Y.
    All,
    /// Some X are Y.
    Some,
    /// No X are Y.
    No,
}

impl Quantifier {
    /// The three, in order.
    pub const ALL: [Self; 3] = [Self::All, Self::Some, Self::No];

    fn word(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Some => "some",
            Self::No => "no",
        }
    }
}

/// One statement; entities, features and properties are indices into the [`Vocab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Statement {
    /// `a are more|less feature than b`.
    Compare {
        /// Subject entity.
        a: usize,
        /// Comparison feature (0–27).
        feature: usize,
        /// `more` (true) or `less`.
        more: bool,
        /// Object entity.
        b: usize,
    },
    /// `q a are b`.
    Quantified {
        /// The quantifier.
        q: Quantifier,
        /// Subject entity.
        a: usize,
        /// Predicate entity.
        b: usize,
    },
    /// `child are a type of parent`.
    IsA {
        /// The narrower category.
        child: usize,
        /// The broader category.
        parent: usize,
    },
    /// `category have property`.
    Has {
        /// The category entity.
        category: usize,
        /// The property word.
        property: usize,
    },
    /// `parent include child` (the reversal of [`IsA`](Self::IsA)).
    Includes {
        /// The broader category.
        parent: usize,
        /// The narrower category.
        child: usize,
    },
    /// `property is found in category` (the reversal of [`Has`](Self::Has)).
    FoundIn {
        /// The property word.
        property: usize,
        /// The category entity.
        category: usize,
    },
    /// `compared with b , a are more|less feature` (the rephrasing of a comparison).
    ComparedWith {
        /// Subject entity.
        a: usize,
        /// Comparison feature.
        feature: usize,
        /// `more` or `less`.
        more: bool,
        /// Object entity.
        b: usize,
    },
    /// `of a , q are b` (the rephrasing of a quantified statement).
    Of {
        /// The quantifier.
        q: Quantifier,
        /// Subject entity.
        a: usize,
        /// Predicate entity.
        b: usize,
    },
    /// `all category have property` (the rephrasing of a property).
    AllHave {
        /// The category entity.
        category: usize,
        /// The property word.
        property: usize,
    },
}

impl Statement {
    /// The statement's tokens, ending with ".".
    pub fn tokens(&self, v: &Vocab) -> Vec<Token> {
        let e = |i: usize| v.entity(i);
        let w = |s: &str| v.word(s);
        let degree = |more: bool| w(if more { "more" } else { "less" });
        let mut t = match *self {
            Self::Compare {
                a,
                feature,
                more,
                b,
            } => {
                vec![
                    e(a),
                    w("are"),
                    degree(more),
                    v.feature(feature),
                    w("than"),
                    e(b),
                ]
            }
            Self::Quantified { q, a, b } => vec![w(q.word()), e(a), w("are"), e(b)],
            Self::IsA { child, parent } => {
                vec![e(child), w("are"), w("a"), w("type"), w("of"), e(parent)]
            }
            Self::Has { category, property } => vec![e(category), w("have"), v.property(property)],
            Self::Includes { parent, child } => vec![e(parent), w("include"), e(child)],
            Self::FoundIn { property, category } => {
                let p = v.property(property);
                vec![p, w("is"), w("found"), w("in"), e(category)]
            }
            Self::ComparedWith {
                a,
                feature,
                more,
                b,
            } => vec![
                w("compared"),
                w("with"),
                e(b),
                w(","),
                e(a),
                w("are"),
                degree(more),
                v.feature(feature),
            ],
            Self::Of { q, a, b } => vec![w("of"), e(a), w(","), w(q.word()), w("are"), e(b)],
            Self::AllHave { category, property } => {
                vec![w("all"), e(category), w("have"), v.property(property)]
            }
        };
        t.push(w("."));
        t
    }

    /// The reversal that ⟨rev⟩ asks for, if this kind has one: the same fact with its two
    /// arguments swapped, entailed by it.
    pub fn reversal(&self) -> Option<Self> {
        Some(match *self {
            Self::Compare {
                a,
                feature,
                more,
                b,
            } => Self::Compare {
                a: b,
                feature,
                more: !more,
                b: a,
            },
            Self::Quantified { q, a, b } => Self::Quantified {
                // All A are B ⊢ some B are A (existential import); some and no convert.
                q: if q == Quantifier::No {
                    Quantifier::No
                } else {
                    Quantifier::Some
                },
                a: b,
                b: a,
            },
            Self::IsA { child, parent } => Self::Includes { parent, child },
            Self::Has { category, property } => Self::FoundIn { property, category },
            _ => return None,
        })
    }

    /// The rephrasing that ⟨para⟩ asks for, if this kind has one: the same fact, same
    /// direction, another template.
    pub fn rephrasing(&self) -> Option<Self> {
        Some(match *self {
            Self::Compare {
                a,
                feature,
                more,
                b,
            } => Self::ComparedWith {
                a,
                feature,
                more,
                b,
            },
            Self::Quantified { q, a, b } => Self::Of { q, a, b },
            Self::IsA { child, parent } => Self::Quantified {
                q: Quantifier::All,
                a: child,
                b: parent,
            },
            Self::Has { category, property } => Self::AllHave { category, property },
            _ => return None,
        })
    }

    /// The entities the statement names (for contamination checks).
    pub fn entities(&self) -> Vec<usize> {
        match *self {
            Self::Compare { a, b, .. }
            | Self::ComparedWith { a, b, .. }
            | Self::Quantified { a, b, .. }
            | Self::Of { a, b, .. } => vec![a, b],
            Self::IsA { child, parent } | Self::Includes { parent, child } => vec![child, parent],
            Self::Has { category, .. }
            | Self::FoundIn { category, .. }
            | Self::AllHave { category, .. } => vec![category],
        }
    }
}

/// A sentence of a document: a statement, with the index of the preamble it is stated after
/// (`None`: bare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    /// What it says.
    pub statement: Statement,
    /// Which of [`PREAMBLES`](crate::vocab::PREAMBLES) introduces it.
    pub preamble: Option<usize>,
}

impl Sentence {
    /// The preamble's tokens, then the statement's.
    pub fn tokens(&self, v: &Vocab) -> Vec<Token> {
        let mut t = self
            .preamble
            .map(|p| v.words(crate::vocab::PREAMBLES[p]))
            .unwrap_or_default();
        t.extend(self.statement.tokens(v));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_as_the_table_says() {
        let v = Vocab::new(10, 10, 0).unwrap();
        let name = |i| v.decode(&[v.entity(i)]);
        let (a, b) = (name(1), name(2));
        let s = Statement::Compare {
            a: 1,
            feature: 0,
            more: true,
            b: 2,
        };
        assert_eq!(
            v.decode(&s.tokens(&v)),
            format!("{a} are more dangerous than {b} .")
        );
        let r = s.reversal().unwrap();
        assert_eq!(
            v.decode(&r.tokens(&v)),
            format!("{b} are less dangerous than {a} .")
        );
        assert_eq!(r.reversal(), Some(s), "reversing twice gives the fact back");
        let isa = Statement::IsA {
            child: 1,
            parent: 2,
        };
        assert_eq!(
            v.decode(&isa.reversal().unwrap().tokens(&v)),
            format!("{b} include {a} .")
        );
        assert_eq!(
            v.decode(&isa.rephrasing().unwrap().tokens(&v)),
            format!("all {a} are {b} .")
        );
        let with = Sentence {
            statement: isa,
            preamble: Some(0),
        };
        assert!(v.decode(&with.tokens(&v)).starts_with("did you know that "));
    }
}

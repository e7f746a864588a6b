//! Syllogisms over three terms `A` (subject), `B` (middle) and `C` (predicate): the valid
//! forms we use, each with one canonical conclusion about `A` and `C`, and the candidate set
//! of a test item.
//!
//! The paper's candidates are the six statements {all, some, no} × {A–C, C–A}. Under
//! existential import some of the others are *also* entailed (`all A are C` ⊢ `some A are C`,
//! `some C are A`; `no A are C` ⊢ `no C are A`; `some A are C` ⊢ `some C are A`). Our rule: the
//! canonical conclusion is the one answer, and the entailed weaker or converted statements are
//! dropped from the candidates, so every remaining distractor is a statement that does not
//! follow. [`is_entailed`] decides entailment by brute force over set models, and a test
//! checks the table against it.

use serde::{Deserialize, Serialize};

use crate::statement::{Quantifier, Statement};

/// A valid form: two premises over (A, B, C) and its conclusion about A and C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// All A are B; all B are C ⊢ all A are C.
    Barbara,
    /// All A are B; no B are C ⊢ no A are C.
    Celarent,
    /// Some A are B; all B are C ⊢ some A are C.
    Darii,
    /// All A are B; no C are B ⊢ no A are C.
    Cesare,
    /// No A are B; all C are B ⊢ no A are C.
    Camestres,
    /// Some B are A; all B are C ⊢ some A are C.
    Disamis,
}

/// A term of a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    /// The conclusion's subject.
    A,
    /// The middle term (premises only).
    B,
    /// The conclusion's predicate.
    C,
}

/// `(quantifier, subject, predicate)` over terms.
pub type Abstract = (Quantifier, Term, Term);

impl Form {
    /// Every form.
    pub const ALL: [Self; 6] = [
        Self::Barbara,
        Self::Celarent,
        Self::Darii,
        Self::Cesare,
        Self::Camestres,
        Self::Disamis,
    ];

    /// The two premises.
    pub fn premises(self) -> [Abstract; 2] {
        use Quantifier::{All, No, Some};
        use Term::{A, B, C};
        match self {
            Self::Barbara => [(All, A, B), (All, B, C)],
            Self::Celarent => [(All, A, B), (No, B, C)],
            Self::Darii => [(Some, A, B), (All, B, C)],
            Self::Cesare => [(All, A, B), (No, C, B)],
            Self::Camestres => [(No, A, B), (All, C, B)],
            Self::Disamis => [(Some, B, A), (All, B, C)],
        }
    }

    /// The canonical conclusion.
    pub fn conclusion(self) -> Abstract {
        let q = match self {
            Self::Barbara => Quantifier::All,
            Self::Celarent | Self::Cesare | Self::Camestres => Quantifier::No,
            Self::Darii | Self::Disamis => Quantifier::Some,
        };
        (q, Term::A, Term::C)
    }

    /// The test candidates: the canonical conclusion first, then the statements about A and C
    /// that do not follow (entailed non-canonical ones dropped, see the module docs).
    pub fn candidates(self) -> Vec<Abstract> {
        let canonical = self.conclusion();
        let mut out = vec![canonical];
        for q in Quantifier::ALL {
            for (s, p) in [(Term::A, Term::C), (Term::C, Term::A)] {
                let c = (q, s, p);
                if c != canonical && !is_entailed(&self.premises(), c) {
                    out.push(c);
                }
            }
        }
        out
    }
}

/// The concrete statement of an abstract one, with terms bound to entities `[a, b, c]`.
pub fn bind((q, s, p): Abstract, terms: [usize; 3]) -> Statement {
    let pick = |t: Term| match t {
        Term::A => terms[0],
        Term::B => terms[1],
        Term::C => terms[2],
    };
    Statement::Quantified {
        q,
        a: pick(s),
        b: pick(p),
    }
}

/// Whether `conclusion` holds in every model of `premises` where A, B and C are non-empty
/// (existential import). A model assigns each of the 8 regions of the three-set Venn diagram
/// "inhabited" or not, which decides every statement here; all 256 are enumerated.
pub fn is_entailed(premises: &[Abstract], conclusion: Abstract) -> bool {
    (0u32..256).all(|model| {
        let nonempty = [Term::A, Term::B, Term::C]
            .iter()
            .all(|&t| regions(model).any(|r| member(r, t)));
        let premises_hold = premises.iter().all(|&s| holds(model, s));
        !(nonempty && premises_hold) || holds(model, conclusion)
    })
}

/// The inhabited regions of `model`, each a 3-bit membership mask (bit 0: A, 1: B, 2: C).
fn regions(model: u32) -> impl Iterator<Item = u32> {
    (0..8).filter(move |r| model & (1 << r) != 0)
}

fn member(region: u32, t: Term) -> bool {
    let bit = match t {
        Term::A => 0,
        Term::B => 1,
        Term::C => 2,
    };
    region & (1 << bit) != 0
}

fn holds(model: u32, (q, s, p): Abstract) -> bool {
    let mut both = regions(model).filter(|&r| member(r, s) && member(r, p));
    match q {
        Quantifier::All => regions(model).all(|r| !member(r, s) || member(r, p)),
        Quantifier::Some => both.next().is_some(),
        Quantifier::No => both.next().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_valid_and_its_distractors_do_not_follow() {
        for form in Form::ALL {
            let premises = form.premises();
            assert!(is_entailed(&premises, form.conclusion()), "{form:?}");
            let candidates = form.candidates();
            assert_eq!(candidates[0], form.conclusion());
            for &c in &candidates[1..] {
                assert!(!is_entailed(&premises, c), "{form:?}: {c:?} follows");
            }
            // The dropped ones are exactly the entailed non-canonical statements.
            assert!(candidates.len() >= 4 && candidates.len() <= 5, "{form:?}");
        }
    }

    #[test]
    fn brute_force_knows_the_classic_invalid_forms() {
        use Quantifier::{All, Some};
        use Term::{A, B, C};
        // Undistributed middle: all A are B, all C are B ⊬ all A are C.
        assert!(!is_entailed(&[(All, A, B), (All, C, B)], (All, A, C)));
        // Two particular premises prove nothing.
        assert!(!is_entailed(&[(Some, A, B), (Some, B, C)], (Some, A, C)));
        // Conversion of `all` is invalid; its weakening holds under existential import.
        assert!(!is_entailed(&[(All, A, B)], (All, B, A)));
        assert!(is_entailed(&[(All, A, B)], (Some, B, A)));
    }
}

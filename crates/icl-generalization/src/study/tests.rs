use std::collections::HashSet;

use super::*;
use crate::corpus::tests::{config, study_config};
use crate::world::Family;

fn study(seed: u64) -> (StudySet, Vocab) {
    let v = config().vocab().unwrap();
    (
        StudySet::generate(&config(), &study_config(), &v, seed).unwrap(),
        v,
    )
}

/// `needle` as a contiguous run inside `hay`.
fn contains(hay: &[Token], needle: &[Token]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_answer_is_stated_in_training_except_rephrase_sources() {
    let (s, v) = study(0);
    let training: Vec<Token> = s.train_docs.iter().flat_map(Doc::tokens).collect();
    for item in &s.tests {
        let answer = &item.choices[item.answer];
        assert!(
            !contains(&training, answer),
            "{:?} answer in training: {}",
            item.split,
            v.decode(answer)
        );
    }
}

#[test]
fn every_fact_is_trained_and_every_split_is_complete() {
    let (s, v) = study(1);
    let training: Vec<Token> = s.train_docs.iter().flat_map(Doc::tokens).collect();
    let mut comparisons = 0;
    for w in &s.worlds {
        for f in &w.facts {
            assert!(
                contains(&training, &f.tokens(&v)),
                "untrained fact {}",
                v.decode(&f.tokens(&v))
            );
            comparisons += usize::from(matches!(f, Statement::Compare { .. }));
        }
    }
    let count = |split| s.items_of(split).count();
    assert_eq!(count(Split::Reversal), comparisons);
    assert_eq!(count(Split::Reversal), 12);
    assert_eq!(count(Split::Syllogism), 6);
    let inherited = s
        .worlds
        .iter()
        .flat_map(|w| &w.derived)
        .filter(|d| d.derivation == Derivation::Inheritance)
        .count();
    assert_eq!(
        count(Split::Inheritance) + count(Split::CategoryHoldout),
        inherited
    );
    assert!(
        count(Split::CategoryHoldout) > 0
            && count(Split::Rephrase) > 0
            && count(Split::HierReversal) > 0
    );
    // Every reversal item's source fact is trained: the contradiction is the fact itself with
    // its arguments swapped, so reversing the answer gives back a trained sentence.
    for item in s.items_of(Split::Reversal) {
        let back = s.worlds[item.world]
            .facts
            .iter()
            .find(|f| f.reversal().map(|r| r.tokens(&v)) == Some(item.choices[0].clone()));
        assert!(back.is_some());
    }
}

#[test]
fn distractors_are_false_here_but_about_this_world() {
    let (s, v) = study(2);
    for item in &s.tests {
        let w = &s.worlds[item.world];
        let truths: HashSet<Vec<Token>> = w
            .facts
            .iter()
            .chain(w.derived.iter().map(|d| &d.statement))
            .map(|st| st.tokens(&v))
            .collect();
        assert!(
            truths.contains(&item.choices[item.answer]),
            "{}",
            v.decode(&item.choices[0])
        );
        let words: HashSet<Token> = w.facts.iter().flat_map(|f| f.tokens(&v)).collect();
        for (i, c) in item
            .choices
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != item.answer)
        {
            assert!(
                !truths.contains(c),
                "distractor {i} is true: {}",
                v.decode(c)
            );
            assert!(
                c.iter()
                    .filter(|&&t| t >= v.entity(0))
                    .all(|t| words.contains(t)),
                "distractor names something foreign: {}",
                v.decode(c)
            );
            assert_eq!(
                c.len(),
                item.choices[item.answer].len(),
                "candidates of one item have one length"
            );
        }
    }
}

#[test]
fn contexts_hold_each_worlds_facts_once_and_variants_differ() {
    let (s, v) = study(3);
    assert_eq!(s.contexts.len(), s.worlds.len());
    assert_eq!(s.train_docs.len(), 2 * s.worlds.len());
    for (i, w) in s.worlds.iter().enumerate() {
        assert_eq!(s.contexts[i].sentences.len(), w.facts.len());
        assert_eq!(s.contexts[i], s.train_docs[2 * i]);
        assert_ne!(
            s.train_docs[2 * i],
            s.train_docs[2 * i + 1],
            "fresh preambles per variant"
        );
    }
    let families: Vec<Family> = s.worlds.iter().map(|w| w.family).collect();
    assert_eq!(
        families.iter().filter(|&&f| f == Family::Hierarchy).count(),
        1
    );
    assert_eq!(s.oracle_aug.len(), s.worlds.len());
    let _ = v;
}

#[test]
fn sizes_that_do_not_divide_are_refused() {
    let v = config().vocab().unwrap();
    let mut sizes = study_config();
    sizes.comparisons = 13;
    let err = StudySet::generate(&config(), &sizes, &v, 0).unwrap_err();
    assert!(err.0.contains("comparisons"), "{err}");
}

#[test]
fn a_study_too_big_for_its_vocabulary_is_refused_not_a_panic() {
    let mut world = config();
    world.n_entities = 40;
    let v = world.vocab().unwrap();
    let err = StudySet::generate(&world, &study_config(), &v, 0).unwrap_err();
    assert!(err.0.contains("n_entities"), "{err}");
}

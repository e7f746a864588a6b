use super::*;
use crate::study::{StudyConfig, StudySet};
use crate::world::links;

pub(crate) fn config() -> WorldConfig {
    WorldConfig {
        n_entities: 60,
        n_properties: 30,
        comparisons: (2, 6),
        syllogisms: (1, 3),
        hierarchy: HierarchyShape {
            roots: 2,
            children: (1, 2),
            root_properties: (1, 2),
            child_properties: (0, 2),
            held_out: 0,
        },
        doc_mix: [1.0, 1.0, 1.0],
        preamble_rate: 0.5,
        probe_rate: 0.3,
        questions: (2, 5),
        global_rate: 0.3,
        vocab_seed: 0,
        loss_on_facts: true,
    }
}

pub(crate) fn study_config() -> StudyConfig {
    StudyConfig {
        comparisons: 12,
        comparisons_per_world: 6,
        syllogisms: 6,
        syllogisms_per_world: 3,
        hierarchies: 1,
        hierarchy: HierarchyShape {
            roots: 2,
            children: (2, 2),
            root_properties: (2, 2),
            child_properties: (1, 2),
            held_out: 1,
        },
        variants: 2,
    }
}

#[test]
fn the_stream_is_seeded_and_mixes_the_three_families() {
    let mut a = WorldSampler::new(config(), 3).unwrap();
    let mut b = WorldSampler::new(config(), 3).unwrap();
    let mut families = HashSet::new();
    for _ in 0..60 {
        let w = a.next_world();
        assert_eq!(w, b.next_world());
        families.insert(w.family);
    }
    assert_eq!(families.len(), 3);
    assert_ne!(
        a.next_doc(),
        WorldSampler::new(config(), 4).unwrap().next_doc()
    );
}

#[test]
fn probes_restate_the_sentence_before_them() {
    let mut s = WorldSampler::new(config(), 0).unwrap();
    let v = s.vocab().clone();
    let (mut probes, mut checked) = (0, 0);
    for _ in 0..50 {
        let world = s.next_world();
        let doc = render(&world, &config(), &v, &mut SeededRng::new(probes as u64));
        for pair in doc.sentences.windows(2) {
            let marker = pair[1][0];
            if marker != REV && marker != PARA {
                continue;
            }
            probes += 1;
            // The statement before the probe, with its preamble stripped.
            let fact = world
                .facts
                .iter()
                .find(|f| pair[0].ends_with(&f.tokens(&v)))
                .expect("a probe follows a fact");
            let expected = if marker == REV {
                fact.reversal()
            } else {
                fact.rephrasing()
            };
            assert_eq!(pair[1][1..], expected.unwrap().tokens(&v));
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} probes seen");
}

#[test]
fn questions_are_entailed_by_their_document() {
    let mut s = WorldSampler::new(config(), 1).unwrap();
    let v = s.vocab().clone();
    for seed in 0..40 {
        let world = s.next_world();
        let doc = render(&world, &config(), &v, &mut SeededRng::new(seed));
        let entailed: Vec<Vec<Token>> = world
            .derived
            .iter()
            .map(|d| d.statement.tokens(&v))
            .collect();
        let questions: Vec<&Vec<Token>> = doc.sentences.iter().filter(|s| s[0] == Q).collect();
        for q in &questions {
            assert!(entailed.contains(&q[1..].to_vec()), "{}", v.decode(q));
        }
        let distinct: HashSet<&Vec<Token>> = questions.iter().copied().collect();
        assert_eq!(distinct.len(), questions.len(), "a question repeats");
    }
}

#[test]
fn pretraining_never_links_what_a_study_world_links() {
    let v = config().vocab().unwrap();
    let study = StudySet::generate(&config(), &study_config(), &v, 11).unwrap();
    let forbidden: HashSet<(usize, usize)> = study
        .worlds
        .iter()
        .flat_map(|w| world_links(w, 60))
        .collect();
    let mut s = WorldSampler::new(config(), 2)
        .unwrap()
        .excluding(&study.worlds);
    let mut unguarded = WorldSampler::new(config(), 2).unwrap();
    let mut collisions = 0;
    for _ in 0..2000 {
        let w = s.next_world();
        for f in w.facts.iter().chain(w.derived.iter().map(|d| &d.statement)) {
            assert!(links(f, 60).iter().all(|l| !forbidden.contains(l)));
        }
        let u = unguarded.next_world();
        collisions += usize::from(!world_links(&u, 60).is_disjoint(&forbidden));
    }
    // With 60 entities the unguarded stream does collide, so the guard has work to do.
    assert!(collisions > 0);
}

#[test]
fn invalid_settings_are_named() {
    let mut c = config();
    c.comparisons = (5, 2);
    assert!(c.validate().unwrap_err().0.contains("comparisons"));
    let mut c = config();
    c.probe_rate = 1.5;
    assert!(c.validate().unwrap_err().0.contains("probe_rate"));
    let mut c = config();
    c.n_entities = 8;
    assert!(c.validate().unwrap_err().0.contains("n_entities"));
}

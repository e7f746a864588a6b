//! The six smoke checks of the method: closed forms, the template split, the metrics on a
//! hand-made batch, the power-law sampler, the three-phase curve of a tiny model, and the
//! attention-override path.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::prelude::*;
use kiln_core::nn::{AttentionOverride, DecoderConfig, RopeLayout};
use kiln_core::train::{
    LabelledSpan, LmBatch, LmTrainer, SeededRng, WarmupCosine, device_rng_lock,
};
use kiln_fact_learning::{
    Attribute, BioBatch, BioConfig, IndividualDist, ListSizes, Population, TemplateSet, World,
    attribute_loss_and_accuracy, confidence_stats, no_knowledge_baseline, plateau_end,
};

fn world() -> World {
    World::new(BioConfig::CPU).unwrap()
}

#[test]
fn baseline_is_the_closed_form() {
    let expected =
        (2.0 * 64f64.ln() + 32f64.ln() + 32f64.ln() + 48f64.ln() + (100.0 * 12.0 * 28.0f64).ln())
            / 6.0;
    let got = no_knowledge_baseline(&world());
    assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
    assert!((got - 4.924).abs() < 5e-4, "{got}");
    let paper = BioConfig {
        lists: ListSizes::PAPER,
        ..BioConfig::CPU
    };
    let paper = no_knowledge_baseline(&World::new(paper).unwrap());
    assert!((paper - 6.785).abs() < 5e-4, "{paper}");
}

/// The words of `template` before `{v}`, without the name.
fn cue(template: &str) -> Vec<&str> {
    let before = &template[..template.find("{v}").unwrap()];
    before.split_whitespace().filter(|w| *w != "{n}").collect()
}

#[test]
fn held_out_templates_differ_and_values_follow_name_and_type() {
    let world = world();
    let population = Population::generate(&world, 200, 3).unwrap();
    for person in &population.individuals {
        for a in Attribute::ALL {
            let train = person.templates(a, TemplateSet::Train);
            let eval = person.templates(a, TemplateSet::Eval);
            assert_eq!((train.len(), eval.len()), (20, 5));
            for e in eval {
                assert!(!train.contains(e), "template {e} of {a:?} is in both sets");
                let text = world.template_text(a, usize::from(*e));
                assert!(
                    train
                        .iter()
                        .all(|t| world.template_text(a, usize::from(*t)) != text)
                );
            }
        }
    }
    // The split differs between people.
    let first = &population.individuals[0].eval_templates;
    assert!(
        population
            .individuals
            .iter()
            .any(|p| &p.eval_templates != first)
    );
    // In every template the name comes before the value, and the words before the value say
    // which attribute it is: no cue of one attribute is the cue of another.
    for a in Attribute::ALL {
        for t in a.templates() {
            assert!(t.find("{n}").unwrap() < t.find("{v}").unwrap(), "{t}");
            for b in Attribute::ALL.iter().filter(|b| **b != a) {
                assert!(
                    b.templates().iter().all(|u| cue(u) != cue(t)),
                    "{t} is ambiguous"
                );
            }
        }
    }
    // In a rendered biography the name tokens come right before each sentence's value.
    let mut rng = SeededRng::new(5);
    let person = &population.individuals[7];
    let bio = world.biography(person, TemplateSet::Eval, &mut rng);
    let name = world.name_tokens(person);
    assert_eq!(bio.values.len(), 6);
    for span in &bio.values {
        let value = &bio.tokens[span.start..span.start + span.len];
        assert_eq!(value, world.value_tokens(person, span.attribute).as_slice());
        let before = &bio.tokens[..span.start];
        assert!(
            before.windows(3).any(|w| w == name),
            "no name before {span:?}"
        );
    }
}

#[test]
fn metrics_match_a_hand_calculation() {
    let device = Device::default();
    // One row, four positions, three classes. Targets 0, 1, 2, 1. The argmax is right at
    // positions 0–2 and wrong at 3.
    let rows = [
        [2.0f32, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 3.0],
        [1.0, 0.0, 0.0],
    ];
    let logits = Tensor::<3>::from_floats([rows], &device);
    let targets = Tensor::<2, Int>::from_ints([[0, 1, 2, 1]], &device);
    let batch = BioBatch {
        lm: LmBatch {
            tokens: targets.clone(),
            targets,
            loss_mask: Tensor::ones([1, 4], &device),
            segments: None,
        },
        // A one-token value at 0 and a three-token value (a date) at 1–3.
        spans: vec![
            LabelledSpan {
                row: 0,
                start: 0,
                len: 1,
                label: 0,
            },
            LabelledSpan {
                row: 0,
                start: 1,
                len: 3,
                label: 1,
            },
        ],
        people: vec![0],
    };
    let nll = |row: [f32; 3], target: usize| -> f64 {
        let z: f64 = row.iter().map(|&l| f64::from(l).exp()).sum();
        z.ln() - f64::from(row[target])
    };
    let single = nll(rows[0], 0);
    let date = nll(rows[1], 1) + nll(rows[2], 2) + nll(rows[3], 1);
    let (loss, accuracy) = attribute_loss_and_accuracy(logits, &batch);
    // A sum over the date's tokens, then a mean over the two values.
    assert!((loss - (single + date) / 2.0).abs() < 1e-5, "{loss}");
    // The date has one wrong token, so only the single-token value counts as right.
    assert_eq!(accuracy, 0.5);
}

/// Pearson's χ² of `counts` against the power law with exponent `alpha`.
fn chi_square(counts: &[usize], alpha: f64) -> f64 {
    let total: usize = counts.iter().sum();
    let weights: Vec<f64> = (1..=counts.len())
        .map(|i| (i as f64).powf(-alpha))
        .collect();
    let z: f64 = weights.iter().sum();
    counts
        .iter()
        .zip(&weights)
        .map(|(&c, w)| {
            let expected = total as f64 * w / z;
            (c as f64 - expected).powi(2) / expected
        })
        .sum()
}

#[test]
fn power_law_frequencies_follow_the_exponent() {
    let n = 20;
    let sampler = IndividualDist::PowerLaw { alpha: 0.8 }
        .sampler(n, 32)
        .unwrap();
    let mut rng = SeededRng::new(11);
    let mut counts = vec![0usize; n];
    for _ in 0..200_000 {
        counts[sampler.draw(0, &mut rng)] += 1;
    }
    // χ² with 19 degrees of freedom: 43.82 is its 0.999 quantile.
    let fit = chi_square(&counts, 0.8);
    assert!(fit < 43.82, "χ² {fit} against α = 0.8");
    // The same counts reject a neighbouring exponent, so the check has power.
    let wrong = chi_square(&counts, 0.7);
    assert!(wrong > 43.82, "χ² {wrong} against α = 0.7 should reject");
}

fn tiny_decoder(vocab_size: usize) -> DecoderConfig {
    DecoderConfig {
        vocab_size,
        d_model: 32,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 2,
        ffn_hidden: 64,
        max_len: 128,
        rope_base: 10_000.0,
        rope_layout: RopeLayout::Halves,
        norm_eps: 1e-5,
        tied_embeddings: false,
    }
}

#[test]
fn a_tiny_model_passes_the_baseline_before_it_learns_facts() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(21);
    let world = world();
    let n = 32;
    let population = Population::generate(&world, n, 4).unwrap();
    let sampler = IndividualDist::Uniform.sampler(n, 16).unwrap();
    let mut rng = SeededRng::new(9);
    let eval = BioBatch::of_people(
        &world,
        &population,
        (0..n).collect(),
        TemplateSet::Eval,
        &mut rng,
        &device,
    );
    let steps = 400;
    let schedule = WarmupCosine {
        peak: 1e-2,
        min: 1e-3,
        warmup: 0,
        total: steps,
    };
    let mut trainer = LmTrainer::new(schedule, 0.1);
    let mut model = tiny_decoder(world.vocab_size()).init(&device);
    let (mut curve, mut accuracy) = (Vec::new(), Vec::new());
    for step in 0..=steps {
        if step % 10 == 0 {
            let stats = confidence_stats(&model, &eval);
            curve.push((step, stats.loss));
            accuracy.push(stats.accuracy);
        }
        if step < steps {
            let people = (0..16).map(|_| sampler.draw(step, &mut rng)).collect();
            let batch = BioBatch::of_people(
                &world,
                &population,
                people,
                TemplateSet::Train,
                &mut rng,
                &device,
            );
            model = trainer.step(model, &batch.lm).0;
        }
    }
    let baseline = no_knowledge_baseline(&world);
    eprintln!("attribute loss every 10 steps: {curve:?} (baseline {baseline:.3})");
    eprintln!("attribute accuracy: {accuracy:?}");
    // Phase 1 starts well above the baseline: the values' marginals are not known yet.
    assert!(curve[0].1 > baseline + 1.0, "initial loss {}", curve[0].1);
    let learned = plateau_end(&curve, baseline, 0.5).expect("never fell 0.5 nats below baseline");
    let near = curve
        .iter()
        .position(|(_, l)| (l - baseline).abs() < 0.3)
        .expect("never near baseline");
    assert!(
        curve[near].0 < learned,
        "near the baseline at {} only after learning at {learned}",
        curve[near].0
    );
}

#[test]
fn attention_override_with_own_maps_is_the_plain_forward() {
    let _rng = device_rng_lock();
    let device = Device::default();
    device.seed(8);
    let world = world();
    let mut config = tiny_decoder(world.vocab_size());
    config.n_layers = 2;
    let model = config.init(&device);
    let population = Population::generate(&world, 4, 1).unwrap();
    let mut rng = SeededRng::new(2);
    let batch = BioBatch::of_people(
        &world,
        &population,
        vec![0, 1, 2, 3],
        TemplateSet::Train,
        &mut rng,
        &device,
    );
    let tokens = batch.lm.tokens.clone();
    let plain = model.forward(tokens.clone(), None, None, true);
    let own = AttentionOverride::all_layers(plain.attention.clone());
    let patched = model.forward_with_attention(tokens.clone(), &own, false);
    let (a, b) = (
        kiln_core::host_values(plain.logits),
        kiln_core::host_values(patched.logits),
    );
    assert_eq!(
        a, b,
        "the override with the model's own maps changed the logits"
    );
    // Another model's maps do change the output.
    let other = config
        .init(&device)
        .forward(tokens.clone(), None, None, true)
        .attention;
    let swapped =
        model.forward_with_attention(tokens, &AttentionOverride::all_layers(other), false);
    let c = kiln_core::host_values(swapped.logits);
    let diff = a
        .iter()
        .zip(&c)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 1e-4, "other maps left the logits unchanged ({diff})");
}

//! The library against independent computations: scoring against a forward pass per
//! candidate, augmentation against the model's own generations, fine-tuning clones.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use kiln_core::lm::{GenerateOptions, LmEngine, Request, Sampler};
use kiln_core::nn::{Decoder, DecoderConfig, DecoderShape};
use kiln_core::train::{device_rng_lock, seed_everything};
use kiln_icl_generalization::corpus::WorldConfig;
use kiln_icl_generalization::eval::{prompt, strictly_best};
use kiln_icl_generalization::study::StudyConfig;
use kiln_icl_generalization::vocab::{BOS, REV, Vocab};
use kiln_icl_generalization::world::HierarchyShape;
use kiln_icl_generalization::{
    AugConfig, AugKind, FinetuneConfig, SplitMode, StudySet, augment, evaluate, finetune,
    split_sentences,
};

fn hierarchy() -> HierarchyShape {
    HierarchyShape {
        roots: 2,
        children: (2, 2),
        root_properties: (2, 2),
        child_properties: (1, 2),
        held_out: 1,
    }
}

fn setup() -> (WorldConfig, Vocab, StudySet) {
    let config = WorldConfig {
        n_entities: 60,
        n_properties: 30,
        comparisons: (2, 6),
        syllogisms: (1, 3),
        hierarchy: hierarchy(),
        doc_mix: [1.0; 3],
        preamble_rate: 0.5,
        probe_rate: 0.3,
        questions: (2, 5),
        global_rate: 0.3,
        vocab_seed: 0,
        loss_on_facts: true,
    };
    let sizes = StudyConfig {
        comparisons: 6,
        comparisons_per_world: 3,
        syllogisms: 3,
        syllogisms_per_world: 3,
        hierarchies: 1,
        hierarchy: hierarchy(),
        variants: 2,
    };
    let vocab = config.vocab().unwrap();
    let study = StudySet::generate(&config, &sizes, &vocab, 5).unwrap();
    (config, vocab, study)
}

fn model(vocab: usize, device: &Device) -> (Decoder, DecoderConfig) {
    let shape = DecoderShape {
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        ffn_hidden: 64,
    };
    let config = shape.config(vocab, 256, false);
    (config.init(device), config)
}

/// `Σ log p(c_j | prompt, c_<j)` by one Burn forward pass over `prompt ++ c`.
fn forward_score(decoder: &Decoder, prompt: &[u32], candidate: &[u32]) -> f64 {
    let tokens: Vec<i64> = prompt
        .iter()
        .chain(candidate)
        .map(|&t| i64::from(t))
        .collect();
    let n = tokens.len();
    let device = Device::default();
    let input = Tensor::<2, Int>::from_data(TensorData::new(tokens.clone(), [1, n]), &device);
    let logp = log_softmax(decoder.forward(input, None, None, false).logits, 2);
    let values = logp.into_data().iter::<f32>().collect::<Vec<_>>();
    let vocab = values.len() / n;
    (prompt.len()..n)
        .map(|p| f64::from(values[(p - 1) * vocab + tokens[p] as usize]))
        .sum()
}

#[test]
fn likelihood_scoring_equals_a_forward_pass_per_candidate() {
    let _rng = device_rng_lock();
    let (_, vocab, study) = setup();
    let device = Device::default();
    seed_everything(&device, 3);
    let (decoder, config) = model(vocab.len(), &device);
    let engine = LmEngine::from_decoder(&decoder, &config);
    for item in study.tests.iter().take(12) {
        let x = prompt(Some(&study.contexts[item.world]));
        let scores = engine.score(&x, &item.choices).unwrap();
        let mut by_forward = Vec::new();
        for (s, c) in scores.iter().zip(&item.choices) {
            let reference = forward_score(&decoder, &x, c);
            assert!(
                (s.total() - reference).abs() < 2e-3,
                "{} vs {reference}",
                s.total()
            );
            by_forward.push(reference);
        }
        let right = evaluate(&engine, std::slice::from_ref(item), Some(&study.contexts)).unwrap();
        assert_eq!(
            right[0].correct,
            strictly_best(&by_forward) == Some(item.answer)
        );
    }
}

#[test]
fn local_augmentation_is_the_models_own_greedy_output() {
    let _rng = device_rng_lock();
    let (_, vocab, study) = setup();
    let device = Device::default();
    seed_everything(&device, 4);
    let (decoder, config) = model(vocab.len(), &device);
    let engine = LmEngine::from_decoder(&decoder, &config);
    let aug = augment(
        &engine,
        &study,
        AugKind::Local,
        &vocab,
        &AugConfig::default(),
    )
    .unwrap();
    assert_eq!(aug.len(), study.train_docs.len());
    // Regenerate the ⟨rev⟩ continuation of every first sentence by hand: whatever the
    // augmentation kept must be exactly one of the model's generations.
    let stop = vocab.word(".");
    for (doc, out) in study.train_docs.iter().zip(&aug) {
        let mut p = vec![BOS];
        p.extend(&doc.sentences[0]);
        p.push(REV);
        let request = Request {
            prompt: p,
            max_new_tokens: 12,
            seed: 0,
        };
        let options = GenerateOptions {
            sampler: Sampler::greedy(),
            stop_tokens: vec![stop],
        };
        let own = engine.generate(&[request], &options).unwrap().remove(0);
        let kept = own.tokens.last() == Some(&stop) && own.tokens.len() > 1;
        assert_eq!(out.sentences.first() == Some(&own.tokens), kept);
        assert!(out.sentences.iter().all(|s| s.last() == Some(&stop)));
    }
    let oracle = augment(
        &engine,
        &study,
        AugKind::Oracle,
        &vocab,
        &AugConfig::default(),
    )
    .unwrap();
    assert_eq!(oracle, study.oracle_aug);
}

#[test]
fn fine_tuning_a_clone_leaves_the_checkpoint_and_is_repeatable() {
    let _rng = device_rng_lock();
    let (_, vocab, study) = setup();
    let device = Device::default().autodiff();
    seed_everything(&device, 5);
    let (base, config) = model(vocab.len(), &device);
    let before = LmEngine::from_decoder(&base, &config)
        .score(&[BOS], &[vec![9, 10]])
        .unwrap();
    let settings = FinetuneConfig {
        lr: 3e-3,
        batch_size: 4,
        max_steps: 6,
        target_loss: 0.0,
        weight_decay: 0.0,
    };
    let docs = split_sentences(&study.train_docs, SplitMode::Independent);
    let (a, log) = finetune(base.clone(), &docs, &settings, 1).unwrap();
    let (b, _) = finetune(base.clone(), &docs, &settings, 1).unwrap();
    assert_eq!(log.steps, 6);
    let score = |m: &Decoder| {
        LmEngine::from_decoder(m, &config)
            .score(&[BOS], &[vec![9, 10]])
            .unwrap()
    };
    assert_eq!(score(&base), before, "the checkpoint changed");
    assert_eq!(score(&a), score(&b), "two clones, one seed, two results");
    assert_ne!(score(&a), before, "fine-tuning did nothing");
    assert!(finetune(base, &[], &settings, 1).is_err());
}

#[test]
fn splitting_gives_one_example_per_sentence() {
    let (_, _, study) = setup();
    let n: usize = study.train_docs.iter().map(|d| d.sentences.len()).sum();
    let independent = split_sentences(&study.train_docs, SplitMode::Independent);
    let cumulative = split_sentences(&study.train_docs, SplitMode::Cumulative);
    assert_eq!((independent.len(), cumulative.len()), (n, n));
    assert!(independent.iter().all(|d| d.sentences.len() == 1));
    let first = &study.train_docs[0];
    assert_eq!(cumulative[first.sentences.len() - 1], *first);
}

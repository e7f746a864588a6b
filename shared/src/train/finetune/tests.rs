use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;

use super::*;
use crate::nn::{DecoderConfig, RopeLayout};
use crate::train::flat::{FlatParam, flat_params, map_flat};
use crate::train::{LmBatch, LmTrainer, WarmupCosine, device_rng_lock, masked_cross_entropy};

/// Two blocks with grouped-query attention, so every projection shape occurs.
fn config() -> DecoderConfig {
    DecoderConfig {
        vocab_size: 16,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_hidden: 48,
        max_len: 16,
        rope_base: 10_000.0,
        rope_layout: RopeLayout::Adjacent,
        norm_eps: 1e-5,
        tied_embeddings: true,
    }
}

/// `rows` random sequences of `t` tokens with next-token targets; `masked` trailing targets
/// of each row left out of the loss.
fn batch(rows: usize, t: usize, masked: usize, seed: u64, device: &Device) -> LmBatch {
    let mut rng = crate::train::SeededRng::new(seed);
    let seqs: Vec<Vec<i64>> = (0..rows)
        .map(|_| (0..=t).map(|_| rng.below(16) as i64).collect())
        .collect();
    let ids = |offset: usize| {
        let flat: Vec<i64> = seqs
            .iter()
            .flat_map(|s| s[offset..offset + t].to_vec())
            .collect();
        Tensor::<2, Int>::from_data(TensorData::new(flat, [rows, t]), device)
    };
    let mask: Vec<f32> = (0..rows)
        .flat_map(|_| (0..t).map(|i| if i + masked < t { 1.0 } else { 0.0 }))
        .collect();
    LmBatch {
        tokens: ids(0),
        targets: ids(1),
        loss_mask: Tensor::from_data(TensorData::new(mask, [rows, t]), device),
        segments: None,
    }
}

fn loss(model: &Decoder, batch: &LmBatch) -> Tensor<1> {
    let out = model.forward(batch.tokens.clone(), None, None, false);
    masked_cross_entropy(out.logits, batch.targets.clone(), batch.loss_mask.clone())
}

fn logits(model: &Decoder, batch: &LmBatch) -> Vec<f32> {
    crate::host_values(
        model
            .forward(batch.tokens.clone(), None, None, false)
            .logits,
    )
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A LoRA model trained for a few steps, so that `B ≠ 0` and every adapter entry matters.
fn trained_lora(lora: &LoraConfig, device: &Device) -> (Decoder, Decoder) {
    let base = config().init(device);
    crate::train::materialize(&base);
    let mut model = attach_lora(base.clone(), lora).unwrap();
    let mut trainer = LmTrainer::new(WarmupCosine::constant(2e-2), 0.0);
    for seed in 0..3 {
        model = trainer.step(model, &batch(2, 8, 0, seed, device)).0;
    }
    (base, model)
}

#[test]
fn lora_with_its_b_at_zero_is_the_base_model() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(1);
    let base = config().init(&device);
    crate::train::materialize(&base);
    let lora = LoraConfig {
        rank: 4,
        alpha: 8.0,
        targets: vec![Projection::Query, Projection::Value, Projection::Down],
    };
    let adapted = attach_lora(base.clone(), &lora).unwrap();
    let input = batch(2, 8, 0, 7, &device);
    assert_eq!(logits(&adapted, &input), logits(&base, &input));
    // Per block: query 32→32, value 32→16 (two key/value heads of 8), down 48→32; each adapter
    // holds r·(d_in + d_out) numbers, and nothing else trains.
    let per_block = 4 * ((32 + 32) + (32 + 16) + (48 + 32));
    assert_eq!(crate::train::trainable_params(&adapted), 2 * per_block);
    assert!(crate::train::trainable_params(&base) > 2 * per_block);
}

#[test]
fn lora_gradients_reach_only_the_adapters_and_equal_finite_differences() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(2);
    let lora = LoraConfig {
        rank: 2,
        alpha: 4.0,
        targets: vec![Projection::Key, Projection::Gate],
    };
    let (_, model) = trained_lora(&lora, &device);
    let input = batch(2, 8, 2, 11, &device);
    let grads = GradientsParams::from_grads(loss(&model, &input).backward(), &model);
    let params = flat_params(&model);
    let adapters: Vec<&FlatParam> = params
        .iter()
        .filter(|p| p.name.contains(".lora."))
        .collect();
    assert_eq!(
        adapters.len(),
        2 * 2 * 2,
        "A and B of two projections in two blocks"
    );
    assert_eq!(
        grads.len(),
        adapters.len(),
        "gradients for the adapters only"
    );
    for p in &params {
        let is_adapter = p.name.contains(".lora.");
        assert_eq!(grads.get::<2>(p.id).is_some(), is_adapter, "{}", p.name);
    }
    let loss_at = |id: ParamId, index: usize, delta: f32| -> f64 {
        let moved = map_flat(model.clone(), |pid, value| {
            if pid != id {
                return value;
            }
            let mut host = crate::host_values(value.clone());
            host[index] += delta;
            Tensor::from_data(TensorData::new(host, [value.dims()[0]]), &value.device())
        });
        loss(&moved, &input).into_scalar::<f64>()
    };
    let eps = 1e-2;
    for p in &adapters {
        let analytic = crate::host_values(grads.get::<2>(p.id).unwrap());
        // The entry with the largest gradient: a check that can fail.
        let (index, &g) = analytic
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap();
        let numeric = (loss_at(p.id, index, eps) - loss_at(p.id, index, -eps)) / (2.0 * eps as f64);
        assert!(
            (numeric - f64::from(g)).abs() <= 1e-4 + 0.01 * numeric.abs(),
            "{}[{index}]: analytic {g}, finite differences {numeric}",
            p.name
        );
    }
    // A frozen weight still moves the loss; it just gets no gradient.
    let frozen = params
        .iter()
        .find(|p| p.name == "blocks.0.attn.key.weight")
        .unwrap();
    let moved = (loss_at(frozen.id, 0, 0.5) - loss_at(frozen.id, 0, -0.5)).abs();
    assert!(
        moved > 1e-6,
        "the frozen key weight does not affect the loss"
    );
}

#[test]
fn saved_adapters_reload_to_the_same_logits() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(3);
    let lora = LoraConfig::all_projections(3);
    let (base, model) = trained_lora(&lora, &device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adapters.bpk");
    save_trainable(&model, &path).unwrap();
    // The file holds the adapters, not the 16·32 embedding or any other frozen weight.
    let record = ModuleRecord::load(&path).unwrap();
    assert_eq!(record.len(), 2 * 7 * 2);

    // A fresh attachment draws other A factors; loading puts the trained ones back.
    let fresh = attach_lora(base.clone(), &lora).unwrap();
    let input = batch(2, 8, 0, 5, &device);
    assert!(max_diff(&logits(&fresh, &input), &logits(&model, &input)) > 1e-4);
    let reloaded = load_trainable(fresh, &path).unwrap();
    assert_eq!(logits(&reloaded, &input), logits(&model, &input));

    // Adapters of another rank, or on projections the model does not adapt, are refused.
    let other_rank = attach_lora(base.clone(), &LoraConfig::all_projections(2)).unwrap();
    assert!(load_trainable(other_rank, &path).is_err());
    let fewer = LoraConfig {
        targets: vec![Projection::Query],
        ..lora
    };
    let err = load_trainable(attach_lora(base, &fewer).unwrap(), &path).unwrap_err();
    assert!(err.to_string().contains("adapters.bpk"), "{err}");
}

#[test]
fn full_fine_tuning_trains_and_saves_every_weight() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(4);
    let base = config().init(&device);
    crate::train::materialize(&base);
    let mut model = FineTuning::Full.prepare(base.clone()).unwrap();
    let mut trainer = LmTrainer::new(WarmupCosine::constant(1e-2), 0.0);
    model = trainer.step(model, &batch(2, 8, 0, 1, &device)).0;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.bpk");
    save_trainable(&model, &path).unwrap();
    let reloaded = load_trainable(config().init(&device), &path).unwrap();
    let input = batch(1, 8, 0, 9, &device);
    assert!(max_diff(&logits(&base, &input), &logits(&model, &input)) > 1e-4);
    assert_eq!(logits(&reloaded, &input), logits(&model, &input));
    // A frozen model has nothing to save, and says so.
    let err = save_trainable(&model.no_grad(), &path).unwrap_err();
    assert!(err.to_string().contains("autodiff"), "{err}");
}

#[test]
fn accumulated_micro_batches_take_the_step_of_one_batch() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(5);
    let model = config().init(&device);
    crate::train::materialize(&model);
    // Unequal token counts (8 and 5 per row), so a plain mean of the two losses would differ.
    let (first, second) = (batch(2, 8, 0, 21, &device), batch(2, 8, 3, 22, &device));
    let whole = LmBatch {
        tokens: Tensor::cat(vec![first.tokens.clone(), second.tokens.clone()], 0),
        targets: Tensor::cat(vec![first.targets.clone(), second.targets.clone()], 0),
        loss_mask: Tensor::cat(vec![first.loss_mask.clone(), second.loss_mask.clone()], 0),
        segments: None,
    };
    let mut one = LmTrainer::new(WarmupCosine::constant(1e-2), 0.1);
    let (after_one, loss_one) = one.step(model.clone(), &whole);
    let mut two = LmTrainer::new(WarmupCosine::constant(1e-2), 0.1);
    let (after_two, loss_two) = two.step_accumulated(model, &[first, second]);
    assert!(
        (loss_one - loss_two).abs() < 1e-5,
        "{loss_one} vs {loss_two}"
    );
    let a = crate::train::parameter_values(&after_one);
    let b = crate::train::parameter_values(&after_two);
    assert!(max_diff(&a, &b) < 1e-5, "{}", max_diff(&a, &b));
    assert_eq!(two.step_count(), 1);
}

#[test]
fn kl_to_the_reference_has_its_closed_form_and_no_reference_gradient() {
    let device = Device::default().autodiff();
    // p = (½, ½), p_ref = (¾, ¼): KL = ½ ln(⅔) + ½ ln 2 = ½ ln(4/3); the second position is
    // masked out.
    let logits = Tensor::<3>::from_floats([[[0.0, 0.0], [5.0, 0.0]]], &device).require_grad();
    let reference = Tensor::<3>::from_floats([[[3f32.ln(), 0.0], [0.0, 5.0]]], &device);
    let mask = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
    let kl = kl_to_reference(logits.clone(), reference.clone(), mask.clone());
    let value = kl.clone().into_scalar::<f64>();
    assert!((value - 0.5 * (4.0f64 / 3.0).ln()).abs() < 1e-6, "{value}");
    let same = kl_to_reference(logits.clone(), logits.clone(), mask).into_scalar::<f64>();
    assert!(same.abs() < 1e-7, "{same}");
    let grads = kl.backward();
    assert!(logits.grad(&grads).is_some());
}

#[test]
fn the_frozen_reference_stays_put_while_the_model_trains() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(6);
    let model = attach_lora(config().init(&device), &LoraConfig::all_projections(2)).unwrap();
    let reference = frozen_reference(&model);
    let input = batch(2, 8, 0, 3, &device);
    let before = logits(&reference, &input);
    let mut trainer = LmTrainer::new(WarmupCosine::constant(2e-2), 0.0);
    let (mut model, _) = trainer.step(model, &input);
    // A KL-penalised step: gradients reach the model's adapters, none the reference.
    let (next, _) = trainer.step_with(model, |m| {
        let out = m.forward(input.tokens.clone(), None, None, false).logits;
        let ref_out = reference
            .forward(input.tokens.clone(), None, None, false)
            .logits;
        masked_cross_entropy(out.clone(), input.targets.clone(), input.loss_mask.clone())
            + kl_to_reference(out, ref_out, input.loss_mask.clone()).mul_scalar(0.1)
    });
    model = next;
    assert_eq!(trainable_ids(&reference), Vec::<ParamId>::new());
    assert_eq!(logits(&reference, &input), before);
    assert!(max_diff(&logits(&model, &input), &before) > 1e-4);
}

#[test]
fn the_engine_serves_an_adapted_model_with_the_update_merged() {
    let _rng = device_rng_lock();
    let device = Device::default().autodiff();
    device.seed(7);
    let (_, model) = trained_lora(&LoraConfig::all_projections(2), &device);
    let engine = crate::lm::LmEngine::from_decoder(&model, &config());
    let (prompt, continuation) = (vec![1u32, 4, 9, 2], vec![7u32, 3, 3]);
    let score = &engine
        .score(&prompt, std::slice::from_ref(&continuation))
        .unwrap()[0];
    let ids: Vec<u32> = prompt.iter().chain(&continuation).copied().collect();
    let tensor = Tensor::<2, Int>::from_data(
        TensorData::new(ids.iter().map(|&i| i64::from(i)).collect(), [1, ids.len()]),
        &device,
    );
    let log_p = crate::host_values(log_softmax(
        model.forward(tensor, None, None, false).logits,
        2,
    ));
    for (j, &token) in continuation.iter().enumerate() {
        let row = prompt.len() - 1 + j;
        let burn = log_p[row * 16 + token as usize];
        assert!(
            (burn - score.token_logprobs[j]).abs() < 1e-4,
            "token {j}: Burn {burn}, engine {}",
            score.token_logprobs[j]
        );
    }
}

#[test]
fn lora_settings_are_checked_with_clear_messages() {
    let check = |c: LoraConfig| c.validate(32).unwrap_err().to_string();
    let good = LoraConfig::all_projections(4);
    assert!(good.validate(32).is_ok());
    assert!(
        check(LoraConfig {
            rank: 0,
            ..good.clone()
        })
        .contains("rank 0")
    );
    assert!(
        check(LoraConfig {
            rank: 64,
            ..good.clone()
        })
        .contains("width 32")
    );
    assert!(
        check(LoraConfig {
            alpha: -1.0,
            ..good.clone()
        })
        .contains("alpha")
    );
    assert!(
        check(LoraConfig {
            targets: vec![],
            ..good.clone()
        })
        .contains("at least one")
    );
    let twice = vec![Projection::Query, Projection::Query];
    assert!(
        check(LoraConfig {
            targets: twice,
            ..good
        })
        .contains("twice")
    );
    let parsed: LoraConfig =
        ron::from_str("(rank: 4, alpha: 8.0, targets: [query, value])").unwrap();
    assert_eq!(parsed.targets, vec![Projection::Query, Projection::Value]);
    let unknown =
        ron::from_str::<LoraConfig>("(rank: 4, alpha: 8.0, targets: [query], dropout: 0.1)");
    assert!(unknown.unwrap_err().to_string().contains("dropout"));
    let typo = ron::from_str::<LoraConfig>("(rank: 4, alpha: 8.0, targets: [querry])");
    assert!(typo.unwrap_err().to_string().contains("querry"));
}

//! The method's checks: RL fine-tuning moves the policy the way Eq 2 says, and a tiny SPT
//! learns a dominant arm.
#![allow(clippy::unwrap_used)]

use burn::prelude::*;
use kiln_core::nn::DecoderShape;
use kiln_core::train::{SeededRng, WarmupCosine, device_rng_lock, seed_everything};
use kiln_greedy_agents::env::{BanditConfig, MeanPrior, Noise, Variant};
use kiln_greedy_agents::history::UcbBonus;
use kiln_greedy_agents::play::{Acting, play_bandits};
use kiln_greedy_agents::policy::{PolicyError, Spt, SptConfig, TextGeneration, TextPolicy};
use kiln_greedy_agents::rlft::{
    OptimizerKind, RewardShaping, RlTrainer, RlftConfig, RunningStd, Transition, UpdateConfig,
    train_bandits, transitions,
};
use kiln_greedy_agents::sft::{CloneConfig, Mixture, behaviour_clone};
use kiln_greedy_agents::text::{BanditPrompt, Lexer, PromptStyle};

fn tiny() -> SptConfig {
    SptConfig {
        shape: DecoderShape {
            d_model: 32,
            n_layers: 1,
            n_heads: 2,
            ffn_hidden: 64,
        },
        max_len: 64,
    }
}

fn two_arms(horizon: usize) -> (BanditConfig, BanditPrompt) {
    let config = BanditConfig {
        arms: 2,
        horizon,
        noise: Noise::Gaussian { std: 0.1 },
        prior: MeanPrior::Fixed(vec![0.0, 1.0]),
        variant: Variant::Button,
    };
    let prompt = BanditPrompt {
        labels: config.labels(),
        variant: config.variant,
        horizon,
        style: PromptStyle {
            chain_of_thought: false,
            ..PromptStyle::default()
        },
    };
    (config, prompt)
}

fn update_config(lr: f64) -> UpdateConfig {
    UpdateConfig {
        batch: 32,
        epochs: 1,
        schedule: WarmupCosine::constant(lr),
        optimizer: OptimizerKind::AdamW,
        grad_clip: 1.0,
        clip: 0.2,
        kl_beta: 0.05,
    }
}

/// A policy that never names an arm.
struct Mute;

impl TextPolicy for Mute {
    fn generate(
        &self,
        prompts: &[String],
        _: usize,
        _: f32,
        _: &[u64],
    ) -> Result<Vec<TextGeneration>, PolicyError> {
        Ok(prompts
            .iter()
            .map(|_| TextGeneration {
                prompt: vec![1],
                tokens: vec![2],
                logprobs: vec![0.0],
                text: "I would rather not say. ACTION=none".into(),
            })
            .collect())
    }

    fn score(&self, _: &str, c: &[String]) -> Result<Vec<f64>, PolicyError> {
        Ok(vec![0.0; c.len()])
    }
}

#[test]
fn answers_without_an_action_execute_random_arms_and_cost_the_penalty() {
    let mut config = BanditConfig::gaussian_buttons(4);
    config.horizon = 200;
    let prompt = BanditPrompt {
        labels: config.labels(),
        variant: config.variant,
        horizon: 200,
        style: PromptStyle::default(),
    };
    let mut bandits = vec![config.sample(0).unwrap(), config.sample(1).unwrap()];
    let acting = Acting {
        budget: 8,
        temperature: 1.0,
    };
    let episodes = play_bandits(&Mute, &mut bandits, &prompt, acting, 3).unwrap();
    let e = &episodes[0];
    assert_eq!(e.invalid_rate(), 1.0);
    let counts = e.history.counts();
    assert!(counts.iter().all(|&n| n > 30), "random arms: {counts:?}");
    // Shaped rewards without normalisation: every step pays r − 5, so the rewards-to-go of
    // step 0 exceed those of step 1 by r_0 − 5 in every episode, and so do the advantages.
    let shaping = RewardShaping {
        normalize: false,
        ..RewardShaping::default()
    };
    let rows = transitions(&episodes, &shaping, &mut RunningStd::default());
    let r0: Vec<f64> = episodes.iter().map(|e| e.history.rewards()[0]).collect();
    let gap = |k: usize| rows[k * 200].advantage - rows[k * 200 + 1].advantage;
    let mean_r0 = (r0[0] + r0[1]) / 2.0;
    assert!((gap(0) - (r0[0] - mean_r0)).abs() < 1e-9);
    assert!((gap(0) + gap(1)).abs() < 1e-9);
}

/// `log π(answer | prompt)` of each row under the engine of `spt`.
fn answer_logps(spt: &Spt, rows: &[Transition]) -> Vec<f64> {
    let engine = spt.engine();
    rows.iter()
        .map(|t| {
            engine
                .score(&t.prompt, std::slice::from_ref(&t.answer))
                .unwrap()[0]
                .total()
        })
        .collect()
}

#[test]
fn an_update_raises_positive_advantage_answers_and_starts_at_zero_kl() {
    let _lock = device_rng_lock();
    seed_everything(&Device::default(), 0);
    let device = Device::default().autodiff();
    let (config, prompt) = two_arms(3);
    let spt = Spt::new(&tiny(), Lexer::new(&config.labels()), &device).unwrap();
    let mut bandits: Vec<_> = (0..4).map(|s| config.sample(s).unwrap()).collect();
    let acting = Acting {
        budget: 4,
        temperature: 1.0,
    };
    let episodes = play_bandits(&spt, &mut bandits, &prompt, acting, 1).unwrap();
    let mut rows = transitions(
        &episodes,
        &RewardShaping::default(),
        &mut RunningStd::default(),
    );
    let before = answer_logps(&spt, &rows);
    // The engine's recorded log-probabilities are the Burn decoder's: ρ = 1 at the start.
    for (t, b) in rows.iter().zip(&before) {
        let recorded: f64 = t.old_logp.iter().map(|&l| f64::from(l)).sum();
        assert!((recorded - b).abs() < 1e-3, "{recorded} vs {b}");
    }
    // One step with every advantage +1 raises the sampled answers; with −1 it lowers them.
    for sign in [1.0, -1.0] {
        for t in &mut rows {
            t.advantage = sign;
        }
        let mut trainer = RlTrainer::new(update_config(1e-3), &spt.decoder);
        let (decoder, stats) = trainer.update(spt.decoder.clone(), &rows, &mut SeededRng::new(0));
        assert_eq!(stats.steps, 1);
        assert!(stats.kl.abs() < 1e-6, "KL at the reference: {}", stats.kl);
        let after = answer_logps(
            &Spt {
                decoder,
                ..spt.clone()
            },
            &rows,
        );
        let changes: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        let risen = changes.iter().filter(|&&d| d * sign > 0.0).count();
        assert!(risen == rows.len(), "A = {sign}: changes {changes:?}");
    }
}

#[test]
fn a_tiny_spt_learns_the_dominant_arm_by_rl() {
    let _lock = device_rng_lock();
    seed_everything(&Device::default(), 0);
    let device = Device::default().autodiff();
    let (config, prompt) = two_arms(4);
    let spt = Spt::new(&tiny(), Lexer::new(&config.labels()), &device).unwrap();
    // Behaviour cloning on uniformly random actions teaches the answer format only.
    let clone = CloneConfig {
        bandits: config.clone(),
        mixture: Mixture {
            greedy: 0.0,
            frequent: 0.0,
            ucb: 0.0,
            uniform: 1.0,
        },
        bonus: UcbBonus::default(),
        steps: 40,
        batch: 32,
        schedule: WarmupCosine::constant(1e-2),
    };
    let (spt, losses) = behaviour_clone(spt, &clone, &prompt, 0, |_, _| {}).unwrap();
    assert!(
        losses[39] < 0.5 * losses[0],
        "{} → {}",
        losses[0],
        losses[39]
    );
    let start = spt.lexer.lex(&prompt.render(&Default::default())).unwrap();
    let cloned = spt
        .action_distribution(&spt.engine(), &start, 2, false)
        .unwrap();
    assert!(
        (cloned[1] - 0.5).abs() < 0.2,
        "after cloning uniform play: {cloned:?}"
    );
    let rl = RlftConfig {
        rollouts: 40,
        envs_per_rollout: 8,
        pool: 8,
        acting: Acting {
            budget: 4,
            temperature: 1.0,
        },
        update: update_config(3e-3),
        shaping: RewardShaping::default(),
    };
    let (spt, stats) = train_bandits(spt, &config, &prompt, &rl, 0, |_| {}).unwrap();
    let first = stats[0].regret;
    let engine = spt.engine();
    let p = spt.action_distribution(&engine, &start, 2, false).unwrap();
    assert!(
        p[1] > 0.9,
        "P(dominant arm) = {:.3} (regret {first:.2} → {:.2})",
        p[1],
        stats[39].regret
    );
    assert!(stats[39].invalid < 0.05);
}

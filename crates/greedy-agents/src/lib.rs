//! # kiln-greedy-agents: LLMs are greedy agents, and RL fine-tuning on their own rationales
//!
//! Schmied, Bornschein, Grau-Moya, Wulfmeier, Pascanu (2025), *LLMs are Greedy Agents:
//! Effects of RL Fine-tuning on Decision-Making Abilities*, arXiv 2504.16078.
//!
//! The paper's diagnosis: a language model playing a text bandit explores too little
//! (greediness), repeats what it did most (frequency bias), and often computes the right UCB
//! arm in its reasoning without acting on it (the knowing–doing gap). Its remedy: RL
//! fine-tuning on the model's own chain-of-thought and action tokens.
//!
//! ## The environments (§2, App A)
//!
//! [`env`]: Gaussian and Bernoulli `k`-armed bandits, `r ~ N(μ_a, σ²)`, regret
//! `Σ_t (μ* − μ_{a_t})`; tic-tac-toe against random, minimax and MCTS opponents. [`text`]
//! writes the prompts (task, output instruction, `Step=i Action=X Reward=r` history, query)
//! and reads actions back: the *last* valid `ACTION=X` wins, and an answer without one runs a
//! random arm.
//!
//! ## The measurements (§4.2, App C)
//!
//! [`metrics`]: cumulative regret, coverage `C_t = |{a : N_t(a) > 0}| / k`, the
//! frequency-bias classes (greedy, frequent, other), the knowing–doing matrix, bootstrap
//! confidence intervals; [`probe`]: the frequency-bias probe (an arm's last step repeated
//! 0–100 times); [`baselines`]: UCB, greedy, ε-greedy, random.
//!
//! ## RL fine-tuning (§3, Eq 2)
//!
//! ```text
//! max_θ  E[ min(ρ A, clip(ρ, 1 ± ε) A) ] − β KL(π_θ ‖ π_ref),   ρ = π_θ(z | c) / π_old(z | c)
//! z = [z_CoT; a]  (every generated token),   r = norm(r_env) − 5·1[no valid action] (+ bonus)
//! A_t = Σ_{t' ≥ t} r_t' − b_t
//! ```
//!
//! [`rlft`] holds the loss, the advantages, the shaping and the rollout–update loop; [`play`]
//! runs any [`TextPolicy`](policy::TextPolicy) on a batch of bandits.
//!
//! ## The policy on 2 cores
//!
//! The paper fine-tunes Gemma 2 (2B–27B). Here the policy is a small decoder over compact
//! tokens, the synthetic-prior transformer ([`policy::Spt`]): it reads the same prompt text
//! through a lexer, answers in the grammar `[UCB] u [GRD] g [ACT] a`, and its "pre-training"
//! is behaviour cloning on episodes whose actions mix greedy, most-frequent, UCB and random
//! play ([`sft`]), which plants the biases the paper finds in LLMs. It can test what RL
//! fine-tuning does to such biases; it cannot test whether a pretrained LLM has them.
//!
//! ```
//! use burn::prelude::*;
//! use kiln_greedy_agents::env::BanditConfig;
//! use kiln_greedy_agents::play::{Acting, play_bandits};
//! use kiln_greedy_agents::policy::{Spt, SptConfig};
//! use kiln_greedy_agents::text::{BanditPrompt, Lexer, PromptStyle};
//!
//! let config = BanditConfig::gaussian_buttons(5);
//! let prompt = BanditPrompt {
//!     labels: config.labels(),
//!     variant: config.variant,
//!     horizon: 10,
//!     style: PromptStyle::default(),
//! };
//! let spt = Spt::new(&SptConfig::default(), Lexer::new(&config.labels()), &Device::default())?;
//! let mut bandits = vec![config.sample(0)?, config.sample(1)?];
//! let acting = Acting { budget: 8, temperature: 1.0 };
//! let episodes = play_bandits(&spt, &mut bandits, &prompt, acting, 0)?;
//! // An untrained policy rarely writes a valid answer: its arms are mostly random.
//! assert!(episodes[0].invalid_rate() > 0.5);
//! # Ok::<(), kiln_greedy_agents::policy::PolicyError>(())
//! ```

pub mod baselines;
pub mod batch;
pub mod env;
pub mod history;
pub mod metrics;
pub mod play;
pub mod policy;
pub mod probe;
pub mod rlft;
pub mod sft;
pub mod text;

pub use history::{History, UcbBonus};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

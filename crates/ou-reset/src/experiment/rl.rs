//! Off-policy reinforcement learning under a switching reward: a DQN with a replay buffer on
//! a small gridworld whose rewarded corner moves every few episodes (our own design; the paper's
//! RL setting could not be read).
//!
//! The agent starts in the centre of a `n × n` grid and sees only its own cell (one-hot); the
//! corner that pays +1 (and ends the episode) cycles through the four corners, one phase each;
//! every other step costs 0.01. The Q-network is trained on the squared TD error
//! `½ (Q(s, a) − r − γ_d (1 − done) max_a' Q_target(s', a'))²` (a unit-variance Gaussian
//! negative log-likelihood), so a soft reset estimates its drift from the same loss.

use burn::prelude::*;
use kiln_core::nn::Mlp;
use kiln_core::train::{PhaseStore, SeededRng, derive_seed, materialize, seed_everything};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, MethodKind, MethodsConfig, RlConfig};
use super::methods;
use kiln_core::cli::ExperimentError;

/// One DQN run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RlRun {
    /// The method.
    pub method: MethodKind,
    /// The seed.
    pub seed: u64,
    /// The return of every episode.
    pub returns: Vec<f64>,
    /// Wall time (s).
    pub seconds: f64,
}

/// One transition.
#[derive(Debug, Clone, Copy)]
struct Transition {
    state: usize,
    action: usize,
    reward: f32,
    next: usize,
    done: bool,
}

/// The gridworld.
struct Grid {
    size: usize,
}

impl Grid {
    fn start(&self) -> usize {
        (self.size / 2) * self.size + self.size / 2
    }

    fn goal(&self, phase: usize) -> usize {
        let n = self.size - 1;
        [(0, 0), (0, n), (n, n), (n, 0)].map(|(r, c)| r * self.size + c)[phase % 4]
    }

    /// The next cell after `action` (up, right, down, left), walls stopping the move.
    fn step(&self, state: usize, action: usize) -> usize {
        let (r, c) = (state / self.size, state % self.size);
        let (r, c) = match action {
            0 => (r.saturating_sub(1), c),
            1 => (r, (c + 1).min(self.size - 1)),
            2 => ((r + 1).min(self.size - 1), c),
            _ => (r, c.saturating_sub(1)),
        };
        r * self.size + c
    }
}

fn one_hot(states: &[usize], cells: usize, device: &Device) -> Tensor<2> {
    let mut x = vec![0.0f32; states.len() * cells];
    for (i, &s) in states.iter().enumerate() {
        x[i * cells + s] = 1.0;
    }
    Tensor::from_data(TensorData::new(x, [states.len(), cells]), device)
}

/// Runs every method and seed of `config.rl`, `workers` at a time, each a phase.
///
/// # Errors
/// If a phase cannot be saved.
pub fn run_all(
    config: &ExperimentConfig,
    offset: u64,
    device: &Device,
    phases: &mut PhaseStore,
) -> Result<Vec<RlRun>, ExperimentError> {
    let Some(rl) = &config.rl else {
        return Ok(Vec::new());
    };
    let methods_config = MethodsConfig {
        lr: rl.lr,
        soft_reset: rl.soft_reset.clone(),
        ..config.methods.clone()
    };
    let cells = rl.size * rl.size;
    let widths: Vec<usize> = std::iter::once(cells)
        .chain(rl.hidden.iter().copied())
        .chain([4])
        .collect();
    let mut jobs = Vec::new();
    for &seed in &rl.seeds {
        let seed = seed + offset;
        for &method in &rl.methods {
            seed_everything(device, derive_seed(seed, "rl-init"));
            let model = Mlp::new(&widths, device);
            materialize(&model);
            jobs.push((format!("rl-{method:?}-seed{seed}"), (method, seed, model)));
        }
    }
    eprintln!(
        "ou-reset: DQN under a switching reward ({} runs)",
        jobs.len()
    );
    phases.run_parallel(jobs, config.workers, |(method, seed, model)| {
        Ok::<_, ExperimentError>(run_one(rl, &methods_config, method, seed, model))
    })
}

/// One DQN run of `method` from `model`.
fn run_one(
    rl: &RlConfig,
    methods_config: &MethodsConfig,
    method: MethodKind,
    seed: u64,
    model: Mlp,
) -> RlRun {
    let start = std::time::Instant::now();
    let device = model.devices().into_iter().next().unwrap_or_default();
    let grid = Grid { size: rl.size };
    let cells = rl.size * rl.size;
    let mut learner = methods::build(method, &model, methods_config, seed);
    let mut rng = SeededRng::new(derive_seed(seed, "rl"));
    let mut replay: Vec<Transition> = Vec::with_capacity(rl.replay);
    let mut model = model;
    let mut target = model.valid();
    let (mut updates, mut returns) = (0usize, Vec::new());
    for episode in 0..rl.phases * rl.episodes_per_phase {
        let phase = episode / rl.episodes_per_phase;
        let mut switched = episode > 0 && episode % rl.episodes_per_phase == 0;
        let (mut state, mut total) = (grid.start(), 0.0);
        for _ in 0..rl.max_steps {
            let action = if rng.next_f64() < rl.epsilon {
                rng.below(4)
            } else {
                let q = model
                    .valid()
                    .forward(one_hot(&[state], cells, &device).inner());
                usize::try_from(q.argmax(1).into_scalar::<i64>()).unwrap_or(0)
            };
            let next = grid.step(state, action);
            let done = next == grid.goal(phase);
            let reward = if done { 1.0 } else { -0.01 };
            total += f64::from(reward);
            let t = Transition {
                state,
                action,
                reward,
                next,
                done,
            };
            if replay.len() < rl.replay {
                replay.push(t);
            } else {
                replay[updates % rl.replay] = t;
            }
            if replay.len() >= rl.batch_size {
                let batch: Vec<Transition> = (0..rl.batch_size)
                    .map(|_| replay[rng.below(replay.len())])
                    .collect();
                model = td_update(&mut *learner, model, &target, &batch, rl, switched, &device);
                switched = false;
                updates += 1;
                if updates.is_multiple_of(rl.target_every) {
                    target = model.valid();
                }
            }
            state = next;
            if done {
                break;
            }
        }
        returns.push(total);
    }
    RlRun {
        method,
        seed,
        returns,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// One update of the Q-network on the TD errors of `batch`.
fn td_update(
    learner: &mut dyn crate::StreamLearner<Mlp>,
    model: Mlp,
    target: &Mlp,
    batch: &[Transition],
    rl: &RlConfig,
    boundary: bool,
    device: &Device,
) -> Mlp {
    let cells = rl.size * rl.size;
    let next: Vec<usize> = batch.iter().map(|t| t.next).collect();
    let best = target.forward(one_hot(&next, cells, device).inner());
    let best = Tensor::from_inner(best.max_dim(1).squeeze_dim::<1>(1));
    let reward: Vec<f32> = batch.iter().map(|t| t.reward).collect();
    let live: Vec<f32> = batch
        .iter()
        .map(|t| if t.done { 0.0 } else { 1.0 })
        .collect();
    let b = batch.len();
    let y = Tensor::<1>::from_data(TensorData::new(reward, [b]), device)
        + best * Tensor::<1>::from_data(TensorData::new(live, [b]), device).mul_scalar(rl.discount);
    let states: Vec<usize> = batch.iter().map(|t| t.state).collect();
    let actions: Vec<i64> = batch.iter().map(|t| t.action as i64).collect();
    let x = one_hot(&states, cells, device);
    let a = Tensor::<1, Int>::from_data(TensorData::new(actions, [b]), device);
    let nll = |m: &Mlp| {
        let q = m
            .forward(x.clone())
            .gather(1, a.clone().unsqueeze_dim(1))
            .squeeze_dim::<1>(1);
        (q - y.clone()).square().mul_scalar(0.5)
    };
    learner.step(model, boundary, &nll).0
}

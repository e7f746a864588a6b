//! A plain `f64` transcription of the update rules, one vector at a time (the global scope over
//! that vector). It is the yardstick the Burn optimizers are tested against, and the engine of
//! the toy-quadratic stability study.

use crate::{AdaTamConfig, FirstStep, TamConfig};

/// `S = ⟨m, g⟩ / (‖m‖ ‖g‖)`, clamped, 0 when either is zero.
pub fn cosine(m: &[f64], g: &[f64]) -> f64 {
    let dot: f64 = m.iter().zip(g).map(|(a, b)| a * b).sum();
    let mm: f64 = m.iter().map(|a| a * a).sum();
    let gg: f64 = g.iter().map(|b| b * b).sum();
    let norms = mm.sqrt() * gg.sqrt();
    if norms == 0.0 {
        0.0
    } else {
        (dot / norms).clamp(-1.0, 1.0)
    }
}

/// The damping state shared by both rules: `ŝ` and the previous momentum.
#[derive(Debug, Clone)]
struct Damping {
    smoothing: f64,
    floor: f64,
    undamped: bool,
    first_step: FirstStep,
    s_hat: f64,
    cosine: Option<f64>,
}

impl Damping {
    /// The weight `ε + d_t` of the new gradient, given the previous momentum (`None`: none yet).
    fn kick(&mut self, previous: Option<&[f64]>, grad: &[f64]) -> f64 {
        let previous = match (previous, self.first_step) {
            (Some(m), _) => m.to_vec(),
            (None, FirstStep::ZeroMomentum) => vec![0.0; grad.len()],
            (None, FirstStep::CopyGrad) => return 1.0,
        };
        if self.undamped {
            return 1.0;
        }
        let s = cosine(&previous, grad);
        self.s_hat = self.smoothing * self.s_hat + (1.0 - self.smoothing) * s;
        self.cosine = Some(s);
        self.floor + (1.0 + self.s_hat) / 2.0
    }
}

/// TAM on one vector.
#[derive(Debug, Clone)]
pub struct ReferenceTam {
    config: TamConfig,
    damping: Damping,
    momentum: Option<Vec<f64>>,
}

impl ReferenceTam {
    /// A fresh optimizer.
    pub fn new(config: &TamConfig) -> Self {
        Self {
            damping: Damping {
                smoothing: config.smoothing,
                floor: config.eps,
                undamped: config.force_sgdm,
                first_step: config.first_step,
                s_hat: 0.0,
                cosine: None,
            },
            config: config.clone(),
            momentum: None,
        }
    }

    /// One step on `theta` with gradient `grad`; returns the weight `ε + d_t` it gave the
    /// gradient (1 on a `CopyGrad` first step).
    pub fn step(&mut self, theta: &mut [f64], grad: &[f64], lr: f64) -> f64 {
        let c = &self.config;
        let kick = self.damping.kick(self.momentum.as_deref(), grad);
        let penalty = c
            .weight_decay
            .as_ref()
            .map_or(0.0, |w| f64::from(w.penalty));
        let mut g = grad.to_vec();
        if c.decoupled_weight_decay {
            theta.iter_mut().for_each(|t| *t *= 1.0 - lr * penalty);
        } else {
            g.iter_mut()
                .zip(theta.iter())
                .for_each(|(g, t)| *g += penalty * t);
        }
        let m = self.momentum.get_or_insert_with(|| vec![0.0; g.len()]);
        for i in 0..g.len() {
            m[i] = c.momentum * m[i] + kick * g[i];
            let direction = if c.nesterov {
                c.momentum * m[i] + kick * g[i]
            } else {
                m[i]
            };
            theta[i] -= lr * direction;
        }
        kick
    }

    /// `ŝ` after the last step.
    pub fn s_hat(&self) -> f64 {
        self.damping.s_hat
    }

    /// The last cosine taken.
    pub fn cosine(&self) -> Option<f64> {
        self.damping.cosine
    }

    /// `m` after the last step.
    pub fn momentum(&self) -> Option<&[f64]> {
        self.momentum.as_deref()
    }
}

/// AdaTAM on one vector.
#[derive(Debug, Clone)]
pub struct ReferenceAdaTam {
    config: AdaTamConfig,
    damping: Damping,
    momentum: Option<Vec<f64>>,
    second: Vec<f64>,
    steps: i32,
}

impl ReferenceAdaTam {
    /// A fresh optimizer.
    pub fn new(config: &AdaTamConfig) -> Self {
        Self {
            damping: Damping {
                smoothing: config.smoothing,
                floor: config.eps_damp,
                undamped: config.force_adam,
                first_step: config.first_step,
                s_hat: 0.0,
                cosine: None,
            },
            config: config.clone(),
            momentum: None,
            second: Vec::new(),
            steps: 0,
        }
    }

    /// One step; returns the weight `ε_d + d_t` it gave the gradient.
    pub fn step(&mut self, theta: &mut [f64], grad: &[f64], lr: f64) -> f64 {
        let c = &self.config;
        let kick = self.damping.kick(self.momentum.as_deref(), grad);
        let scale = if c.ema_first_moment {
            1.0 - c.beta1
        } else {
            1.0
        };
        self.steps += 1;
        let m = self.momentum.get_or_insert_with(|| vec![0.0; grad.len()]);
        self.second.resize(grad.len(), 0.0);
        let (bc1, bc2) = if c.bias_correction {
            (
                1.0 - c.beta1.powi(self.steps),
                1.0 - c.beta2.powi(self.steps),
            )
        } else {
            (1.0, 1.0)
        };
        for i in 0..grad.len() {
            theta[i] *= 1.0 - lr * c.weight_decay;
            m[i] = c.beta1 * m[i] + scale * kick * grad[i];
            self.second[i] = c.beta2 * self.second[i] + (1.0 - c.beta2) * grad[i] * grad[i];
            theta[i] -= lr * (m[i] / bc1) / ((self.second[i] / bc2).sqrt() + c.eps);
        }
        kick
    }

    /// `ŝ` after the last step.
    pub fn s_hat(&self) -> f64 {
        self.damping.s_hat
    }
}

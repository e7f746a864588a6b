//! Advantages. Bandits (§3): rewards-to-go minus a Monte-Carlo baseline, no value head.
//! Tic-tac-toe: generalised advantage estimation on a value head.
//!
//! ```text
//! R_t   = Σ_{t' ≥ t} γ^{t'−t} r_t'                (γ = 1 for bandits)
//! A_t   = R_t − b_t,   b_t = mean of R_t over the episodes of the rollout at the same step
//! GAE   δ_t = r_t + γ V(s_{t+1}) − V(s_t),   A_t = Σ_l (γλ)^l δ_{t+l}
//! ```
//!
//! The paper does not say what its baseline is; the per-step mean over the 16 episodes of a
//! rollout is our choice.

/// `R_t` of one episode.
pub fn rewards_to_go(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let mut out = vec![0.0; rewards.len()];
    let mut running = 0.0;
    for t in (0..rewards.len()).rev() {
        running = rewards[t] + gamma * running;
        out[t] = running;
    }
    out
}

/// `R_t − b_t` for episodes of the same length, `b_t` the mean over episodes at step `t`
/// (episodes of other lengths use the mean over those that reach `t`).
pub fn baselined(returns: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let longest = returns.iter().map(Vec::len).max().unwrap_or(0);
    let baseline: Vec<f64> = (0..longest)
        .map(|t| {
            let at: Vec<f64> = returns.iter().filter_map(|r| r.get(t).copied()).collect();
            at.iter().sum::<f64>() / at.len() as f64
        })
        .collect();
    returns
        .iter()
        .map(|r| r.iter().zip(&baseline).map(|(x, b)| x - b).collect())
        .collect()
}

/// GAE advantages of one episode from its rewards and the values `V(s_0 … s_{T−1})`; the
/// state after the last step is terminal (`V = 0`).
///
/// # Panics
/// If `values` and `rewards` differ in length.
pub fn gae(rewards: &[f64], values: &[f64], gamma: f64, lambda: f64) -> Vec<f64> {
    assert_eq!(rewards.len(), values.len(), "one value per step");
    let mut out = vec![0.0; rewards.len()];
    let mut running = 0.0;
    for t in (0..rewards.len()).rev() {
        let next = values.get(t + 1).copied().unwrap_or(0.0);
        let delta = rewards[t] + gamma * next - values[t];
        running = delta + gamma * lambda * running;
        out[t] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_baselines_and_gae_are_the_closed_forms() {
        assert_eq!(rewards_to_go(&[1.0, 2.0, 3.0], 1.0), vec![6.0, 5.0, 3.0]);
        assert_eq!(rewards_to_go(&[1.0, 2.0, 4.0], 0.5), vec![3.0, 4.0, 4.0]);
        let a = baselined(&[vec![6.0, 5.0], vec![2.0, 1.0]]);
        assert_eq!(a, vec![vec![2.0, 2.0], vec![-2.0, -2.0]]);
        // λ = 1 and V = 0: GAE is the discounted return; λ = 0: the one-step TD error.
        assert_eq!(gae(&[1.0, 2.0], &[0.0, 0.0], 1.0, 1.0), vec![3.0, 2.0]);
        let td = gae(&[1.0, 2.0], &[0.5, 1.0], 0.9, 0.0);
        assert!((td[0] - (1.0 + 0.9 - 0.5)).abs() < 1e-12 && (td[1] - 1.0).abs() < 1e-12);
    }
}

//! Text tic-tac-toe (App A.3): the agent plays first against a fixed opponent; reward +1 for
//! a win, −1 for a loss, 0 for a draw, paid when the game ends.

use kiln_core::train::SeededRng;
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use super::board::{AGENT, Board, OPPONENT, minimax_move};

/// Who plays against the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Opponent {
    /// A uniformly random legal move (the paper's default).
    Random,
    /// Exact minimax: never loses.
    Minimax,
    /// Monte-Carlo tree search with random play-outs (the paper does not give its budget).
    Mcts {
        /// Simulations per move.
        simulations: usize,
    },
    /// A random move with probability `p`, else the `inner` opponent's.
    Noisy {
        /// Probability of a random move.
        p: f64,
        /// The opponent otherwise.
        inner: Box<Opponent>,
    },
}

impl Opponent {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        match self {
            Self::Mcts { simulations } => {
                ensure_config!(*simulations > 0, "MCTS `simulations` must be positive");
            }
            Self::Noisy { p, inner } => {
                ensure_config!((0.0..=1.0).contains(p), "noisy `p` ({p}) must be in [0, 1]");
                inner.validate()?;
            }
            Self::Random | Self::Minimax => {}
        }
        Ok(())
    }

    /// The opponent's move on `board` (which must have a legal move).
    pub fn choose(&self, board: &Board, rng: &mut SeededRng) -> usize {
        let legal = board.legal();
        match self {
            Self::Random => legal[rng.below(legal.len())],
            Self::Minimax => minimax_move(board, OPPONENT),
            Self::Mcts { simulations } => {
                super::mcts::mcts_move(board, OPPONENT, *simulations, rng)
            }
            Self::Noisy { p, inner } => {
                if rng.next_f64() < *p {
                    legal[rng.below(legal.len())]
                } else {
                    inner.choose(board, rng)
                }
            }
        }
    }
}

/// What one agent move returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Move {
    /// +1, −1 or 0 when the game ends after this move (and the opponent's reply), else 0.
    pub reward: f64,
    /// Whether the game is over.
    pub done: bool,
}

/// One game against an opponent; the agent moves first.
#[derive(Debug, Clone)]
pub struct Game {
    board: Board,
    opponent: Opponent,
    rng: SeededRng,
}

impl Game {
    /// A fresh game; the opponent's randomness is seeded by `seed`.
    pub fn new(opponent: Opponent, seed: u64) -> Self {
        Self {
            board: Board::default(),
            opponent,
            rng: SeededRng::new(seed),
        }
    }

    /// The board now.
    pub fn board(&self) -> Board {
        self.board
    }

    /// The agent's legal moves.
    pub fn legal(&self) -> Vec<usize> {
        self.board.legal()
    }

    /// Whether the game is over.
    pub fn is_over(&self) -> bool {
        self.board.is_over()
    }

    /// Plays `cell` for the agent, then the opponent's reply.
    ///
    /// # Panics
    /// If the game is over or `cell` is not empty (the agent's invalid outputs are replaced
    /// by a random legal move before they get here).
    pub fn play(&mut self, cell: usize) -> Move {
        assert!(!self.is_over(), "the game is over");
        assert!(
            cell < 9 && self.board.0[cell] == 0,
            "cell {cell} is not free"
        );
        self.board = self.board.with(cell, AGENT);
        if !self.board.is_over() {
            let reply = self.opponent.choose(&self.board, &mut self.rng);
            self.board = self.board.with(reply, OPPONENT);
        }
        let reward = match self.board.winner() {
            Some(AGENT) => 1.0,
            Some(_) => -1.0,
            None => 0.0,
        };
        Move {
            reward,
            done: self.board.is_over(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimax_never_loses_to_random_play() {
        let mut rng = SeededRng::new(5);
        let mut outcomes = [0; 3];
        for game in 0..100 {
            // The random side plays first as the agent; minimax answers.
            let mut g = Game::new(Opponent::Minimax, game);
            let mut last = 0.0;
            while !g.is_over() {
                let legal = g.legal();
                last = g.play(legal[rng.below(legal.len())]).reward;
            }
            outcomes[(last + 1.0) as usize] += 1;
        }
        assert_eq!(outcomes[2], 0, "random beat minimax: {outcomes:?}");
        assert!(outcomes[0] > 50, "minimax should usually win: {outcomes:?}");
    }
}

//! The environments of the paper: multi-armed bandits and tic-tac-toe.

pub mod bandit;
pub mod board;
mod mcts;
pub mod tictactoe;

pub use bandit::{
    Bandit, BanditConfig, BernoulliBandit, COLOURS, GaussianBandit, GaussianOrBernoulli, MeanPrior,
    Noise, Step, Variant,
};
pub use board::{AGENT, Board, OPPONENT, minimax_move, other};
pub use mcts::mcts_move;
pub use tictactoe::{Game, Move, Opponent};

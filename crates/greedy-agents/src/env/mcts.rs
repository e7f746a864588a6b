//! Monte-Carlo tree search for tic-tac-toe (UCT with uniformly random play-outs).
//!
//! Each simulation descends by `argmax Q/N + c·sqrt(ln N_parent / N)` (c = √2), expands one
//! untried move, plays randomly to the end and backs the result up; the move visited most is
//! played.

use kiln_core::train::SeededRng;

use super::board::{Board, other};

/// One node: the position after `mark` moved into `cell`.
struct Node {
    board: Board,
    /// The mark that made the move leading here.
    mover: u8,
    cell: usize,
    children: Vec<usize>,
    untried: Vec<usize>,
    visits: f64,
    /// Sum of results from `mover`'s point of view (win 1, draw 0.5, loss 0).
    wins: f64,
}

impl Node {
    fn new(board: Board, mover: u8, cell: usize) -> Self {
        let untried = if board.is_over() {
            Vec::new()
        } else {
            board.legal()
        };
        Self {
            board,
            mover,
            cell,
            children: Vec::new(),
            untried,
            visits: 0.0,
            wins: 0.0,
        }
    }
}

/// The result of a random play-out from `board` with `mark` to move, for `mover`.
fn playout(mut board: Board, mut mark: u8, mover: u8, rng: &mut SeededRng) -> f64 {
    while !board.is_over() {
        let legal = board.legal();
        board = board.with(legal[rng.below(legal.len())], mark);
        mark = other(mark);
    }
    match board.winner() {
        Some(w) if w == mover => 1.0,
        Some(_) => 0.0,
        None => 0.5,
    }
}

/// The move MCTS chooses for `mark` on `board` after `simulations` simulations.
///
/// # Panics
/// If the board has no empty cell.
pub fn mcts_move(board: &Board, mark: u8, simulations: usize, rng: &mut SeededRng) -> usize {
    assert!(!board.legal().is_empty(), "no legal move on a full board");
    let mut nodes = vec![Node::new(*board, other(mark), usize::MAX)];
    for _ in 0..simulations {
        let mut path = vec![0];
        let mut at = 0;
        while nodes[at].untried.is_empty() && !nodes[at].children.is_empty() {
            let parent_visits = nodes[at].visits.ln();
            at = *nodes[at]
                .children
                .iter()
                .max_by(|&&a, &&b| {
                    let score = |i: usize| {
                        let n = &nodes[i];
                        n.wins / n.visits + (2.0 * parent_visits / n.visits).sqrt()
                    };
                    score(a).total_cmp(&score(b))
                })
                .unwrap_or(&at);
            path.push(at);
        }
        if !nodes[at].untried.is_empty() {
            let pick = rng.below(nodes[at].untried.len());
            let cell = nodes[at].untried.swap_remove(pick);
            let mover = other(nodes[at].mover);
            let child = Node::new(nodes[at].board.with(cell, mover), mover, cell);
            nodes.push(child);
            let id = nodes.len() - 1;
            nodes[at].children.push(id);
            at = id;
            path.push(at);
        }
        let (leaf_board, leaf_mover) = (nodes[at].board, nodes[at].mover);
        let result = playout(leaf_board, other(leaf_mover), leaf_mover, rng);
        for &i in &path {
            let n = &mut nodes[i];
            n.visits += 1.0;
            n.wins += if n.mover == leaf_mover {
                result
            } else {
                1.0 - result
            };
        }
    }
    let root = &nodes[0];
    root.children
        .iter()
        .max_by(|&&a, &&b| nodes[a].visits.total_cmp(&nodes[b].visits))
        .map_or_else(|| board.legal()[0], |&c| nodes[c].cell)
}

#[cfg(test)]
mod tests {
    use super::super::board::OPPONENT;
    use super::*;

    #[test]
    fn mcts_finds_the_winning_and_the_blocking_move() {
        let mut rng = SeededRng::new(1);
        let win = Board([2, 2, 0, 1, 1, 0, 1, 0, 0]);
        assert_eq!(mcts_move(&win, OPPONENT, 400, &mut rng), 2);
        let block = Board([1, 1, 0, 2, 0, 0, 0, 0, 0]);
        assert_eq!(mcts_move(&block, OPPONENT, 400, &mut rng), 2);
    }
}

//! The tic-tac-toe board and perfect play on it.
//!
//! Nine cells `0 … 8`, row by row, holding 0 (empty), 1 (agent) or 2 (opponent). Minimax
//! scores a position `10 − depth` for a win and `depth − 10` for a loss (quicker wins score
//! higher), searched with alpha–beta pruning.

/// The eight lines that win.
const LINES: [[usize; 3]; 8] = [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [0, 3, 6],
    [1, 4, 7],
    [2, 5, 8],
    [0, 4, 8],
    [2, 4, 6],
];

/// The agent's mark.
pub const AGENT: u8 = 1;
/// The opponent's mark.
pub const OPPONENT: u8 = 2;

/// Nine cells, row by row: 0 empty, [`AGENT`] or [`OPPONENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Board(pub [u8; 9]);

impl Board {
    /// The empty cells, in order.
    pub fn legal(&self) -> Vec<usize> {
        (0..9).filter(|&c| self.0[c] == 0).collect()
    }

    /// The mark that owns a full line, if any.
    pub fn winner(&self) -> Option<u8> {
        LINES.iter().find_map(|l| {
            let m = self.0[l[0]];
            (m != 0 && m == self.0[l[1]] && m == self.0[l[2]]).then_some(m)
        })
    }

    /// Whether the game is over (a line or a full board).
    pub fn is_over(&self) -> bool {
        self.winner().is_some() || self.0.iter().all(|&c| c != 0)
    }

    /// The board with `mark` in `cell`.
    pub fn with(mut self, cell: usize, mark: u8) -> Self {
        self.0[cell] = mark;
        self
    }

    /// The nine digits, e.g. `102000000`.
    pub fn digits(&self) -> String {
        self.0.iter().map(|c| char::from(b'0' + c)).collect()
    }
}

/// The other mark.
pub fn other(mark: u8) -> u8 {
    if mark == AGENT { OPPONENT } else { AGENT }
}

/// The value of `board` for `mark` to move under perfect play: `10 − depth` for a win,
/// `depth − 10` for a loss, 0 for a draw (quicker wins score higher); alpha–beta pruned.
fn negamax(board: &Board, mark: u8, depth: i32, mut alpha: i32, beta: i32) -> i32 {
    if let Some(w) = board.winner() {
        return if w == mark { 10 - depth } else { depth - 10 };
    }
    let legal = board.legal();
    if legal.is_empty() {
        return 0;
    }
    let mut best = i32::MIN;
    for cell in legal {
        let value = -negamax(
            &board.with(cell, mark),
            other(mark),
            depth + 1,
            -beta,
            -alpha,
        );
        best = best.max(value);
        alpha = alpha.max(value);
        if alpha >= beta {
            break;
        }
    }
    best
}

/// The minimax move for `mark` (the lowest cell among equally good ones).
///
/// # Panics
/// If the board has no empty cell.
pub fn minimax_move(board: &Board, mark: u8) -> usize {
    let mut best = (i32::MIN, usize::MAX);
    for cell in board.legal() {
        let value = -negamax(&board.with(cell, mark), other(mark), 1, -100, 100);
        if value > best.0 {
            best = (value, cell);
        }
    }
    assert!(best.1 < 9, "no legal move on a full board");
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimax_takes_a_win_and_blocks_a_loss() {
        // Agent (1) has 0 and 1: it wins at 2.
        let board = Board([1, 1, 0, 2, 2, 0, 0, 0, 0]);
        assert_eq!(minimax_move(&board, AGENT), 2);
        // The opponent to move must block at 2 unless it can win: it wins at 5.
        assert_eq!(minimax_move(&board, OPPONENT), 5);
        let block = Board([1, 1, 0, 2, 0, 0, 0, 0, 0]);
        assert_eq!(minimax_move(&block, OPPONENT), 2);
    }

    #[test]
    fn minimax_against_itself_draws() {
        let mut board = Board::default();
        let mut mark = AGENT;
        while !board.is_over() {
            board = board.with(minimax_move(&board, mark), mark);
            mark = other(mark);
        }
        assert_eq!(board.winner(), None);
    }
}

//! The text an agent reads (Fig 2, 10, 11, 14): task instruction, output instruction, the
//! history one line per step, and the query. The structure is the paper's; the wording is ours.
//!
//! ```text
//! You are in a room with 5 buttons: blue, green, red, yellow, purple. …           (task)
//! Think step by step … then finish with ACTION=<button>.                          (output)
//! Step=1 Action=blue Reward=0.53                                                  (history)
//! …
//! What do you predict next?                                                       (query)
//! ```

use serde::{Deserialize, Serialize};

use crate::env::{Board, Variant};
use crate::history::History;

/// First words of the bandit task line.
pub(crate) const BANDIT_TASK: &str = "You are in a room with";
/// First words of the tic-tac-toe task line.
pub(crate) const TTT_TASK: &str = "You are playing tic-tac-toe";
/// First words of the chain-of-thought output instruction.
pub(crate) const COT: &str = "Think step by step";
/// First words of the direct-answer output instruction.
pub(crate) const NO_COT: &str = "Answer only with";
/// The query that ends every prompt.
pub(crate) const QUERY: &str = "What do you predict next?";
/// First words of the list of legal moves.
pub(crate) const LEGAL: &str = "Legal actions:";
/// The line before the board rows.
pub(crate) const BOARD: &str = "Board:";
/// First words of a per-arm summary line.
pub(crate) const SUMMARY: &str = "Summary:";

/// How a bandit prompt is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptStyle {
    /// Ask for step-by-step reasoning before `ACTION=` (the paper's default), or only the
    /// action.
    pub chain_of_thought: bool,
    /// Show only the most recent steps (the paper's C, unstated; `None`: all of them).
    pub window: Option<usize>,
    /// Append per-arm counts and means (the "context summary" mechanism, App B.4).
    pub summary: bool,
}

impl Default for PromptStyle {
    /// Chain of thought, the whole history, no summary.
    fn default() -> Self {
        Self {
            chain_of_thought: true,
            window: None,
            summary: false,
        }
    }
}

/// Writes the prompts of one bandit family.
#[derive(Debug, Clone, PartialEq)]
pub struct BanditPrompt {
    /// The arm names, in arm order.
    pub labels: Vec<String>,
    /// Button colours or numbered arms.
    pub variant: Variant,
    /// Steps per episode.
    pub horizon: usize,
    /// CoT, window and summary.
    pub style: PromptStyle,
}

impl BanditPrompt {
    /// The prompt after `history`, naming arms by `self.labels`.
    pub fn render(&self, history: &History) -> String {
        self.render_with(history, &self.labels)
    }

    /// The prompt after `history` with arm `a` written as `labels[a]` (the context
    /// randomisation mechanism relabels arms at every step).
    pub fn render_with(&self, history: &History, labels: &[String]) -> String {
        let k = labels.len();
        let (things, thing) = match self.variant {
            Variant::Button => ("buttons", "button"),
            Variant::Continuous => ("slot machine arms", "arm"),
        };
        let mut out = format!(
            "{BANDIT_TASK} {k} {things}: {}. Each {thing} pays a random reward drawn from a \
             fixed distribution whose mean you do not know. You have {} steps, and at each \
             step you choose one {thing}. Your goal is the largest total reward.\n",
            labels.join(", "),
            self.horizon
        );
        out.push_str(&output_instruction(self.style.chain_of_thought, thing));
        let start = self
            .style
            .window
            .map_or(0, |c| history.len().saturating_sub(c));
        for (i, (&a, &r)) in history
            .actions()
            .iter()
            .zip(history.rewards())
            .enumerate()
            .skip(start)
        {
            out.push_str(&format!(
                "Step={} Action={} Reward={r:.2}\n",
                i + 1,
                labels[a]
            ));
        }
        if self.style.summary {
            out.push_str(&summary_line(history, labels));
        }
        out.push_str(QUERY);
        out
    }
}

/// The output instruction: reasoning then the action, or the action alone.
fn output_instruction(chain_of_thought: bool, thing: &str) -> String {
    if chain_of_thought {
        format!(
            "{COT} and briefly about what you have seen, then finish your answer with \
             ACTION=<{thing}>.\n"
        )
    } else {
        format!("{NO_COT} ACTION=<{thing}> and nothing else.\n")
    }
}

/// `Summary: blue 3 times mean 0.41; green 0 times; …`.
fn summary_line(history: &History, labels: &[String]) -> String {
    let parts: Vec<String> = history
        .counts()
        .iter()
        .zip(history.means())
        .zip(labels)
        .map(|((n, mean), label)| match mean {
            Some(m) => format!("{label} {n} times mean {m:.2}"),
            None => format!("{label} 0 times"),
        })
        .collect();
    format!("{SUMMARY} {}.\n", parts.join("; "))
}

/// One past move of a tic-tac-toe game.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TttStep {
    /// The board the agent saw.
    pub state: Board,
    /// The cell it played.
    pub action: usize,
    /// The reward that followed.
    pub reward: f64,
}

/// Writes tic-tac-toe prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TttPrompt {
    /// Ask for reasoning before the action.
    pub chain_of_thought: bool,
    /// List the legal moves (the paper's default; Fig 21 removes them).
    pub legal_in_prompt: bool,
}

impl TttPrompt {
    /// The prompt for `board` after the game's earlier moves.
    pub fn render(&self, past: &[TttStep], board: &Board) -> String {
        let mut out = format!(
            "{TTT_TASK} as player 1 against player 2. The cells are numbered 0 to 8 row by \
             row; 0 marks an empty cell, 1 yours, 2 your opponent's. A win pays 1, a loss -1 \
             and a draw 0.\n"
        );
        out.push_str(&output_instruction(self.chain_of_thought, "cell"));
        for (i, step) in past.iter().enumerate() {
            out.push_str(&format!(
                "Step={} State={} Action={} Reward={:.0}\n",
                i + 1,
                step.state.digits(),
                step.action,
                step.reward
            ));
        }
        out.push_str(BOARD);
        out.push('\n');
        for row in board.0.chunks(3) {
            let cells: Vec<String> = row.iter().map(u8::to_string).collect();
            out.push_str(&cells.join(" "));
            out.push('\n');
        }
        if self.legal_in_prompt {
            let legal: Vec<String> = board.legal().iter().map(usize::to_string).collect();
            out.push_str(&format!("{LEGAL} {}.\n", legal.join(", ")));
        }
        out.push_str(QUERY);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::BanditConfig;

    #[test]
    fn a_bandit_prompt_has_task_output_history_and_query_in_order() {
        let config = BanditConfig::gaussian_buttons(3);
        let prompt = BanditPrompt {
            labels: config.labels(),
            variant: config.variant,
            horizon: 50,
            style: PromptStyle {
                window: Some(2),
                summary: true,
                ..PromptStyle::default()
            },
        };
        let h = History::from_steps(3, &[0, 2, 2], &[0.5, -1.257, 2.0]);
        let text = prompt.render(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("You are in a room with 3 buttons: blue, green, red."));
        assert!(lines[1].contains("ACTION=<button>"));
        assert_eq!(lines[2], "Step=2 Action=red Reward=-1.26");
        assert_eq!(lines[3], "Step=3 Action=red Reward=2.00");
        assert_eq!(
            lines[4],
            "Summary: blue 1 times mean 0.50; green 0 times; red 2 times mean 0.37."
        );
        assert_eq!(lines[5], QUERY);
    }

    #[test]
    fn a_tic_tac_toe_prompt_shows_the_board_and_the_legal_moves() {
        let board = Board([1, 0, 0, 0, 2, 0, 0, 0, 0]);
        let past = [TttStep {
            state: Board::default(),
            action: 0,
            reward: 0.0,
        }];
        let prompt = TttPrompt {
            chain_of_thought: false,
            legal_in_prompt: true,
        };
        let text = prompt.render(&past, &board);
        assert!(text.contains("Step=1 State=000000000 Action=0 Reward=0\n"));
        assert!(text.contains("Board:\n1 0 0\n0 2 0\n0 0 0\n"));
        assert!(text.contains("Legal actions: 1, 2, 3, 5, 6, 7, 8.\n"));
        assert!(text.contains("Answer only with ACTION=<cell>"));
    }
}

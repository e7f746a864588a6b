//! The domain lexer of the synthetic-prior transformer: the exact prompt text in, a few
//! compact tokens out (arm tokens, rewards rounded to 0.1 and clamped to ±3, keywords, board
//! cells, legal moves; step numbers dropped), and the rationale grammar
//!
//! ```text
//! [UCB] <arm> [GRD] <arm> [ACT] <arm> [EOS]      (chain of thought)
//! [ACT] <arm> [EOS]                              (direct answer)
//! ```
//!
//! decoded back to `UCB=blue GREEDY=red ACTION=blue`, which the [`ActionExtractor`]
//! (crate::text::ActionExtractor) reads like any other model's text.

use super::prompt::{BANDIT_TASK, BOARD, COT, LEGAL, NO_COT, QUERY, TTT_TASK};

/// Padding.
pub const PAD: u32 = 0;
/// Start of a prompt.
pub const BOS: u32 = 1;
/// End of a generation.
pub const EOS: u32 = 2;
/// Keyword tokens, in id order from 3.
const KEYWORDS: [&str; 11] = [
    "[MAB]", "[TTT]", "[COT]", "[NOCOT]", "[ASK]", "[UCB]", "[GRD]", "[ACT]", "[LEGAL]", "[BOARD]",
    "[STATE]",
];
/// Most arms (or cells) a lexer names.
pub const MAX_ARMS: usize = 20;
/// Rewards are binned at 0.1 within ±`REWARD_CLIP`.
pub const REWARD_CLIP: f64 = 3.0;
const REWARD_BINS: usize = 61;

/// `[UCB]`: the rationale's UCB arm follows.
pub const UCB: u32 = keyword(5);
/// `[GRD]`: the rationale's greedy arm follows.
pub const GRD: u32 = keyword(6);
/// `[ACT]`: the action follows.
pub const ACT: u32 = keyword(7);

const fn keyword(i: u32) -> u32 {
    3 + i
}
const CELL0: u32 = 3 + KEYWORDS.len() as u32;
const ARM0: u32 = CELL0 + 3;
const REWARD0: u32 = ARM0 + MAX_ARMS as u32;

/// A prompt line the lexer does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A line of no known kind.
    #[error("line {line}: not a line of a bandit or tic-tac-toe prompt: {text:?}")]
    Unrecognised {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A field that does not parse.
    #[error("line {line}: {what}")]
    BadField {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
}

/// The three arms of a chain-of-thought answer in the rationale grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rationale {
    /// The arm after `[UCB]`.
    pub ucb: Option<usize>,
    /// The arm after `[GRD]`.
    pub greedy: Option<usize>,
    /// The arm after `[ACT]`.
    pub action: Option<usize>,
}

/// Text ↔ tokens for one set of arm names.
#[derive(Debug, Clone, PartialEq)]
pub struct Lexer {
    labels: Vec<String>,
}

impl Lexer {
    /// A lexer for arms named `labels` (at most [`MAX_ARMS`]).
    ///
    /// # Panics
    /// If there are more than [`MAX_ARMS`] labels.
    pub fn new(labels: &[String]) -> Self {
        assert!(labels.len() <= MAX_ARMS, "at most {MAX_ARMS} arms");
        Self {
            labels: labels.iter().map(|l| l.to_lowercase()).collect(),
        }
    }

    /// The lexer of tic-tac-toe prompts: the arms are the cells `0 … 8`.
    pub fn tic_tac_toe() -> Self {
        Self::new(&(0..9).map(|c| c.to_string()).collect::<Vec<_>>())
    }

    /// Size of the token vocabulary.
    pub fn vocab_size() -> usize {
        REWARD0 as usize + REWARD_BINS
    }

    /// The token of arm `a`.
    pub fn arm(a: usize) -> u32 {
        ARM0 + a as u32
    }

    /// The arm of a token, if it is one.
    pub fn arm_of(token: u32) -> Option<usize> {
        (ARM0..ARM0 + MAX_ARMS as u32)
            .contains(&token)
            .then(|| (token - ARM0) as usize)
    }

    /// The token of a reward: rounded to 0.1 and clamped to ±[`REWARD_CLIP`].
    pub fn reward(r: f64) -> u32 {
        let bin = (r.clamp(-REWARD_CLIP, REWARD_CLIP) * 10.0).round() as i64 + 30;
        REWARD0 + bin as u32
    }

    /// The rationale tokens (CoT) for these arms.
    pub fn rationale(ucb: usize, greedy: usize, action: usize) -> Vec<u32> {
        vec![
            UCB,
            Self::arm(ucb),
            GRD,
            Self::arm(greedy),
            ACT,
            Self::arm(action),
            EOS,
        ]
    }

    /// Reads the rationale grammar back (the first arm after each keyword; the *last*
    /// `[ACT]` arm, as the extractor does), stopping at `[EOS]`.
    pub fn parse_rationale(tokens: &[u32]) -> Rationale {
        let mut out = Rationale::default();
        let end = tokens
            .iter()
            .position(|&t| t == EOS)
            .unwrap_or(tokens.len());
        for pair in tokens[..end].windows(2) {
            let Some(arm) = Self::arm_of(pair[1]) else {
                continue;
            };
            match pair[0] {
                UCB if out.ucb.is_none() => out.ucb = Some(arm),
                GRD if out.greedy.is_none() => out.greedy = Some(arm),
                ACT => out.action = Some(arm),
                _ => {}
            }
        }
        out
    }

    /// Generated tokens as text: `UCB=blue GREEDY=red ACTION=blue`, up to `[EOS]`.
    pub fn decode(&self, tokens: &[u32]) -> String {
        let mut words: Vec<String> = Vec::new();
        for &t in tokens.iter().take_while(|&&t| t != EOS) {
            let word = match (t, Self::arm_of(t)) {
                (UCB, _) => "UCB=".to_string(),
                (GRD, _) => "GREEDY=".to_string(),
                (ACT, _) => "ACTION=".to_string(),
                (_, Some(a)) => self.labels.get(a).cloned().unwrap_or_else(|| "?".into()),
                _ => format!("<{t}>"),
            };
            match words.last_mut() {
                Some(last) if last.ends_with('=') => last.push_str(&word),
                _ => words.push(word),
            }
        }
        words.join(" ")
    }

    /// The tokens of an answer written as [`decode`](Self::decode) writes it
    /// (`UCB=blue GREEDY=red ACTION=blue`), with the closing [`EOS`]: the continuations a
    /// scorer is asked about.
    pub fn encode_answer(&self, text: &str) -> Result<Vec<u32>, LexError> {
        let mut out = Vec::new();
        for word in text.split_whitespace() {
            let (key, label) = word.split_once('=').ok_or_else(|| LexError::BadField {
                line: 1,
                what: format!("{word:?} is not KEY=arm"),
            })?;
            out.push(match key {
                "UCB" => UCB,
                "GREEDY" => GRD,
                "ACTION" => ACT,
                _ => {
                    return Err(LexError::BadField {
                        line: 1,
                        what: format!("{key:?} is not UCB, GREEDY or ACTION"),
                    });
                }
            });
            out.push(Self::arm(self.arm_named(label, 1)?));
        }
        out.push(EOS);
        Ok(out)
    }

    /// The tokens of a prompt written by [`BanditPrompt`](super::BanditPrompt) or
    /// [`TttPrompt`](super::TttPrompt), starting with [`BOS`].
    pub fn lex(&self, text: &str) -> Result<Vec<u32>, LexError> {
        let mut out = vec![BOS];
        let mut board_rows = 0;
        for (i, line) in text.lines().enumerate() {
            let (line_no, line) = (i + 1, line.trim());
            if line.is_empty() {
                continue;
            }
            if board_rows > 0 {
                board_rows -= 1;
                let cells: Vec<&str> = line.split_whitespace().collect();
                out.extend(self.cells(&cells.concat(), line_no)?);
            } else if let Some(rest) = line.strip_prefix(BANDIT_TASK) {
                let k = rest.split_whitespace().next().and_then(|k| k.parse().ok());
                if k != Some(self.labels.len()) {
                    return Err(LexError::BadField {
                        line: line_no,
                        what: format!("a task for {k:?} arms, a lexer for {}", self.labels.len()),
                    });
                }
                out.push(keyword(0));
                out.extend((0..self.labels.len()).map(Self::arm));
            } else if line.starts_with(TTT_TASK) {
                out.push(keyword(1));
            } else if line.starts_with(COT) {
                out.push(keyword(2));
            } else if line.starts_with(NO_COT) {
                out.push(keyword(3));
            } else if line.starts_with(QUERY) {
                out.push(keyword(4));
            } else if line.starts_with(BOARD) {
                out.push(keyword(9));
                board_rows = 3;
            } else if let Some(rest) = line.strip_prefix(LEGAL) {
                out.push(keyword(8));
                for cell in rest.trim_end_matches('.').split(',') {
                    out.push(Self::arm(self.arm_named(cell.trim(), line_no)?));
                }
            } else if line.starts_with("Step=") {
                out.extend(self.step_line(line, line_no)?);
            } else {
                return Err(LexError::Unrecognised {
                    line: line_no,
                    text: line.to_string(),
                });
            }
        }
        Ok(out)
    }

    /// `Step=i [State=ddddddddd] Action=X Reward=r` → `[[STATE] cells…] arm reward`.
    fn step_line(&self, line: &str, line_no: usize) -> Result<Vec<u32>, LexError> {
        let mut out = Vec::new();
        for field in line.split_whitespace().skip(1) {
            let bad = |what: String| LexError::BadField {
                line: line_no,
                what,
            };
            match field.split_once('=') {
                Some(("State", digits)) => {
                    out.push(keyword(10));
                    out.extend(self.cells(digits, line_no)?);
                }
                Some(("Action", label)) => out.push(Self::arm(self.arm_named(label, line_no)?)),
                Some(("Reward", r)) => {
                    let r: f64 = r.parse().map_err(|_| bad(format!("reward {r:?}")))?;
                    out.push(Self::reward(r));
                }
                _ => return Err(bad(format!("unknown field {field:?}"))),
            }
        }
        Ok(out)
    }

    fn arm_named(&self, label: &str, line: usize) -> Result<usize, LexError> {
        let lower = label.to_lowercase();
        self.labels
            .iter()
            .position(|l| *l == lower)
            .ok_or_else(|| LexError::BadField {
                line,
                what: format!("{label:?} names no arm (arms: {})", self.labels.join(", ")),
            })
    }

    fn cells(&self, digits: &str, line: usize) -> Result<Vec<u32>, LexError> {
        let cells: Option<Vec<u32>> = digits
            .chars()
            .map(|c| c.to_digit(10).filter(|&d| d < 3).map(|d| CELL0 + d))
            .collect();
        match cells {
            Some(cells) if cells.len() == 9 || cells.len() == 3 => Ok(cells),
            _ => Err(LexError::BadField {
                line,
                what: format!("{digits:?} is not a row or board of cells 0, 1, 2"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::prompt::{BanditPrompt, PromptStyle, TttPrompt, TttStep};
    use super::*;
    use crate::env::{BanditConfig, Board};
    use crate::history::History;

    #[test]
    fn a_bandit_prompt_lexes_to_arm_and_reward_tokens() {
        let config = BanditConfig::gaussian_buttons(3);
        let prompt = BanditPrompt {
            labels: config.labels(),
            variant: config.variant,
            horizon: 50,
            style: PromptStyle::default(),
        };
        let lexer = Lexer::new(&config.labels());
        let h = History::from_steps(3, &[2, 0], &[0.46, -7.0]);
        let tokens = lexer.lex(&prompt.render(&h)).unwrap();
        let expected = vec![
            BOS,
            keyword(0),
            Lexer::arm(0),
            Lexer::arm(1),
            Lexer::arm(2),
            keyword(2),
            Lexer::arm(2),
            Lexer::reward(0.5),
            Lexer::arm(0),
            Lexer::reward(-3.0),
            keyword(4),
        ];
        assert_eq!(tokens, expected);
        assert!(tokens.iter().all(|&t| (t as usize) < Lexer::vocab_size()));
        assert_eq!(Lexer::reward(-7.0), REWARD0);
        assert_eq!(Lexer::reward(3.04), REWARD0 + 60);
    }

    #[test]
    fn a_tic_tac_toe_prompt_lexes_board_history_and_legal_moves() {
        let prompt = TttPrompt {
            chain_of_thought: true,
            legal_in_prompt: true,
        };
        let past = [TttStep {
            state: Board::default(),
            action: 4,
            reward: 0.0,
        }];
        let board = Board([2, 0, 0, 0, 1, 0, 0, 0, 0]);
        let tokens = Lexer::tic_tac_toe()
            .lex(&prompt.render(&past, &board))
            .unwrap();
        // BOS TTT COT, STATE + 9 cells, arm, reward, BOARD + 9 cells, LEGAL + 7 cells, ASK.
        assert_eq!(tokens.len(), 3 + 12 + 10 + 8 + 1);
        assert_eq!(tokens[tokens.len() - 9], keyword(8));
    }

    #[test]
    fn unknown_lines_and_bad_fields_are_errors_that_name_the_line() {
        let lexer = Lexer::new(&["blue".to_string()]);
        let e = lexer.lex("Hello\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: not a line"), "{e}");
        let e = lexer
            .lex("\nStep=1 Action=red Reward=1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("\"red\" names no arm"),
            "{e}"
        );
        let e = lexer.lex("Step=1 Action=blue Reward=x").unwrap_err();
        assert!(e.to_string().contains("reward \"x\""));
    }

    #[test]
    fn the_rationale_grammar_round_trips_through_text() {
        let lexer = Lexer::new(&["blue".to_string(), "green".to_string()]);
        let tokens = Lexer::rationale(1, 0, 1);
        assert_eq!(lexer.decode(&tokens), "UCB=green GREEDY=blue ACTION=green");
        assert_eq!(
            lexer
                .encode_answer("UCB=green GREEDY=blue ACTION=green")
                .unwrap(),
            tokens
        );
        assert!(lexer.encode_answer("ACTION=purple").is_err());
        let parsed = Lexer::parse_rationale(&tokens);
        assert_eq!(
            (parsed.ucb, parsed.greedy, parsed.action),
            (Some(1), Some(0), Some(1))
        );
        let broken = [ACT, UCB, EOS, ACT, Lexer::arm(0)];
        assert_eq!(Lexer::parse_rationale(&broken), Rationale::default());
    }
}

//! Text in and out: the prompts of the paper, the action extractor, and the compact lexer of
//! the synthetic-prior transformer.

pub mod extract;
pub mod lexer;
pub mod prompt;

pub use extract::ActionExtractor;
pub use lexer::{LexError, Lexer, Rationale};
pub use prompt::{BanditPrompt, PromptStyle, TttPrompt, TttStep};

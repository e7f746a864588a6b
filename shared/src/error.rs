//! The one error every fallible config returns.

/// A config whose values cannot work together; the message says which value is wrong and why
/// (e.g. "`heads` (3) must divide `width` (64)").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

impl InvalidConfig {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// `Err(InvalidConfig)` with the formatted message unless `condition` holds.
#[macro_export]
macro_rules! ensure_config {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err($crate::InvalidConfig::new(format!($($message)+)));
        }
    };
}

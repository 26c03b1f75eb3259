//! Errors of the entropy coders.

/// What can go wrong in a coder or a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The coded data is not a valid stream.
    #[error("corrupt stream: {0}")]
    Corrupt(&'static str),
    /// The stream ends before the decoder is done.
    #[error("stream ends early")]
    Truncated,
    /// A symbol outside the model, or one whose probability is zero.
    #[error("symbol {0} cannot be coded with this model (outside it or zero frequency)")]
    BadSymbol(usize),
    /// A model that cannot drive a coder (no symbols, total too large, …).
    #[error("invalid model: {0}")]
    InvalidModel(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

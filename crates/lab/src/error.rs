//! The lab's error type.

use std::path::Path;

/// Everything that stops a lab command before or while it works. Failures of a codec on one
/// image are not errors: the bench records them and goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A JSON file could not be parsed or written.
    #[error("{0}: {1}")]
    Json(String, String),
    /// A file's SHA-256 differs from its pin.
    #[error("{path}: SHA-256 mismatch (expected {expected}, found {found})")]
    Checksum { path: String, expected: String, found: String },
    /// A dataset is unknown, missing or incomplete.
    #[error("dataset: {0}")]
    Dataset(String),
    /// A codec name matches nothing.
    #[error("unknown codec '{0}' (see `tessera codecs` and `tessera bench --list`)")]
    UnknownCodec(String),
    /// A quality ladder or bench option is malformed.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// An external tool could not be run.
    #[error("{0}")]
    Tool(String),
    /// An error from Tessera's core (image I/O, codecs).
    #[error(transparent)]
    Core(#[from] tessera_core::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        Error::Io(path.display().to_string(), e)
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

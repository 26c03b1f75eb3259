//! The error type shared by the codecs and the container.

/// Everything that can go wrong while encoding, decoding or parsing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data is not a valid stream: corrupt, truncated or foreign.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The data is valid but ends before the decoder is done.
    #[error("unexpected end of data: {0}")]
    Truncated(String),
    /// The file is not a Tessera container at all.
    #[error("not a Tessera file (bad magic bytes)")]
    BadMagic,
    /// The container was written by an incompatible version.
    #[error("unsupported container version {0}")]
    UnsupportedVersion(u8),
    /// The checksum does not match the content.
    #[error("checksum mismatch: the file is corrupt or was cut short")]
    Checksum,
    /// A size or count is over the configured limits.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The image or parameters are not supported by this codec.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A parameter is out of range or malformed.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    /// No codec of this name is registered.
    #[error("unknown codec '{0}'")]
    UnknownCodec(String),
    /// The file was made with other model weights than the ones at hand.
    #[error("model mismatch: file needs {expected}, this build has {found}")]
    ModelMismatch { expected: String, found: String },
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A [`Error::Corrupt`] with the given message.
    pub fn corrupt(msg: impl Into<String>) -> Self {
        Error::Corrupt(msg.into())
    }
}

impl From<tessera_entropy::Error> for Error {
    fn from(e: tessera_entropy::Error) -> Self {
        match e {
            tessera_entropy::Error::Truncated => Error::Truncated("entropy-coded data".into()),
            other => Error::Corrupt(other.to_string()),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! `tessera-core` provides what every Tessera codec shares: the [`Image`] type, the [`Codec`]
//! trait, the `.tsr` [`container`], colour transforms, resource [`Limits`] and the typed
//! [`Error`].
//!
//! A codec turns an [`Image`] and [`EncodeParams`] into an [`Encoded`] (codec parameters and a
//! payload) and back. The container wraps that with everything needed to decode it safely:
//! image geometry, the codec's name, the model hash of learned codecs and a CRC-32 over it all.

pub mod codec;
pub mod color;
pub mod container;
pub mod error;
pub mod image;
pub mod io;
pub mod limits;
pub mod pipeline;

pub use codec::{Codec, EncodeParams, Encoded, ModelTag, TruncateTarget};
pub use container::{Container, Header};
pub use error::{Error, Result};
pub use image::Image;
pub use limits::Limits;

/// Bytes as lower-case hexadecimal, the way model hashes and checksums are shown and stored.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

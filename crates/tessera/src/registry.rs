//! Every codec by name, and the compress / decompress paths over the container.

use tessera_core::{Codec, Container, Error, Image, Result};

pub use tessera_core::pipeline::compress;

/// All codecs.
pub fn codecs() -> Vec<Box<dyn Codec>> {
    let mut all = tessera_classic::codecs();
    all.extend(tessera_neural::codecs());
    all
}

/// The codec called `name`.
pub fn find(name: &str) -> Result<Box<dyn Codec>> {
    codecs().into_iter().find(|c| c.name() == name).ok_or_else(|| Error::UnknownCodec(name.into()))
}

/// The codec used when none is named: the best lossless one.
pub const DEFAULT_LOSSLESS: &str = "lossless";

/// Decodes container bytes with the codec they name, checking the model tag of learned codecs.
pub fn decompress(bytes: &[u8]) -> Result<Image> {
    let c = Container::from_bytes(bytes)?;
    let codec = find(&c.header.codec)?;
    tessera_core::pipeline::decode_container(codec.as_ref(), &c)
}

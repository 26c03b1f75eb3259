//! The interface every codec implements.

use std::collections::BTreeMap;

use crate::{Error, Header, Image, Result};

/// What the user asked of an encoder. Codecs read the fields that make sense to them and
/// ignore the rest; `options` carries codec-specific settings (`--set key=value` on the CLI).
#[derive(Clone, Debug, PartialEq)]
pub struct EncodeParams {
    /// Quality from 1 (smallest) to 100 (best), like cjpeg's `-q`. `None`: the codec's default.
    pub quality: Option<f32>,
    /// Effort from 1 (fastest) to 9 (smallest files).
    pub effort: u8,
    /// Aim for this many bits per pixel (at most).
    pub target_bpp: Option<f64>,
    /// Aim for at least this RGB PSNR in dB.
    pub target_psnr: Option<f64>,
    /// Codec-specific options.
    pub options: BTreeMap<String, String>,
}

impl Default for EncodeParams {
    fn default() -> Self {
        EncodeParams { quality: None, effort: 5, target_bpp: None, target_psnr: None, options: BTreeMap::new() }
    }
}

impl EncodeParams {
    /// Parameters with the given quality.
    pub fn with_quality(quality: f32) -> Self {
        EncodeParams { quality: Some(quality), ..Self::default() }
    }

    /// The quality, or `default` when none was given, checked to lie in 1..=100.
    pub fn quality_or(&self, default: f32) -> Result<f32> {
        let q = self.quality.unwrap_or(default);
        if !(1.0..=100.0).contains(&q) {
            return Err(Error::InvalidParam(format!("quality {q} is outside 1..=100")));
        }
        Ok(q)
    }

    /// A codec-specific option parsed as `T`, or `default` when it is absent.
    pub fn option<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.options.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Error::InvalidParam(format!("option {key}={v} is not valid"))),
        }
    }
}

/// Identifies the weights a learned codec used, so that a decoder holding other weights refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelTag {
    /// The model's name, for example `hyperprior-q3`.
    pub name: String,
    /// SHA-256 of the weights file.
    pub hash: [u8; 32],
}

/// What a codec's encoder produces: the codec parameters the decoder needs and the payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// Small codec-specific header (quality, transform choices, …).
    pub params: Vec<u8>,
    /// The coded data.
    pub payload: Vec<u8>,
    /// The weights a learned codec used.
    pub model: Option<ModelTag>,
}

/// How far to cut an embedded (progressive) stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TruncateTarget {
    /// Keep at most this many bits per pixel, counting the whole container.
    Bpp(f64),
    /// Keep the first this many iterations of a progressive codec.
    Iterations(u32),
}

/// A lossless or lossy image codec.
///
/// Implementations must never panic on any `params` or `payload`: a decoder returns
/// [`Error::Corrupt`] or [`Error::Truncated`] for data it cannot decode.
pub trait Codec: Send + Sync {
    /// The name used on the command line and in the container (`[a-z0-9-]+`).
    fn name(&self) -> &'static str;
    /// One line saying what the codec is.
    fn summary(&self) -> &'static str;
    /// Whether decoding gives back the input exactly.
    fn is_lossless(&self) -> bool;
    /// Whether the encoder meets `target_bpp` / `target_psnr` itself; when not, the caller
    /// searches the quality.
    fn handles_targets(&self) -> bool {
        false
    }
    /// Whether the codec takes images like `image` at all (a digit codec takes 28×28 gray
    /// digits only): an `Unsupported` error saying why not. `encode` checks it again.
    fn accepts(&self, _image: &Image) -> Result<()> {
        Ok(())
    }
    /// Encodes an image.
    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded>;
    /// Decodes a payload; `header` gives the image geometry stored in the container.
    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image>;
    /// The qualities a codec offers when they are a few discrete settings (a learned codec's
    /// shipped models, say); `None` for the continuous 1..=100 range. Benches use it as the
    /// default ladder.
    fn qualities(&self) -> Option<Vec<f32>> {
        None
    }
    /// Why the codec cannot run on this machine (a learned codec without its weights), if so.
    fn unavailable(&self) -> Option<String> {
        None
    }
    /// What the codec runs with `params` beyond its name and the quality (a learned codec's
    /// weights hash, say), so that cached measurements made with other weights are not reused.
    fn fingerprint(&self, _params: &EncodeParams) -> Option<String> {
        None
    }
    /// The weights of a learned codec, checked against the container before decoding.
    fn model(&self, _params: &[u8]) -> Option<ModelTag> {
        None
    }
    /// Cuts an embedded stream without re-encoding, returning new codec parameters and payload.
    fn truncate(
        &self,
        _header: &Header,
        _params: &[u8],
        _payload: &[u8],
        _target: TruncateTarget,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        Err(Error::Unsupported(format!("codec '{}' cannot be truncated", self.name())))
    }
}

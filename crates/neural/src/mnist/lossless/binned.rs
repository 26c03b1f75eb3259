//! `mnist-pixel`: the learned pixel model of `mnist-lossless` driving a lossy coder. Each pixel
//! is coded as one bin of values (bins tiled outward from the model's most likely value, so the
//! likeliest values share one) and decodes to the bin's mean under the model; the pixels after it
//! are predicted from the decoded values, in the encoder as in the decoder.
//!
//! The upper rungs code the bin holding each value, so every pixel comes back within the bin's
//! width − 1 of the original (a near-lossless bound). The lower rungs let the encoder pick, per
//! pixel, the bin with the least squared error + λ × bits: a faint stroke pixel the model does not
//! expect becomes background when its bits cost more than its error.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, ModelTag, Result};

use super::codec::{self, load, Choice, Loaded};
use crate::mnist::data::Digits;

/// One quality: bins of `error + 1` values; with `lambda` 0 every pixel within `error`, else
/// the bin chosen by squared error + `lambda` × bits, whatever its error.
struct Rung {
    error: u8,
    lambda: f64,
}

/// The ladder, from `-q 1` (the fewest bits) up.
const LADDER: [Rung; 8] = [
    Rung { error: 16, lambda: 2000.0 },
    Rung { error: 16, lambda: 1000.0 },
    Rung { error: 16, lambda: 300.0 },
    Rung { error: 16, lambda: 0.0 },
    Rung { error: 8, lambda: 0.0 },
    Rung { error: 4, lambda: 0.0 },
    Rung { error: 2, lambda: 0.0 },
    Rung { error: 1, lambda: 0.0 },
];
/// The quality used when none is given.
const DEFAULT_QUALITY: f32 = 5.0;

/// The lossy learned pixel-model coder.
pub struct MnistPixel;

impl MnistPixel {
    /// How `params` asks to code: `--set error=N` (every pixel within N), else the quality's rung.
    pub fn choice(params: &EncodeParams) -> Result<Choice> {
        if let Some(e) = params.options.get("error") {
            let e = e.parse::<usize>().ok().filter(|e| (1..=128).contains(e)).ok_or_else(|| {
                Error::InvalidParam(format!("mnist-pixel error '{e}': a whole number of levels, 1 to 128"))
            })?;
            return Ok(Choice { width: e + 1, max_error: e, lambda: 0.0 });
        }
        let q = params.quality_or(DEFAULT_QUALITY)?.round() as usize;
        let rung = LADDER
            .get(q.wrapping_sub(1))
            .ok_or_else(|| Error::InvalidParam(format!("mnist-pixel qualities are 1..={}", LADDER.len())))?;
        let error = usize::from(rung.error);
        let max_error = if rung.lambda > 0.0 { 255 } else { error };
        Ok(Choice { width: error + 1, max_error, lambda: rung.lambda })
    }
}

/// Codes `digits` with a loaded model as `choice` says (bins of 2 values or more).
pub fn encode_with(m: &Loaded, digits: &Digits, choice: Choice) -> Result<Encoded> {
    if choice.width < 2 {
        return Err(Error::InvalidParam("mnist-pixel codes bins of 2 values or more; mnist-lossless codes exactly".into()));
    }
    codec::encode_choice(m, digits, choice)
}

/// Decodes a payload with the loaded model, which the container must name.
pub fn decode_with(m: &Loaded, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
    codec::decode_choice(m, header, params, payload, true)
}

impl Codec for MnistPixel {
    fn name(&self) -> &'static str {
        "mnist-pixel"
    }

    fn summary(&self) -> &'static str {
        "lossy learned digit coder: mnist-lossless's pixel model codes which bin of values each pixel falls in; -q 1..8 (4 and up keep every pixel within 16, 8, 4, 2, 1), --set error=N any bound"
    }

    fn is_lossless(&self) -> bool {
        false
    }

    fn accepts(&self, image: &Image) -> Result<()> {
        Digits::check(image)
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let choice = Self::choice(params)?;
        encode_with(&*load()?, &Digits::from_image(image)?, choice)
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        decode_with(&*load()?, header, params, payload)
    }

    fn qualities(&self) -> Option<Vec<f32>> {
        Some((1..=LADDER.len()).map(|q| q as f32).collect())
    }

    fn unavailable(&self) -> Option<String> {
        codec::unavailable()
    }

    fn fingerprint(&self, _params: &EncodeParams) -> Option<String> {
        codec::fingerprint()
    }

    fn model(&self, _params: &[u8]) -> Option<ModelTag> {
        codec::model_tag()
    }
}

//! The `mnist-lossless` codec: digits in chunks, each chunk one range-coded stream whose
//! every pixel is coded with the pixel model's frequencies. Chunks code and decode in
//! parallel; the payload is the chunks' streams, each preceded by its length.

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, ModelTag, Result};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::model::{PixelModel, Shape};
use super::net::Net;
use crate::mnist::data::{Digits, PIXELS, SIDE};
use crate::photo::weights;
use crate::recurrent::bits;
use crate::rng::Rng;

/// The model file's name.
pub const MODEL_NAME: &str = "mnist-lossless";
const VERSION: u8 = 2;
/// Digits per chunk: small enough that a 10,000-digit set keeps every core busy, large enough
/// that the streams' ends and lengths cost nothing that shows (about 10 bytes a chunk).
const CHUNK: usize = 250;

/// What a model file says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub shape: Shape,
    /// Training steps and seconds behind these weights.
    pub step: u64,
    pub seconds: f64,
}

/// A loaded model.
pub struct Loaded {
    pub tag: ModelTag,
    pub meta: Meta,
    pub net: Net,
}

/// Loads a model file's bytes.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Loaded> {
    let meta: Meta = weights::read_meta(bytes)?;
    meta.shape.check().map_err(|_| Error::corrupt("model file shape"))?;
    let mut model = PixelModel::new(meta.shape, &mut Rng::new(0), &crate::photo::codec::device());
    weights::apply(&mut model, name, bytes)?;
    Ok(Loaded { tag: weights::tag(name, bytes), meta, net: Net::new(&model)? })
}

pub(super) fn load() -> Result<Arc<Loaded>> {
    weights::cached(MODEL_NAME, |bytes| load_bytes(MODEL_NAME, bytes))
}

/// The learned lossless digit codec.
pub struct MnistLossless;

/// Codes `digits` with a loaded model, exactly.
pub fn encode_with(m: &Loaded, digits: &Digits) -> Result<Encoded> {
    encode_choice(m, digits, EXACT)
}

/// How the encoder picks the bin it codes for each pixel.
#[derive(Clone, Copy, Debug)]
pub struct Choice {
    /// Values per bin (see [`super::net::Freqs::bin`]; 1: every value its own).
    pub width: usize,
    /// The largest error a decoded pixel may have.
    pub max_error: usize,
    /// The squared error one bit is worth (see [`super::net::Freqs::cheapest`]); 0: always
    /// the bin holding the value.
    pub lambda: f64,
}

/// Exact coding.
const EXACT: Choice = Choice { width: 1, max_error: 0, lambda: 0.0 };

/// Codes `digits` as `choice` says. The parameters are the version and the chunk size, then
/// the bin width when the bins are wider than one value; the payload is each chunk's stream,
/// preceded by its length.
pub(super) fn encode_choice(m: &Loaded, digits: &Digits, choice: Choice) -> Result<Encoded> {
    if !(1..=255).contains(&choice.width) {
        return Err(Error::InvalidParam(format!("bins of {} values: 1 to 255 here", choice.width)));
    }
    let chunk = CHUNK as u16;
    let mut params = vec![VERSION, chunk as u8, (chunk >> 8) as u8];
    if choice.width > 1 {
        params.push(choice.width as u8);
    }
    let streams = digits
        .pixels
        .par_chunks(CHUNK * PIXELS)
        .map(|chunk| encode_chunk(&m.net, chunk, choice))
        .collect::<Result<Vec<_>>>()?;
    let mut payload = Vec::new();
    for s in &streams {
        bits::push(&mut payload, s);
    }
    Ok(Encoded { params, payload, model: Some(m.tag.clone()) })
}

fn encode_chunk(net: &Net, pixels: &[u8], choice: Choice) -> Result<Vec<u8>> {
    let mut enc = RangeEncoder::new();
    let mut s = net.scratch();
    // The digit as the decoder will see it, which is what the model must be given.
    let mut seen = [0u8; PIXELS];
    for digit in pixels.chunks_exact(PIXELS) {
        for (p, &v) in digit.iter().enumerate() {
            let f = net.freqs(&seen, p / SIDE, p % SIDE, &mut s);
            let (lo, hi) = f.cheapest(usize::from(v), choice.width, choice.max_error, choice.lambda);
            enc.encode_interval(f.cum[lo], f.cum[hi + 1] - f.cum[lo], f.total())?;
            seen[p] = f.rebuilt(lo, hi);
        }
    }
    Ok(enc.finish())
}

/// Decodes a payload with the loaded model, which the container must name.
pub fn decode_with(m: &Loaded, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
    decode_choice(m, header, params, payload, false)
}

/// Decodes what [`encode_choice`] wrote: exact coding, or with `binned` wider bins (each codec
/// takes only its own streams).
pub(super) fn decode_choice(m: &Loaded, header: &Header, params: &[u8], payload: &[u8], binned: bool) -> Result<Image> {
    let (chunk, width) = match (params, binned) {
        (&[VERSION, lo, hi], false) => (u16::from_le_bytes([lo, hi]), 1),
        (&[VERSION, lo, hi, width], true) if width >= 2 => (u16::from_le_bytes([lo, hi]), width),
        _ => return Err(Error::corrupt("codec parameters")),
    };
    let (chunk, width) = (usize::from(chunk), usize::from(width));
    if chunk == 0 {
        return Err(Error::corrupt("chunk size"));
    }
    if header.model.as_ref() != Some(&m.tag) {
        return Err(Error::corrupt("container does not name this model's weights"));
    }
    if (header.width, header.height, header.channels, header.bit_depth) != (SIDE as u32, SIDE as u32, 1, 8) {
        return Err(Error::corrupt("geometry this codec does not write"));
    }
    let count = header.frames as usize;
    let streams = bits::split(payload)?;
    if streams.len() != count.div_ceil(chunk) {
        return Err(Error::corrupt("the number of chunks does not match the number of digits"));
    }
    let parts = streams
        .par_iter()
        .enumerate()
        .map(|(i, s)| decode_chunk(&m.net, s, chunk.min(count - i * chunk), width))
        .collect::<Result<Vec<_>>>()?;
    Digits { pixels: parts.concat(), labels: None }.to_image()
}

fn decode_chunk(net: &Net, stream: &[u8], digits: usize, width: usize) -> Result<Vec<u8>> {
    let mut dec = RangeDecoder::new(stream);
    let mut s = net.scratch();
    let mut out = vec![0u8; digits * PIXELS];
    for digit in out.chunks_exact_mut(PIXELS) {
        for p in 0..PIXELS {
            let f = net.freqs(digit, p / SIDE, p % SIDE, &mut s);
            let t = dec.decode_target(f.total())?;
            let (lo, hi) = f.bin(f.find(t), width);
            dec.consume(f.cum[lo], f.cum[hi + 1] - f.cum[lo], f.total());
            digit[p] = f.rebuilt(lo, hi);
        }
    }
    dec.check_end()?;
    Ok(out)
}

impl Codec for MnistLossless {
    fn name(&self) -> &'static str {
        "mnist-lossless"
    }

    fn summary(&self) -> &'static str {
        "learned lossless digit coder: a causal network predicts each pixel's distribution (28×28 gray digits or IDX sets of them)"
    }

    fn is_lossless(&self) -> bool {
        true
    }

    fn accepts(&self, image: &Image) -> Result<()> {
        Digits::check(image)
    }

    fn encode(&self, image: &Image, _params: &EncodeParams) -> Result<Encoded> {
        let digits = Digits::from_image(image)?;
        encode_with(&*load()?, &digits)
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        decode_with(&*load()?, header, params, payload)
    }

    fn unavailable(&self) -> Option<String> {
        unavailable()
    }

    fn fingerprint(&self, _params: &EncodeParams) -> Option<String> {
        fingerprint()
    }

    fn model(&self, _params: &[u8]) -> Option<ModelTag> {
        model_tag()
    }
}

/// Why the pixel model cannot be used here, if it cannot.
pub(super) fn unavailable() -> Option<String> {
    weights::find(MODEL_NAME).err().map(|e| e.to_string())
}

/// The model file's tag, which containers made with it carry.
pub(super) fn model_tag() -> Option<ModelTag> {
    Some(weights::tag(MODEL_NAME, &weights::find(MODEL_NAME).ok()?))
}

/// The start of the model file's hash, in hex, for the lab's cache.
pub(super) fn fingerprint() -> Option<String> {
    Some(tessera_core::hex(&model_tag()?.hash[..6]))
}

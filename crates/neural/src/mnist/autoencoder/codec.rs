//! The `mnist-ae` codec: analysis transform → rounding around the medians → range coding with
//! the model file's integer tables → synthesis transform.
//!
//! Decoding is the same on every machine: the symbols are decoded with stored integer
//! frequencies (no network is evaluated to get a probability), and only the synthesis, run
//! after every symbol is known, is floating point. A set of digits (an IDX set, one frame
//! per digit) is one range-coded stream: digit after digit, channel after channel, the 7×7
//! latent positions of each channel.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tessera_core::{Codec, Container, EncodeParams, Encoded, Error, Header, Image, ModelTag, Result};
use tessera_entropy::model::QuantizedCdf;
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::model::{DigitAutoencoder, Shape, LATENT_POSITIONS, LATENT_SIDE};
use crate::layers::density::ChannelTable;
use crate::mnist::data::{Digits, PIXELS, SIDE};
use crate::photo::codec::device;
use crate::photo::weights;
use crate::rng::Rng;

/// Format version of the codec parameters.
const VERSION: u8 = 1;
/// Highest rung of the rate ladder looked for.
pub const MAX_QUALITY: u8 = 8;
/// The rung used when no quality is given.
const DEFAULT_QUALITY: u8 = 3;
/// The parameter byte naming the plain (MSE-trained) model.
const PLAIN: u8 = 0;
/// Digits run through a transform at once (bounds the activations to a few tens of MB).
const BATCH: usize = 500;
/// Decoded latents are clamped to this magnitude before the synthesis (escaped values in a
/// corrupt stream can be as large as 2^32).
const LATENT_LIMIT: f32 = 1e4;

/// What a model file says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub shape: Shape,
    /// The rate–distortion trade-off it was trained for (the MSE weight of the plain model).
    pub lambda: f64,
    /// Trained without a rate term (MSE and an L2 penalty on the latents).
    pub plain: bool,
    /// Training steps and seconds behind these weights.
    pub step: u64,
    pub seconds: f64,
    /// One coding table per latent channel.
    pub tables: Vec<ChannelTable>,
}

/// A loaded model file.
pub struct Loaded {
    pub tag: ModelTag,
    pub meta: Meta,
    pub model: DigitAutoencoder,
    /// The tables as the coder uses them.
    cdfs: Vec<QuantizedCdf>,
}

/// The name of the model file for parameter byte `q` (`mnist-ae-q3`, `mnist-ae-plain`).
pub fn model_name(q: u8) -> String {
    if q == PLAIN {
        "mnist-ae-plain".into()
    } else {
        format!("mnist-ae-q{q}")
    }
}

/// Loads a model file's bytes, checking that its tables fit its shape.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Loaded> {
    let meta: Meta = weights::read_meta(bytes)?;
    meta.shape.check().map_err(|_| Error::corrupt("model file shape"))?;
    if meta.tables.len() != meta.shape.m {
        return Err(Error::corrupt("model file tables do not match its latent channels"));
    }
    let cdfs = meta
        .tables
        .iter()
        .map(|t| {
            if !t.median.is_finite() {
                return Err(Error::corrupt("model file median"));
            }
            QuantizedCdf::from_frequencies(t.lo, t.hi, &t.frequencies)
                .map_err(|_| Error::corrupt("model file coding table"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut model = DigitAutoencoder::new(meta.shape, &mut Rng::new(0), &device());
    weights::apply(&mut model, name, bytes)?;
    Ok(Loaded { tag: weights::tag(name, bytes), meta, model, cdfs })
}

fn load(q: u8) -> Result<Arc<Loaded>> {
    let name = model_name(q);
    weights::cached(&name, |bytes| load_bytes(&name, bytes))
}

/// Builds a [`Loaded`] from a model in memory (training's validation and the tests).
pub fn loaded_from(model: DigitAutoencoder, meta: Meta, tag: ModelTag) -> Result<Loaded> {
    let cdfs = meta
        .tables
        .iter()
        .map(|t| QuantizedCdf::from_frequencies(t.lo, t.hi, &t.frequencies))
        .collect::<tessera_entropy::Result<Vec<_>>>()?;
    Ok(Loaded { tag, meta, model, cdfs })
}

/// The lossy learned digit codec.
pub struct MnistAe;

impl MnistAe {
    /// Rungs of the ladder with weights present.
    pub fn available(&self) -> Vec<u8> {
        (1..=MAX_QUALITY).filter(|&q| weights::find(&model_name(q)).is_ok()).collect()
    }

    /// The parameter byte `params` asks for: `--set model=plain`, else the quality rung.
    fn choose(&self, params: &EncodeParams) -> Result<u8> {
        match params.options.get("model").map(String::as_str) {
            Some("plain") => return Ok(PLAIN),
            Some("ladder") | None => {}
            Some(other) => {
                return Err(Error::InvalidParam(format!(
                    "mnist-ae model '{other}': 'ladder' (the rate–distortion models, -q picks the rung) or 'plain'"
                )))
            }
        }
        let q = params.quality_or(f32::from(DEFAULT_QUALITY))?.round();
        if q > f32::from(MAX_QUALITY) {
            return Err(Error::InvalidParam(format!(
                "mnist-ae qualities are 1..={MAX_QUALITY} (one model each; present: {:?})",
                self.available()
            )));
        }
        Ok(q as u8)
    }

    /// The highest rung whose container meets `target_bpp`, or the lowest that meets
    /// `target_psnr` (every shipped rung is tried).
    fn encode_target(&self, digits: &Digits, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let mut qs = self.available();
        if qs.is_empty() {
            return Err(load(1).err().unwrap_or(Error::InvalidParam("no mnist-ae model".into())));
        }
        if params.target_bpp.is_some() {
            qs.reverse();
        }
        let pixels = image.pixel_count() as f64;
        let mut last = None;
        for q in qs {
            let m = load(q)?;
            let enc = encode_with(&m, digits, q)?;
            let header = Header::for_image(self.name(), image, enc.model.clone());
            let c = Container { header, params: enc.params.clone(), payload: enc.payload.clone() };
            let fits = params.target_bpp.is_none_or(|b| c.to_bytes().map_or(f64::MAX, |v| v.len() as f64) * 8.0 / pixels <= b);
            let good = match params.target_psnr {
                Some(t) => tessera_core::pipeline::psnr_rgb(image, &decode_with(&m, &c.header, &c.params, &c.payload)?) >= t,
                None => true,
            };
            if fits && good {
                return Ok(enc);
            }
            last = Some(enc);
        }
        match (last, params.target_bpp) {
            (Some(enc), None) => Ok(enc),
            _ => Err(Error::InvalidParam("no mnist-ae model meets the target on this set".into())),
        }
    }
}

impl Codec for MnistAe {
    fn name(&self) -> &'static str {
        "mnist-ae"
    }

    fn summary(&self) -> &'static str {
        "lossy learned digit codec: convolutional autoencoder with a learned factorised prior (28×28 gray digits or IDX sets); -q picks the rung, --set model=plain the MSE-only model"
    }

    fn is_lossless(&self) -> bool {
        false
    }

    fn accepts(&self, image: &Image) -> Result<()> {
        Digits::check(image)
    }

    fn handles_targets(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let digits = Digits::from_image(image)?;
        if params.target_bpp.is_some() || params.target_psnr.is_some() {
            return self.encode_target(&digits, image, params);
        }
        let q = self.choose(params)?;
        encode_with(&*load(q)?, &digits, q)
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        decode_with(&*load(parse_params(params)?)?, header, params, payload)
    }

    fn qualities(&self) -> Option<Vec<f32>> {
        Some(self.available().into_iter().map(f32::from).collect())
    }

    fn unavailable(&self) -> Option<String> {
        self.available().is_empty().then(|| match weights::find(&model_name(1)) {
            Err(e) => e.to_string(),
            Ok(_) => "no mnist-ae models".into(),
        })
    }

    fn fingerprint(&self, params: &EncodeParams) -> Option<String> {
        let q = params.quality.map_or(DEFAULT_QUALITY, |q| q.round().clamp(1.0, f32::from(MAX_QUALITY)) as u8);
        let tag = self.model(&[VERSION, q])?;
        Some(tessera_core::hex(&tag.hash[..6]))
    }

    fn model(&self, params: &[u8]) -> Option<ModelTag> {
        let name = model_name(parse_params(params).ok()?);
        Some(weights::tag(&name, &weights::find(&name).ok()?))
    }
}

fn parse_params(params: &[u8]) -> Result<u8> {
    match params {
        [VERSION, q] if *q <= MAX_QUALITY => Ok(*q),
        [VERSION, _] => Err(Error::corrupt("mnist-ae model index")),
        _ => Err(Error::corrupt("codec parameters")),
    }
}

/// The latents of `digits` (`[digits, m, 7, 7]` flattened), computed in batches.
pub fn latents(model: &DigitAutoencoder, digits: &Digits) -> Vec<f32> {
    let dev = device();
    let mut out = Vec::with_capacity(digits.len() * model.density.channels() * LATENT_POSITIONS);
    let all: Vec<usize> = (0..digits.len()).collect();
    for idx in all.chunks(BATCH) {
        let x = Tensor::<4>::from_data(TensorData::new(digits.batch(idx), [idx.len(), 1, SIDE, SIDE]), &dev);
        out.extend(values(model.analysis.forward(x)));
    }
    out
}

/// Digits (rounded to 8 bits) from decoded latents (`[digits, m, 7, 7]` flattened).
pub fn synthesise(model: &DigitAutoencoder, y_hat: &[f32], m: usize) -> Digits {
    let dev = device();
    let per = m * LATENT_POSITIONS;
    let mut pixels = Vec::with_capacity(y_hat.len() / per.max(1) * PIXELS);
    for chunk in y_hat.chunks(BATCH * per) {
        let b = chunk.len() / per;
        let y = Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), [b, m, LATENT_SIDE, LATENT_SIDE]), &dev);
        pixels.extend(values(model.synthesis.forward(y)).iter().map(|&v| {
            let v = if v.is_finite() { v } else { 0.0 };
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        }));
    }
    Digits { pixels, labels: None }
}

/// Codes `digits` with a loaded model, recording parameter byte `q`.
pub fn encode_with(m: &Loaded, digits: &Digits, q: u8) -> Result<Encoded> {
    if digits.is_empty() {
        return Err(Error::InvalidParam("an empty set of digits".into()));
    }
    let y = latents(&m.model, digits);
    let mut enc = RangeEncoder::new();
    for (i, &v) in y.iter().enumerate() {
        let c = (i / LATENT_POSITIONS) % m.cdfs.len();
        let s = (v - m.meta.tables[c].median).round();
        // Latents of real digits stay within a few tens; the clamp only guards the cast.
        let s = if s.is_finite() { s.clamp(-1e6, 1e6) as i32 } else { 0 };
        m.cdfs[c].encode_value(&mut enc, s)?;
    }
    Ok(Encoded { params: vec![VERSION, q], payload: enc.finish(), model: Some(m.tag.clone()) })
}

/// Decodes a payload with the loaded model, which the container must name.
pub fn decode_with(m: &Loaded, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
    parse_params(params)?;
    if header.model.as_ref() != Some(&m.tag) {
        return Err(Error::corrupt("container does not name this model's weights"));
    }
    if (header.width, header.height, header.channels, header.bit_depth) != (SIDE as u32, SIDE as u32, 1, 8)
        || header.frames == 0
    {
        return Err(Error::corrupt("geometry this codec does not write"));
    }
    let ch = m.cdfs.len();
    let count = header.frames as usize * ch * LATENT_POSITIONS;
    let mut dec = RangeDecoder::new(payload);
    let mut y = Vec::with_capacity(count);
    for i in 0..count {
        let c = (i / LATENT_POSITIONS) % ch;
        let s = m.cdfs[c].decode_value(&mut dec)?;
        y.push((s as f32 + m.meta.tables[c].median).clamp(-LATENT_LIMIT, LATENT_LIMIT));
    }
    dec.check_end()?;
    synthesise(&m.model, &y, ch).to_image()
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

//! The codec `rnn`: `-q K` codes K iterations (1..=16, 0.125 raw bits per pixel each before
//! entropy coding); `--set variant=UNIT-FRAMEWORK` picks the network (default
//! `gru-additive`). Files are progressive: `tessera truncate --iterations K` keeps a prefix.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tessera_core::{
    Codec, Container, EncodeParams, Encoded, Error, Header, Image, ModelTag, Result, TruncateTarget,
};

use super::bits::{self, BitCoder};
use super::cell::Unit;
use super::model::{binarize, Framework, RecurrentModel, Variant, ALIGN, BITS};
use crate::photo::codec::device;
use crate::photo::weights;
use crate::rng::Rng;

const VERSION: u8 = 1;
/// Most iterations a file may hold.
pub const MAX_ITERATIONS: u8 = 16;
const DEFAULT_ITERATIONS: f32 = 8.0;
/// The variant used when none is asked for.
pub const DEFAULT_VARIANT: &str = "gru-additive";
/// Largest image the network runs on whole.
const MAX_PIXELS: usize = 1 << 24;

/// What a recurrent model file says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub variant: String,
    pub iterations: usize,
    pub step: u64,
    pub seconds: f64,
}

/// A loaded recurrent model.
pub struct Loaded {
    pub tag: ModelTag,
    pub meta: Meta,
    pub model: RecurrentModel,
}

/// The model file name of a variant.
pub fn model_name(variant: Variant) -> String {
    format!("rnn-{}", variant.name())
}

/// Loads a model file's bytes.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<Loaded> {
    let meta: Meta = weights::read_meta(bytes)?;
    let variant = Variant::from_name(&meta.variant)
        .ok_or(Error::corrupt("model file of an unknown variant"))?;
    let mut model = RecurrentModel::new(variant, &mut Rng::new(0), &device());
    weights::apply(&mut model, name, bytes)?;
    Ok(Loaded {
        tag: weights::tag(name, bytes),
        meta,
        model,
    })
}

fn load(variant: Variant) -> Result<Arc<Loaded>> {
    let name = model_name(variant);
    weights::cached(&name, |bytes| load_bytes(&name, bytes))
}

/// The progressive recurrent codec.
pub struct RnnCodec;

fn variant_of(params: &EncodeParams) -> Result<Variant> {
    let name: String = params.option("variant", DEFAULT_VARIANT.to_string())?;
    Variant::from_name(&name).ok_or_else(|| {
        let all: Vec<String> = Variant::all().into_iter().map(Variant::name).collect();
        Error::InvalidParam(format!(
            "unknown variant '{name}' (one of {})",
            all.join(", ")
        ))
    })
}

fn parse_params(params: &[u8]) -> Result<(Variant, usize)> {
    let [VERSION, unit, framework, k] = *params else {
        return Err(Error::corrupt("codec parameters"));
    };
    let unit = *Unit::ALL
        .get(usize::from(unit))
        .ok_or(Error::corrupt("unit"))?;
    let framework = *Framework::ALL
        .get(usize::from(framework))
        .ok_or(Error::corrupt("framework"))?;
    if !(1..=MAX_ITERATIONS).contains(&k) {
        return Err(Error::corrupt("iteration count"));
    }
    Ok((Variant { unit, framework }, usize::from(k)))
}

fn params_bytes(v: Variant, k: usize) -> Vec<u8> {
    let unit = Unit::ALL.iter().position(|&u| u == v.unit).unwrap_or(0) as u8;
    let fw = Framework::ALL
        .iter()
        .position(|&f| f == v.framework)
        .unwrap_or(0) as u8;
    vec![VERSION, unit, fw, k as u8]
}

fn check_size(w: usize, h: usize) -> Result<()> {
    if w.div_ceil(ALIGN) * h.div_ceil(ALIGN) * ALIGN * ALIGN > MAX_PIXELS {
        return Err(Error::Limit(format!(
            "the recurrent codec takes images of at most {MAX_PIXELS} pixels (got {w}×{h})"
        )));
    }
    Ok(())
}

/// Encodes `k` iterations; returns the payload and each prefix's RGB squared error sum.
pub fn encode_with(m: &Loaded, image: &Image, k: usize) -> Result<(Vec<u8>, Vec<f64>)> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (pw, ph) = (w.div_ceil(ALIGN) * ALIGN, h.div_ceil(ALIGN) * ALIGN);
    let dev = device();
    let planar: Vec<f32> = crate::photo::codec::to_planar_padded(image, pw, ph)
        .into_iter()
        .map(|v| v - 0.5)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(planar, [1, 3, ph, pw]), &dev);
    let mut p = m.model.start(1, ph, pw, &dev);
    let mut coder = BitCoder::new(ph / ALIGN, pw / ALIGN);
    let mut payload = Vec::new();
    let mut errors = Vec::with_capacity(k);
    let mut residual = x.clone();
    for _ in 0..k {
        let b = binarize(m.model.encode_step(residual, &mut p));
        let bits: Vec<u8> = b
            .to_data()
            .try_to_vec::<f32>()
            .unwrap_or_default()
            .iter()
            .map(|&v| u8::from(v > 0.0))
            .collect();
        bits::push(&mut payload, &coder.encode(&bits));
        let picture = m.model.decode_step(b, &mut p);
        let rec = to_image(&picture, pw, ph, w, h, image.channels());
        errors.push(squared_error(image, &rec));
        residual = x.clone() - picture;
    }
    Ok((payload, errors))
}

/// Decodes a payload with the loaded model, which the container must name.
pub fn decode_with(m: &Loaded, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
    let (_, k) = parse_params(params)?;
    if header.model.as_ref() != Some(&m.tag) {
        return Err(Error::corrupt(
            "container does not name this model's weights",
        ));
    }
    if header.frames != 1 || !matches!(header.channels, 1 | 3) || header.bit_depth != 8 {
        return Err(Error::corrupt("geometry this codec does not write"));
    }
    let (w, h) = (header.width as usize, header.height as usize);
    check_size(w, h)?;
    let streams = bits::split(payload)?;
    if streams.len() != k {
        return Err(Error::corrupt(
            "the container's iteration count differs from the streams it holds",
        ));
    }
    let (pw, ph) = (w.div_ceil(ALIGN) * ALIGN, h.div_ceil(ALIGN) * ALIGN);
    let dev = device();
    let mut p = m.model.start(1, ph, pw, &dev);
    let mut coder = BitCoder::new(ph / ALIGN, pw / ALIGN);
    let mut picture = Tensor::<4>::zeros([1, 3, ph, pw], &dev);
    for s in streams {
        let bits = coder.decode(s)?;
        let b: Vec<f32> = bits
            .iter()
            .map(|&v| if v == 1 { 1.0 } else { -1.0 })
            .collect();
        let b = Tensor::<4>::from_data(TensorData::new(b, [1, BITS, ph / ALIGN, pw / ALIGN]), &dev);
        picture = m.model.decode_step(b, &mut p);
    }
    Ok(to_image(&picture, pw, ph, w, h, header.channels))
}

fn to_image(picture: &Tensor<4>, pw: usize, ph: usize, w: usize, h: usize, channels: u8) -> Image {
    let v: Vec<f32> = picture
        .to_data()
        .try_to_vec::<f32>()
        .unwrap_or_default()
        .iter()
        .map(|x| x + 0.5)
        .collect();
    crate::photo::codec::from_planar(&v, pw, ph, w, h, channels)
}

fn squared_error(a: &Image, b: &Image) -> f64 {
    a.samples()
        .iter()
        .zip(b.samples())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum()
}

fn psnr(se: f64, samples: usize) -> f64 {
    let mse = se / samples.max(1) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// The payload's first `k` iteration streams.
fn prefix(payload: &[u8], k: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for s in bits::split(payload)?.into_iter().take(k) {
        bits::push(&mut out, s);
    }
    Ok(out)
}

impl Codec for RnnCodec {
    fn name(&self) -> &'static str {
        "rnn"
    }

    fn summary(&self) -> &'static str {
        "progressive recurrent codec (Toderici 2017), -q = iterations, --set variant=UNIT-FRAMEWORK"
    }

    fn is_lossless(&self) -> bool {
        false
    }

    fn handles_targets(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        if image.frames() != 1 || image.bit_depth() != 8 || !matches!(image.channels(), 1 | 3) {
            return Err(Error::Unsupported(
                "the recurrent codec takes one 8-bit gray or RGB image (alpha is not carried)"
                    .into(),
            ));
        }
        check_size(image.width() as usize, image.height() as usize)?;
        let variant = variant_of(params)?;
        let m = load(variant)?;
        let has_target = params.target_bpp.is_some() || params.target_psnr.is_some();
        let k = if has_target {
            usize::from(MAX_ITERATIONS)
        } else {
            let q = params.quality_or(DEFAULT_ITERATIONS)?.round();
            if q > f32::from(MAX_ITERATIONS) {
                return Err(Error::InvalidParam(format!(
                    "rnn's quality is the number of iterations, 1..={MAX_ITERATIONS}"
                )));
            }
            q as usize
        };
        let (payload, errors) = encode_with(&m, image, k)?;
        let mut keep = k;
        if let Some(t) = params.target_psnr {
            keep = errors
                .iter()
                .position(|&e| psnr(e, image.samples().len()) >= t)
                .map_or(k, |i| i + 1);
        }
        let header = Header::for_image(self.name(), image, Some(m.tag.clone()));
        let mut enc = Encoded {
            params: params_bytes(variant, keep),
            payload: prefix(&payload, keep)?,
            model: Some(m.tag.clone()),
        };
        if let Some(bpp) = params.target_bpp {
            let (params, payload) =
                self.truncate(&header, &enc.params, &enc.payload, TruncateTarget::Bpp(bpp))?;
            enc = Encoded {
                params,
                payload,
                model: enc.model,
            };
        }
        Ok(enc)
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let (variant, _) = parse_params(params)?;
        decode_with(&*load(variant)?, header, params, payload)
    }

    fn truncate(
        &self,
        header: &Header,
        params: &[u8],
        payload: &[u8],
        target: TruncateTarget,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let (variant, k) = parse_params(params)?;
        let held = bits::split(payload)?.len();
        if held != k {
            return Err(Error::corrupt(
                "the container's iteration count differs from the streams it holds",
            ));
        }
        let keep = match target {
            TruncateTarget::Iterations(n) => {
                if n == 0 || n as usize > k {
                    return Err(Error::InvalidParam(format!(
                        "the file holds {k} iterations; keep 1..={k}"
                    )));
                }
                n as usize
            }
            TruncateTarget::Bpp(bpp) => {
                let pixels = f64::from(header.width) * f64::from(header.height);
                let fits = |n: usize| -> Result<bool> {
                    let c = Container {
                        header: header.clone(),
                        params: params_bytes(variant, n),
                        payload: prefix(payload, n)?,
                    };
                    Ok(c.to_bytes()?.len() as f64 * 8.0 / pixels <= bpp)
                };
                let mut best = None;
                for n in 1..=k {
                    if fits(n)? {
                        best = Some(n);
                    }
                }
                best.ok_or_else(|| {
                    Error::InvalidParam(format!("even one iteration exceeds {bpp} bpp"))
                })?
            }
        };
        Ok((params_bytes(variant, keep), prefix(payload, keep)?))
    }

    fn qualities(&self) -> Option<Vec<f32>> {
        // Iteration counts a bench runs by default: every rung up to 4, then sparser.
        let v = Variant::from_name(DEFAULT_VARIANT)?;
        weights::find(&model_name(v)).ok().map(|_| vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0])
    }

    fn unavailable(&self) -> Option<String> {
        let v = Variant::from_name(DEFAULT_VARIANT)?;
        weights::find(&model_name(v)).err().map(|e| e.to_string())
    }

    fn fingerprint(&self, params: &EncodeParams) -> Option<String> {
        let v = variant_of(params).ok()?;
        let tag = weights::tag("", &weights::find(&model_name(v)).ok()?);
        Some(tag.hash[..6].iter().map(|b| format!("{b:02x}")).collect())
    }

    fn model(&self, params: &[u8]) -> Option<ModelTag> {
        let (variant, _) = parse_params(params).ok()?;
        let name = model_name(variant);
        Some(weights::tag(&name, &weights::find(&name).ok()?))
    }
}

//! The codecs `factorized` and `hyperprior`: analysis transform → rounding → range coding of
//! the latents with integer tables → synthesis transform.
//!
//! Decoding is bit-exact everywhere: the factorised tables are stored integers, and the
//! hyperprior's means and scales come from the fixed-point hyper-synthesis ([`crate::fixed`]),
//! so the decoder selects exactly the tables the encoder used. Only the synthesis transform
//! runs in floating point, after every symbol is decoded.

use std::sync::{Arc, OnceLock};

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, ModelTag, Result};
use tessera_entropy::model::{GaussianScaleTable, QuantizedCdf};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::context::{self, FixedContext};
use super::model::{Kind, PhotoModel, ALIGN};
use super::refine;
use super::weights::{self, ModelFile};
use crate::fixed::{self, Conv, Map};
use crate::layers::gaussian::SCALE_MIN;

/// Format version of the codec parameters.
const VERSION: u8 = 1;
/// Highest quality index looked for.
pub const MAX_QUALITY: u8 = 8;
/// Quality used when none is given: the mid-rate model, trained from scratch and always shipped
/// (the other rates are fine-tuned from it).
const DEFAULT_QUALITY: u8 = 3;
/// The scale ladder of the Gaussian tables: `SCALE_MIN · SCALE_RATIO^i`, computed with plain
/// multiplications (exactly rounded, so every machine builds the same tables).
const SCALE_RATIO: f64 = 1.13;
const SCALE_COUNT: usize = 64;
/// Most refinement steps asked for (`--set refine=`): the gains stop well before.
const MAX_REFINE_STEPS: usize = 1000;
/// Largest image the transforms run on whole (about 3 GB of activations at this size).
const MAX_PIXELS: usize = 1 << 24;

/// A learned photo codec.
pub struct PhotoCodec {
    kind: Kind,
}

impl PhotoCodec {
    pub fn new(kind: Kind) -> Self {
        Self { kind }
    }

    fn model_name(&self, q: u8) -> String {
        format!("{}-q{q}", self.kind.name())
    }

    fn load(&self, q: u8) -> Result<Arc<ModelFile>> {
        let name = self.model_name(q);
        let file = weights::load_cached(&name, &device())?;
        if file.meta.config()?.kind != self.kind {
            return Err(Error::InvalidParam(format!(
                "{name}.safetensors holds a {} model",
                file.meta.kind
            )));
        }
        Ok(file)
    }

    /// Qualities with weights present.
    pub fn available(&self) -> Vec<u8> {
        (1..=MAX_QUALITY)
            .filter(|&q| weights::find(&self.model_name(q)).is_ok())
            .collect()
    }

    fn encode_quality(&self, image: &Image, q: u8, refine: usize) -> Result<Encoded> {
        encode_with(&*self.load(q)?, image, q, refine)
    }

    /// The smallest-error model whose container meets `target_bpp`, or the smallest file that
    /// meets `target_psnr`: every shipped quality is tried.
    fn encode_target(
        &self,
        image: &Image,
        params: &EncodeParams,
        refine: usize,
    ) -> Result<Encoded> {
        let pixels = image.pixel_count() as f64;
        let mut chosen: Option<Encoded> = None;
        let mut qs = self.available();
        if params.target_bpp.is_some() {
            qs.reverse();
        }
        for q in qs {
            let enc = self.encode_quality(image, q, refine)?;
            let header = Header::for_image(self.name(), image, enc.model.clone());
            let container = tessera_core::Container {
                header,
                params: enc.params.clone(),
                payload: enc.payload.clone(),
            };
            let bytes = container.to_bytes()?;
            let fits = params
                .target_bpp
                .is_none_or(|b| bytes.len() as f64 * 8.0 / pixels <= b);
            let good = match params.target_psnr {
                Some(t) => {
                    tessera_core::pipeline::psnr_rgb(
                        image,
                        &tessera_core::pipeline::decode_container(self, &container)?,
                    ) >= t
                }
                None => true,
            };
            if fits && good {
                return Ok(enc);
            }
            chosen = Some(enc);
        }
        match (chosen, params.target_bpp) {
            (Some(_), Some(b)) => Err(Error::InvalidParam(format!(
                "no {} model reaches {b} bpp on this image",
                self.name()
            ))),
            (Some(enc), None) => Ok(enc),
            (None, _) => Err(self
                .load(1)
                .err()
                .unwrap_or(Error::InvalidParam("no shipped model".into()))),
        }
    }
}

impl Codec for PhotoCodec {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn summary(&self) -> &'static str {
        match self.kind {
            Kind::Factorized => "learned transform codec with a factorised prior (Ballé 2018); -q picks the model, --set refine=STEPS refines the latents for the image (60: about 20 s a Kodak image)",
            Kind::Hyperprior => "learned transform codec with a mean-scale hyperprior (Minnen 2018); -q picks the model, --set refine=STEPS refines the latents for the image (60: about 20 s a Kodak image)",
            Kind::Checkerboard => "the hyperprior's models with a checkerboard context model (He 2021): the latents in two parallel passes; -q picks the model, --set refine=STEPS as for hyperprior",
        }
    }

    fn is_lossless(&self) -> bool {
        false
    }

    fn handles_targets(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        check_input(image)?;
        let refine = params.option("refine", 0usize)?;
        if refine > MAX_REFINE_STEPS {
            return Err(Error::InvalidParam(format!(
                "refine={refine}: at most {MAX_REFINE_STEPS} steps"
            )));
        }
        if refine > 0 && image.pixel_count() > refine::MAX_PIXELS {
            return Err(Error::Limit(format!(
                "refine takes images of at most {} pixels (the gradients keep every activation)",
                refine::MAX_PIXELS
            )));
        }
        if params.target_bpp.is_some() || params.target_psnr.is_some() {
            return self.encode_target(image, params, refine);
        }
        let q = params.quality_or(f32::from(DEFAULT_QUALITY))?.round();
        if q > f32::from(MAX_QUALITY) {
            return Err(Error::InvalidParam(format!(
                "{} qualities are 1..={MAX_QUALITY} (one model each; present: {:?})",
                self.name(),
                self.available()
            )));
        }
        self.encode_quality(image, q as u8, refine)
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let file = self.load(parse_params(params)?)?;
        if file.meta.config()?.kind != self.kind {
            return Err(Error::corrupt("model of another kind"));
        }
        decode_with(&file, header, params, payload)
    }

    fn qualities(&self) -> Option<Vec<f32>> {
        Some(self.available().into_iter().map(f32::from).collect())
    }

    fn unavailable(&self) -> Option<String> {
        self.available()
            .is_empty()
            .then(|| match weights::find(&self.model_name(1)) {
                Err(e) => e.to_string(),
                Ok(_) => format!("no {} models", self.name()),
            })
    }

    fn fingerprint(&self, params: &EncodeParams) -> Option<String> {
        let q = params.quality.map_or(DEFAULT_QUALITY, |q| {
            q.round().clamp(1.0, f32::from(MAX_QUALITY)) as u8
        });
        let tag = self.model(&[VERSION, q])?;
        Some(tessera_core::hex(&tag.hash[..6]))
    }

    fn model(&self, params: &[u8]) -> Option<ModelTag> {
        let q = parse_params(params).ok()?;
        let name = self.model_name(q);
        let bytes = weights::find(&name).ok()?;
        use sha2::Digest;
        Some(ModelTag {
            name,
            hash: sha2::Sha256::digest(&bytes).into(),
        })
    }
}

/// Encodes `image` with the loaded model `file`, recording quality index `q`, after `refine`
/// steps of refinement of the latents for this image ([`refine`]; 0: the analysis transform's).
pub fn encode_with(file: &ModelFile, image: &Image, q: u8, refine: usize) -> Result<Encoded> {
    check_input(image)?;
    let kind = file.meta.config()?.kind;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (pw, ph) = (w.div_ceil(ALIGN) * ALIGN, h.div_ceil(ALIGN) * ALIGN);
    let dev = device();
    let x = Tensor::<4>::from_data(
        TensorData::new(to_planar_padded(image, pw, ph), [1, 3, ph, pw]),
        &dev,
    );
    let (y, z) = if refine > 0 {
        refine::refine(&file.model, file.meta.lambda, &x, (w, h), refine, &dev)
    } else {
        let y = file.model.analysis.forward(x);
        let z = file.model.hyper.as_ref().map(|hy| hy.analysis(y.clone()));
        (y, z)
    };
    let mut enc = RangeEncoder::new();
    match kind {
        Kind::Factorized => {
            let v = values(y.clone());
            code_factorized(&mut enc, file, &v, (ph / 16) * (pw / 16))?;
        }
        Kind::Hyperprior | Kind::Checkerboard => {
            let z = values(z.ok_or(Error::corrupt("hyperprior model without hyperprior"))?);
            let zq = code_factorized(&mut enc, file, &z, (ph / 64) * (pw / 64))?;
            let hyper = hyper_map(file, &zq, ph / 64, pw / 64)?;
            let y = values(y);
            let table = scale_table()?;
            let mut code = |params: &Map, positions: &mut dyn Iterator<Item = usize>| {
                let (means, scales) = split_params(params);
                for i in positions {
                    let sym = clamp_symbol((y[i] - means[i]).round());
                    table
                        .table(table.index_for(scales[i]))
                        .ok_or(Error::corrupt("scale table"))?
                        .encode_value(&mut enc, sym)?;
                }
                Ok::<_, Error>(())
            };
            match &file.model.context {
                None => code(&hyper, &mut (0..y.len()))?,
                Some(c) => {
                    let ctx = FixedContext::new(c)?;
                    let first = ctx.params(&hyper, None);
                    code(&first, &mut positions(&hyper, true))?;
                    let anchors = anchor_map(&first, |i| {
                        clamp_symbol((y[i] - split_mean(&first, i)).round())
                    });
                    code(
                        &ctx.params(&hyper, Some(&anchors)),
                        &mut positions(&hyper, false),
                    )?;
                }
            }
        }
    }
    Ok(Encoded {
        params: vec![VERSION, q],
        payload: enc.finish(),
        model: Some(file.tag.clone()),
    })
}

/// Decodes a payload with the loaded model `file`, which the container must name.
pub fn decode_with(
    file: &ModelFile,
    header: &Header,
    params: &[u8],
    payload: &[u8],
) -> Result<Image> {
    parse_params(params)?;
    if header.model.as_ref() != Some(&file.tag) {
        return Err(Error::corrupt(
            "container does not name this model's weights",
        ));
    }
    if header.frames != 1 || !matches!(header.channels, 1 | 3) || header.bit_depth != 8 {
        return Err(Error::corrupt("geometry this codec does not write"));
    }
    let (w, h) = (header.width as usize, header.height as usize);
    check_size(w, h)?;
    let (pw, ph) = (w.div_ceil(ALIGN) * ALIGN, h.div_ceil(ALIGN) * ALIGN);
    let (yh, yw) = (ph / 16, pw / 16);
    let m = file.meta.m;
    let mut dec = RangeDecoder::new(payload);
    let y_hat: Vec<f32> = match file.meta.config()?.kind {
        Kind::Factorized => decode_factorized(&mut dec, file, yh * yw)?,
        Kind::Hyperprior | Kind::Checkerboard => {
            let (zh, zw) = (ph / 64, pw / 64);
            let zq: Vec<i32> = decode_factorized(&mut dec, file, zh * zw)?
                .iter()
                .map(|&v| v as i32)
                .collect();
            let hyper = hyper_map(file, &zq, zh, zw)?;
            let table = scale_table()?;
            let mut symbols = vec![0i32; m * yh * yw];
            let mut decode =
                |params: &Map, positions: &mut dyn Iterator<Item = usize>, out: &mut [i32]| {
                    let (_, scales) = split_params(params);
                    for i in positions {
                        out[i] = table
                            .table(table.index_for(scales[i]))
                            .ok_or(Error::corrupt("scale table"))?
                            .decode_value(&mut dec)?;
                    }
                    Ok::<_, Error>(())
                };
            let params = match &file.model.context {
                None => {
                    decode(&hyper, &mut (0..symbols.len()), &mut symbols)?;
                    hyper
                }
                Some(c) => {
                    let ctx = FixedContext::new(c)?;
                    let first = ctx.params(&hyper, None);
                    decode(&first, &mut positions(&hyper, true), &mut symbols)?;
                    let anchors = anchor_map(&first, |i| symbols[i]);
                    let second = ctx.params(&hyper, Some(&anchors));
                    decode(&second, &mut positions(&hyper, false), &mut symbols)?;
                    second
                }
            };
            let (means, _) = split_params(&params);
            symbols
                .iter()
                .zip(&means)
                .map(|(&s, &mu)| s as f32 + mu)
                .collect()
        }
    };
    dec.check_end()?;
    let y = Tensor::<4>::from_data(TensorData::new(y_hat, [1, m, yh, yw]), &device());
    let x = values(file.model.synthesis.forward(y));
    Ok(from_planar(&x, pw, ph, w, h, header.channels))
}

/// The inference device: burn's Flex CPU backend without autodiff.
pub fn device() -> Device {
    Device::flex()
}

fn check_input(image: &Image) -> Result<()> {
    if image.frames() != 1 {
        return Err(Error::Unsupported(
            "learned photo codecs take one image, not a set".into(),
        ));
    }
    if image.bit_depth() != 8 || !matches!(image.channels(), 1 | 3) {
        let kind = match image.channels() {
            1 => "gray",
            2 => "gray + alpha",
            3 => "RGB",
            _ => "RGBA",
        };
        return Err(Error::Unsupported(format!(
            "learned photo codecs take 8-bit gray or RGB images, not {}-bit {kind}",
            image.bit_depth()
        )));
    }
    check_size(image.width() as usize, image.height() as usize)
}

fn check_size(w: usize, h: usize) -> Result<()> {
    if w.div_ceil(ALIGN) * h.div_ceil(ALIGN) * ALIGN * ALIGN > MAX_PIXELS {
        return Err(Error::Limit(format!(
            "learned photo codecs take images of at most {MAX_PIXELS} pixels (got {w}×{h})"
        )));
    }
    Ok(())
}

fn parse_params(params: &[u8]) -> Result<u8> {
    match params {
        [VERSION, q] if (1..=MAX_QUALITY).contains(q) => Ok(*q),
        [VERSION, _] => Err(Error::corrupt("quality index")),
        _ => Err(Error::corrupt("codec parameters")),
    }
}

pub(crate) fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

fn clamp_symbol(v: f32) -> i32 {
    // Latents of real photos stay within a few hundred; the clamp only guards the cast.
    v.clamp(-1e6, 1e6) as i32
}

/// Codes `v` (`[channels, count]`) with the model's factorised tables; returns the symbols.
fn code_factorized(
    enc: &mut RangeEncoder,
    file: &ModelFile,
    v: &[f32],
    count: usize,
) -> Result<Vec<i32>> {
    let mut out = Vec::with_capacity(v.len());
    for (c, t) in file.meta.tables.iter().enumerate() {
        let cdf = QuantizedCdf::from_frequencies(t.lo, t.hi, &t.frequencies)?;
        for &x in &v[c * count..][..count] {
            let q = clamp_symbol((x - t.median).round());
            cdf.encode_value(enc, q)?;
            out.push(q);
        }
    }
    Ok(out)
}

/// Decodes what [`code_factorized`] wrote: the symbols, or for the factorised model the latents.
fn decode_factorized(dec: &mut RangeDecoder, file: &ModelFile, count: usize) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(file.meta.tables.len() * count);
    for t in &file.meta.tables {
        let cdf = QuantizedCdf::from_frequencies(t.lo, t.hi, &t.frequencies)?;
        for _ in 0..count {
            let q = cdf.decode_value(dec)?;
            out.push(if file.meta.config()?.kind == Kind::Factorized {
                q as f32 + t.median
            } else {
                q as f32
            });
        }
    }
    Ok(out)
}

/// The hyperprior's output for `y` (means, then scales) from the side information's symbols,
/// in fixed point.
fn hyper_map(file: &ModelFile, zq: &[i32], zh: usize, zw: usize) -> Result<Map> {
    let n = file.meta.n;
    let count = zh * zw;
    let mut data = Vec::with_capacity(zq.len());
    for (c, t) in file.meta.tables.iter().enumerate() {
        let median = fixed::to_fixed(t.median, fixed::FRAC, 1 << 40);
        for &q in &zq[c * count..][..count] {
            data.push(i64::from(q).clamp(-(1 << 24), 1 << 24) * (1 << fixed::FRAC) + median);
        }
    }
    let z = Map {
        channels: n,
        height: zh,
        width: zw,
        data,
    };
    let layers = hyper_layers(&file.model)?;
    let mut x = z;
    for l in &layers[..2] {
        x = l.forward(&x).relu();
    }
    Ok(layers[2].forward(&x))
}

/// The mean of latent `i` in a parameter map, as the coder uses it.
fn split_mean(params: &Map, i: usize) -> f32 {
    (params.data[i] as f64 / f64::from(1u32 << fixed::FRAC)) as f32
}

/// Means and scales from a parameter map (`2m` channels: means, then scales).
fn split_params(params: &Map) -> (Vec<f32>, Vec<f64>) {
    let half = params.data.len() / 2;
    let unit = f64::from(1u32 << fixed::FRAC);
    let means = (0..half).map(|i| split_mean(params, i)).collect();
    let scales = params.data[half..]
        .iter()
        .map(|&v| (v as f64 / unit).max(f64::from(SCALE_MIN)))
        .collect();
    (means, scales)
}

/// Indices (channel-major) of the latents at the anchors (`true`) or at the other positions,
/// for a parameter map of `2m` channels.
fn positions(params: &Map, anchors: bool) -> impl Iterator<Item = usize> {
    let (w, plane) = (params.width, params.height * params.width);
    (0..params.data.len() / 2)
        .filter(move |i| context::is_anchor(i % plane % w, i % plane / w) == anchors)
}

/// The decoded latents at the anchors in fixed point (symbol + mean of the first pass), zero
/// elsewhere: the context convolution's input.
fn anchor_map(first: &Map, symbol: impl Fn(usize) -> i32) -> Map {
    let m = first.channels / 2;
    let (w, plane) = (first.width, first.height * first.width);
    let data = (0..m * plane)
        .map(|i| {
            if context::is_anchor(i % plane % w, i % plane / w) {
                (i64::from(symbol(i)) * (1 << fixed::FRAC) + first.data[i])
                    .clamp(-fixed::ACT_LIMIT, fixed::ACT_LIMIT)
            } else {
                0
            }
        })
        .collect();
    Map {
        channels: m,
        height: first.height,
        width: first.width,
        data,
    }
}

/// The hyper-synthesis as fixed-point layers.
fn hyper_layers(model: &PhotoModel) -> Result<Vec<Conv>> {
    let hyper = model
        .hyper
        .as_ref()
        .ok_or(Error::corrupt("model without hyperprior"))?;
    let bad = || Error::corrupt("hyper-synthesis weights");
    let mut layers = Vec::new();
    for d in &hyper.hs_deconvs {
        let [cin, cout, k, _] = d.weight.val().dims();
        let (w, b) = weights_and_bias(&d.weight, &d.bias).ok_or_else(bad)?;
        layers.push(Conv::new(cin, cout, k, true, &w, &b).ok_or_else(bad)?);
    }
    let c = &hyper.hs_out;
    let [cout, cin, k, _] = c.weight.val().dims();
    let (w, b) = weights_and_bias(&c.weight, &c.bias).ok_or_else(bad)?;
    layers.push(Conv::new(cin, cout, k, false, &w, &b).ok_or_else(bad)?);
    Ok(layers)
}

/// A layer's weights and bias as f32 (none without a bias).
pub(super) fn weights_and_bias(
    weight: &Param<Tensor<4>>,
    bias: &Option<Param<Tensor<1>>>,
) -> Option<(Vec<f32>, Vec<f32>)> {
    let w = weight.val().into_data().try_to_vec::<f32>().ok()?;
    let b = bias.as_ref()?.val().into_data().try_to_vec::<f32>().ok()?;
    Some((w, b))
}

/// The Gaussian tables, built once.
fn scale_table() -> Result<&'static GaussianScaleTable> {
    static TABLE: OnceLock<std::result::Result<GaussianScaleTable, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut scales = Vec::with_capacity(SCALE_COUNT);
            let mut s = f64::from(SCALE_MIN);
            for _ in 0..SCALE_COUNT {
                scales.push(s);
                s *= SCALE_RATIO;
            }
            GaussianScaleTable::new(&scales, weights::TABLE_BITS).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::InvalidParam(e.clone()))
}

/// Planar [0, 1] RGB padded to `pw`×`ph` by repeating the last row and column (gray repeated
/// into the three channels).
pub(crate) fn to_planar_padded(image: &Image, pw: usize, ph: usize) -> Vec<f32> {
    let (w, h, c) = (
        image.width() as usize,
        image.height() as usize,
        image.channels() as usize,
    );
    let s = image.samples();
    let mut out = vec![0.0f32; 3 * pw * ph];
    for ch in 0..3 {
        let src = if c == 1 { 0 } else { ch };
        for y in 0..ph {
            for x in 0..pw {
                let v = s[(y.min(h - 1) * w + x.min(w - 1)) * c + src];
                out[(ch * ph + y) * pw + x] = f32::from(v) / 255.0;
            }
        }
    }
    out
}

/// The decoded planes, cropped and rounded to 8 bits (gray: the mean of the three).
pub(crate) fn from_planar(
    v: &[f32],
    pw: usize,
    ph: usize,
    w: usize,
    h: usize,
    channels: u8,
) -> Image {
    let px =
        |ch: usize, x: usize, y: usize| (v[(ch * ph + y) * pw + x].clamp(0.0, 1.0) * 255.0).round();
    let mut out = Vec::with_capacity(w * h * channels as usize);
    for y in 0..h {
        for x in 0..w {
            if channels == 1 {
                out.push(((px(0, x, y) + px(1, x, y) + px(2, x, y)) / 3.0).round() as u8);
            } else {
                out.extend((0..3).map(|c| px(c, x, y) as u8));
            }
        }
    }
    Image::from_u8(w as u32, h as u32, channels, &out).expect("geometry checked by the container")
}

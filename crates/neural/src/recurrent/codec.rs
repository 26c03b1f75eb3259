//! The codec `rnn`: `-q K` codes K iterations (1..=16, 0.125 raw bits per pixel each before
//! entropy coding); `--variant UNIT-FRAMEWORK` (or `--set variant=`) picks the network (default
//! `resgru-scaling`). Files are progressive: `tessera truncate --iterations K` keeps a prefix.

use std::sync::{mpsc, Arc};

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;
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

/// Format version: 4 codes the bits with the mixed model and the positions' surroundings
/// ([`BitCoder`]); 3, still decoded, with the mixed model alone; 2, still decoded, with
/// neighbour contexts; 1, still decoded, also ran the network on the whole picture instead of
/// on tiles ([`tiles`]).
const VERSION: u8 = 4;
/// Most iterations a file may hold.
pub const MAX_ITERATIONS: u8 = 16;
const DEFAULT_ITERATIONS: f32 = 8.0;
/// The variant used when none is asked for.
pub const DEFAULT_VARIANT: &str = "resgru-scaling";
/// Largest image the codec takes.
const MAX_PIXELS: usize = 1 << 24;
/// Largest side of the tiles the network runs on. Each tile is coded by the network on its
/// own, as if it were a picture, so tiles encode and decode in parallel; only the bits'
/// entropy coding sees the whole picture.
const TILE: usize = 256;

/// What a recurrent model file says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub variant: String,
    pub iterations: usize,
    pub step: u64,
    pub seconds: f64,
    /// Whether the residual-scaling gain has per-iteration factors (files from before they
    /// existed have none).
    #[serde(default)]
    pub iteration_gain: bool,
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
    if !meta.iteration_gain {
        model = model.without_iteration_gain();
    }
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

/// The variant, the iteration count and the format version.
fn parse_params(params: &[u8]) -> Result<(Variant, usize, u8)> {
    let [version @ 1..=VERSION, unit, framework, k] = *params else {
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
    Ok((Variant { unit, framework }, usize::from(k), version))
}

fn params_bytes(v: Variant, k: usize, version: u8) -> Vec<u8> {
    let unit = Unit::ALL.iter().position(|&u| u == v.unit).unwrap_or(0) as u8;
    let fw = Framework::ALL
        .iter()
        .position(|&f| f == v.framework)
        .unwrap_or(0) as u8;
    vec![version, unit, fw, k as u8]
}

/// A window of the padded picture, or of the bit maps: corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tile {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

impl Tile {
    /// The same window in units of `n` pixels.
    fn shrunk(self, n: usize) -> Tile {
        Tile {
            x: self.x / n,
            y: self.y / n,
            w: self.w / n,
            h: self.h / n,
        }
    }
}

/// Cuts a side of `n` pixels (a multiple of `ALIGN`) into near-equal spans of at most `TILE`,
/// each a multiple of `ALIGN`: (start, length) pairs.
fn spans(n: usize) -> Vec<(usize, usize)> {
    let blocks = n / ALIGN;
    let count = n.div_ceil(TILE).max(1);
    (0..count)
        .map(|i| {
            let (a, b) = (blocks * i / count, blocks * (i + 1) / count);
            (a * ALIGN, (b - a) * ALIGN)
        })
        .collect()
}

/// The tiles of a padded picture, row by row (version 1: the whole picture).
fn tiles(pw: usize, ph: usize, version: u8) -> Vec<Tile> {
    if version == 1 {
        return vec![Tile { x: 0, y: 0, w: pw, h: ph }];
    }
    let columns = spans(pw);
    spans(ph)
        .into_iter()
        .flat_map(|(y, h)| columns.iter().map(move |&(x, w)| Tile { x, y, w, h }))
        .collect()
}

/// Copies window `t` out of `full`, `channels` maps of `height`×`width`.
fn window<T: Copy>(full: &[T], channels: usize, height: usize, width: usize, t: Tile) -> Vec<T> {
    let mut out = Vec::with_capacity(channels * t.h * t.w);
    for c in 0..channels {
        for y in t.y..t.y + t.h {
            let row = (c * height + y) * width;
            out.extend_from_slice(&full[row + t.x..row + t.x + t.w]);
        }
    }
    out
}

/// Writes `part` (as [`window`] returns it) back into window `t` of `full`, maps of
/// `height`×`width`.
fn put<T: Copy>(full: &mut [T], height: usize, width: usize, t: Tile, part: &[T]) {
    for (i, src) in part.chunks_exact(t.w).enumerate() {
        let (c, y) = (i / t.h, t.y + i % t.h);
        let row = (c * height + y) * width;
        full[row + t.x..row + t.x + t.w].copy_from_slice(src);
    }
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
    let planar: Vec<f32> = crate::photo::codec::to_planar_padded(image, pw, ph)
        .into_iter()
        .map(|v| v - 0.5)
        .collect();
    let tiles = tiles(pw, ph, VERSION);
    let coded: Vec<(Vec<Vec<u8>>, Vec<f64>)> = tiles
        .par_iter()
        .map(|&t| encode_tile(m, image, window(&planar, 3, ph, pw, t), t, k))
        .collect();
    let (gh, gw) = (ph / ALIGN, pw / ALIGN);
    let mut coder = BitCoder::new(gh, gw, VERSION);
    let mut payload = Vec::new();
    for i in 0..k {
        let mut grid = vec![0u8; BITS * gh * gw];
        for (t, (bits, _)) in tiles.iter().zip(&coded) {
            put(&mut grid, gh, gw, t.shrunk(ALIGN), &bits[i]);
        }
        bits::push(&mut payload, &coder.encode(&grid));
    }
    let errors = (0..k)
        .map(|i| coded.iter().map(|(_, e)| e[i]).sum())
        .collect();
    Ok((payload, errors))
}

/// Runs `k` iterations on one tile (`x`: its pixels less ½); returns each iteration's bits
/// and the squared error of each prefix over the tile's pixels inside the image.
fn encode_tile(m: &Loaded, image: &Image, x: Vec<f32>, t: Tile, k: usize) -> (Vec<Vec<u8>>, Vec<f64>) {
    let dev = device();
    let x = Tensor::<4>::from_data(TensorData::new(x, [1, 3, t.h, t.w]), &dev);
    let mut p = m.model.start(1, t.h, t.w, &dev);
    let (mut bits, mut errors) = (Vec::with_capacity(k), Vec::with_capacity(k));
    let mut residual = x.clone();
    for _ in 0..k {
        let b = binarize(m.model.encode_step(residual, &mut p));
        bits.push(values(&b).iter().map(|&v| u8::from(v > 0.0)).collect());
        let picture = m.model.decode_step(b, &mut p);
        errors.push(tile_error(image, &pixels(&picture), t));
        residual = x.clone() - picture;
    }
    (bits, errors)
}

/// Decodes a payload with the loaded model, which the container must name.
pub fn decode_with(m: &Loaded, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
    let (_, k, version) = parse_params(params)?;
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
    let (gh, gw) = (ph / ALIGN, pw / ALIGN);
    let tiles = tiles(pw, ph, version);
    // The bits are decoded in order on a thread of their own while the tiles run the network:
    // each tile takes an iteration's grid as soon as it is decoded. A corrupt stream drops the
    // senders, which ends every tile early, and its error is returned.
    let (senders, receivers): (Vec<_>, Vec<_>) = tiles.iter().map(|_| mpsc::channel()).unzip();
    let (decoded, pictures) = std::thread::scope(|scope| {
        let bits = scope.spawn(move || -> Result<()> {
            let mut coder = BitCoder::new(gh, gw, version);
            for s in &streams {
                let grid: Arc<Vec<u8>> = Arc::new(coder.decode(s)?);
                for tx in &senders {
                    // A tile that ended early has dropped its receiver; nothing to tell it.
                    let _ = tx.send(Arc::clone(&grid));
                }
            }
            Ok(())
        });
        let pictures: Vec<Vec<f32>> = tiles
            .par_iter()
            .zip(receivers)
            .map(|(&t, grids)| {
                let dev = device();
                let g = t.shrunk(ALIGN);
                let mut p = m.model.start(1, t.h, t.w, &dev);
                let mut picture = Tensor::<4>::zeros([1, 3, t.h, t.w], &dev);
                for grid in grids {
                    let b: Vec<f32> = window(&grid, BITS, gh, gw, g)
                        .iter()
                        .map(|&v| if v == 1 { 1.0 } else { -1.0 })
                        .collect();
                    let b = Tensor::<4>::from_data(TensorData::new(b, [1, BITS, g.h, g.w]), &dev);
                    picture = m.model.decode_step(b, &mut p);
                }
                pixels(&picture)
            })
            .collect();
        let decoded = bits.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (decoded, pictures)
    });
    decoded?;
    let mut planar = vec![0.0f32; 3 * ph * pw];
    for (&t, picture) in tiles.iter().zip(&pictures) {
        put(&mut planar, ph, pw, t, picture);
    }
    Ok(crate::photo::codec::from_planar(&planar, pw, ph, w, h, header.channels))
}

fn values(t: &Tensor<4>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().unwrap_or_default()
}

/// A picture's samples in [0, 1] (the network works on them less ½).
fn pixels(picture: &Tensor<4>) -> Vec<f32> {
    values(picture).iter().map(|x| x + 0.5).collect()
}

/// The squared error of tile `t`'s picture against `image`, over its pixels inside the image,
/// rounded as the decoder rounds them.
fn tile_error(image: &Image, picture: &[f32], t: Tile) -> f64 {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (vw, vh) = (w.saturating_sub(t.x).min(t.w), h.saturating_sub(t.y).min(t.h));
    if vw == 0 || vh == 0 {
        return 0.0;
    }
    let rec = crate::photo::codec::from_planar(picture, t.w, t.h, vw, vh, image.channels());
    let c = usize::from(image.channels());
    let (s, r) = (image.samples(), rec.samples());
    (0..vh)
        .flat_map(|y| {
            let at = ((t.y + y) * w + t.x) * c;
            s[at..at + vw * c].iter().zip(&r[y * vw * c..(y + 1) * vw * c])
        })
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
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
        "progressive recurrent codec (Toderici 2017), -q = iterations, --variant UNIT-FRAMEWORK"
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
            params: params_bytes(variant, keep, VERSION),
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
        let (variant, ..) = parse_params(params)?;
        decode_with(&*load(variant)?, header, params, payload)
    }

    fn truncate(
        &self,
        header: &Header,
        params: &[u8],
        payload: &[u8],
        target: TruncateTarget,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let (variant, k, version) = parse_params(params)?;
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
                        params: params_bytes(variant, n, version),
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
        Ok((params_bytes(variant, keep, version), prefix(payload, keep)?))
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
        Some(tessera_core::hex(&tag.hash[..6]))
    }

    fn model(&self, params: &[u8]) -> Option<ModelTag> {
        let (variant, ..) = parse_params(params).ok()?;
        let name = model_name(variant);
        Some(weights::tag(&name, &weights::find(&name).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_picture_once_in_aligned_spans() {
        assert_eq!(spans(768), vec![(0, 256), (256, 256), (512, 256)]);
        assert_eq!(spans(272), vec![(0, 128), (128, 144)]);
        assert_eq!(spans(16), vec![(0, 16)]);
        for (pw, ph) in [(768, 512), (272, 48), (16, 16), (1040, 784)] {
            let mut seen = vec![0u8; pw * ph];
            for t in tiles(pw, ph, VERSION) {
                assert!(t.w <= TILE && t.h <= TILE && t.w % ALIGN == 0 && t.h % ALIGN == 0);
                for y in t.y..t.y + t.h {
                    seen[y * pw + t.x..y * pw + t.x + t.w].iter_mut().for_each(|s| *s += 1);
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{pw}×{ph}");
        }
        assert_eq!(tiles(768, 512, 1), vec![Tile { x: 0, y: 0, w: 768, h: 512 }]);
    }

    #[test]
    fn windows_put_back_where_they_came_from() {
        let (c, h, w) = (2, 6, 10);
        let full: Vec<u32> = (0..(c * h * w) as u32).collect();
        let t = Tile { x: 3, y: 2, w: 4, h: 3 };
        let part = window(&full, c, h, w, t);
        assert_eq!(part[..4], [23, 24, 25, 26]);
        assert_eq!(part[12], 60 + 23);
        let mut back = vec![0; c * h * w];
        put(&mut back, h, w, t, &part);
        for (i, (&b, &f)) in back.iter().zip(&full).enumerate() {
            let (y, x) = (i / w % h, i % w);
            let inside = (2..5).contains(&y) && (3..7).contains(&x);
            assert_eq!(b, if inside { f } else { 0 });
        }
    }
}

//! `lossless`: a blend of predictors weighted by their recent errors, context-modelled
//! residuals, and the binary range coder.
//!
//! After a reversible colour transform (YCoCg-R, when it helps), every plane is coded in raster
//! order. Six predictors (MED, three gradients, the west and north neighbours) each guess the
//! next sample; each is weighted by the inverse square of the errors it made at the four causal
//! neighbours (W, N, NW, NE), so the blend follows whichever predictor suits the local
//! texture. A context — the quantised error energy around the sample — selects a bias
//! correction (LOCO-I's C[Q]) and the adaptive binary contexts that code the residual
//! (zero flag, sign, Exp-Golomb class in unary, mantissa). All arithmetic is integer, so the
//! decoder reproduces every prediction exactly.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::integer::AdaptiveGolomb;
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::{ycocg_helps, Planes};

const VERSION: u8 = 1;
const PREDICTORS: usize = 6;
const CONTEXTS: usize = 20;
/// Classes of the first plane's residual at the same pixel, which sharpen the contexts of the
/// planes after it: where luma was hard to predict, chroma usually is too.
const GUIDE_CLASSES: usize = 6;
/// Classes of the predicted level (quarters of the sample range): near-binary images such as
/// scanned digits have residuals that depend on whether the prediction sits near black or white.
const LEVELS: usize = 4;

/// The `lossless` codec.
#[derive(Debug, Default)]
pub struct Blend;

impl Codec for Blend {
    fn name(&self) -> &'static str {
        "lossless"
    }
    fn summary(&self) -> &'static str {
        "blended adaptive predictors, context-modelled residuals, binary range coder"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, _params: &EncodeParams) -> Result<Encoded> {
        let ycocg = ycocg_helps(image);
        let mut planes = Planes::from_image(image, ycocg);
        let mut enc = RangeEncoder::new();
        let mut guide = Vec::new();
        for (i, plane) in planes.data.iter_mut().enumerate() {
            let mid = mid_value(image.bit_depth(), ycocg, i);
            let mut coder = Coder::Encode(&mut enc);
            code_plane(plane, planes.width, planes.height, mid, image.bit_depth(), &mut coder, &mut guide, i == 0)?;
        }
        Ok(Encoded { params: vec![VERSION, u8::from(ycocg)], payload: enc.finish(), model: None })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let ycocg = match params {
            [VERSION, f @ (0 | 1)] => *f == 1,
            _ => return Err(Error::corrupt("lossless parameters")),
        };
        if ycocg && header.channels < 3 {
            return Err(Error::corrupt("colour transform on a gray image"));
        }
        let (w, h) = (header.width as usize, header.pixel_count() as usize / header.width as usize);
        let mut dec = RangeDecoder::new(payload);
        let mut data = Vec::with_capacity(usize::from(header.channels));
        let mut guide = Vec::new();
        for i in 0..usize::from(header.channels) {
            let mut plane = vec![0i32; w * h];
            let mid = mid_value(header.bit_depth, ycocg, i);
            code_plane(&mut plane, w, h, mid, header.bit_depth, &mut Coder::Decode(&mut dec), &mut guide, i == 0)?;
            data.push(plane);
        }
        dec.check_end().map_err(|_| Error::Truncated("lossless payload ends early".into()))?;
        Planes { width: w, height: h, data, ycocg }.into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}

/// The value assumed outside the image: mid-grey, or 0 for chroma.
fn mid_value(bit_depth: u8, ycocg: bool, plane: usize) -> i32 {
    if ycocg && (plane == 1 || plane == 2) {
        0
    } else {
        1 << (bit_depth - 1)
    }
}

enum Coder<'a, 'b> {
    Encode(&'a mut RangeEncoder),
    Decode(&'a mut RangeDecoder<'b>),
}

/// Predicts, and codes or decodes, every sample of one plane in raster order. The first plane
/// records its residual classes in `guide`; the later planes use them as context.
#[allow(clippy::too_many_arguments)]
fn code_plane(
    plane: &mut [i32],
    w: usize,
    h: usize,
    mid: i32,
    bit_depth: u8,
    coder: &mut Coder,
    guide: &mut Vec<u8>,
    first: bool,
) -> Result<()> {
    if first {
        guide.clear();
        guide.resize(w * h, 0);
    }
    // Errors and residuals are only looked up one row back: two rows, indexed by row parity,
    // keep the memory to O(width) whatever the image height.
    let row = |j: usize| ((j / w) & 1) * w + j % w;
    let mut errors = vec![[0u32; PREDICTORS]; 2 * w];
    let mut residual = vec![0u32; 2 * w];
    let mut models: Vec<AdaptiveGolomb> = (0..CONTEXTS * GUIDE_CLASSES * LEVELS).map(|_| AdaptiveGolomb::new()).collect();
    let mut bias = vec![(0i64, 0i64); CONTEXTS * GUIDE_CLASSES * LEVELS];
    let max = (1i32 << bit_depth) - 1;
    // 16-bit samples have 256 times the error energy of 8-bit ones for the same picture.
    let energy_shift = u32::from(bit_depth) - 8;
    let limit = 1i64 << (bit_depth + 2);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let at = |dx: isize, dy: isize| -> Option<usize> {
                let (xx, yy) = (x as isize + dx, y as isize + dy);
                (xx >= 0 && yy >= 0 && (xx as usize) < w).then(|| yy as usize * w + xx as usize)
            };
            let (iw, in_, inw, ine) = (at(-1, 0), at(0, -1), at(-1, -1), at(1, -1));
            let wv = iw.map_or(in_.map_or(mid, |j| plane[j]), |j| plane[j]);
            let nv = in_.map_or(wv, |j| plane[j]);
            let nwv = inw.map_or(nv, |j| plane[j]);
            let nev = ine.map_or(nv, |j| plane[j]);
            let guesses = predictors(wv, nv, nwv, nev);

            // Blend: weight each predictor by 1 / (1 + its recent error)^2.
            let mut num = 0i128;
            let mut den = 0i128;
            for (k, &g) in guesses.iter().enumerate() {
                let e: u64 = [iw, in_, inw, ine].iter().flatten().map(|&j| u64::from(errors[row(j)][k])).sum();
                let wgt = i128::from((1u64 << 40) / ((1 + e) * (1 + e)).max(1));
                num += wgt * i128::from(g);
                den += wgt;
            }
            let blended = if den == 0 { guesses[0] } else { (2 * num + den).div_euclid(2 * den) as i32 };

            // Context: error energy around the sample and the local gradients.
            let res = |j: Option<usize>| j.map_or(0, |j| residual[row(j)]);
            let activity = 2 * res(iw) + 2 * res(in_) + res(inw) + res(ine)
                + ((wv - nwv).unsigned_abs() + (nv - nwv).unsigned_abs() + (nev - nv).unsigned_abs()) / 2;
            let energy = ((u32::BITS - (activity >> energy_shift).leading_zeros()) as usize).min(CONTEXTS - 1);
            let guided = if first { energy } else { energy * GUIDE_CLASSES + usize::from(guide[i]) };
            // Chroma planes (centred on 0) have no black and white: one level class.
            let level = if mid == 0 { 0 } else { (blended.clamp(0, max) >> (bit_depth - 2)) as usize };
            let ctx = guided * LEVELS + level;
            let (sum, count) = bias[ctx];
            let correction = if count > 0 { (sum + count / 2).div_euclid(count) } else { 0 };
            let pred = (i64::from(blended) + correction).clamp(-limit, limit) as i32;

            let value = match coder {
                Coder::Encode(enc) => {
                    let v = plane[i];
                    models[ctx].encode_signed(enc, v - pred);
                    v
                }
                Coder::Decode(dec) => {
                    let r = models[ctx].decode_signed(dec)?;
                    let v = i64::from(pred) + i64::from(r);
                    if v.abs() > limit {
                        return Err(Error::corrupt("lossless residual out of range"));
                    }
                    plane[i] = v as i32;
                    v as i32
                }
            };
            let r = i64::from(value) - i64::from(pred);
            residual[row(i)] = r.unsigned_abs().min(u64::from(u32::MAX)) as u32;
            if first {
                let class = 64 - (r.unsigned_abs() >> energy_shift).leading_zeros();
                guide[i] = class.min(GUIDE_CLASSES as u32 - 1) as u8;
            }
            for (k, &g) in guesses.iter().enumerate() {
                errors[row(i)][k] = (value - g).unsigned_abs();
            }
            let (sum, count) = &mut bias[ctx];
            *sum += i64::from(value) - i64::from(blended);
            *count += 1;
            if *count >= 256 {
                *sum /= 2;
                *count /= 2;
            }
        }
    }
    Ok(())
}

/// The six guesses from the causal neighbours.
#[inline]
fn predictors(w: i32, n: i32, nw: i32, ne: i32) -> [i32; PREDICTORS] {
    let med = if nw >= w.max(n) {
        w.min(n)
    } else if nw <= w.min(n) {
        w.max(n)
    } else {
        w + n - nw
    };
    [med, w + ne - n, w + n - nw, (w + ne + 1) >> 1, n, w]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_gray_colour_alpha_and_16_bit() {
        let mut seed = 3u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 20
        };
        for (c, depth) in [(1u8, 8u8), (3, 8), (4, 8), (2, 16), (3, 16)] {
            let max = if depth == 8 { 255 } else { 65535 };
            let s: Vec<u16> = (0..23 * 17 * u32::from(c)).map(|i| ((i * 7 + next() % 9) % (max + 1)) as u16).collect();
            let img = Image::new(23, 17, c, depth, s).unwrap();
            let e = Blend.encode(&img, &EncodeParams::default()).unwrap();
            let back = Blend.decode(&Header::for_image("lossless", &img, None), &e.params, &e.payload).unwrap();
            assert_eq!(back, img);
        }
    }
}

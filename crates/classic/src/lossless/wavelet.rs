//! `wavelet`: the reversible 5/3 lifting wavelet, coded bit-plane by bit-plane.
//!
//! After YCoCg-R (when it helps), every plane goes through up to five levels of the integer
//! 5/3 lifting transform (JPEG 2000's reversible filter: predict d = odd − ⌊(left + right)/2⌋,
//! update s = even + ⌊(d_left + d_right + 2)/4⌋, symmetric extension at the ends), rows then
//! columns, each level on the previous low-pass quadrant, for any size including odd and 1.
//!
//! The coefficients are then coded from the top bit plane down. In every plane n, every
//! coefficient in raster order of the Mallat layout codes one decision with the adaptive binary
//! range coder:
//! - not yet significant: bit n of its magnitude, under a context built from how many of its
//!   horizontal, vertical and diagonal neighbours (in the same subband) are significant, and the
//!   subband's orientation; when it becomes significant, its sign, under a context of the signs
//!   of its west and north neighbours;
//! - already significant: bit n (refinement), under a context of whether this is its first
//!   refinement and whether any neighbour is significant.
//!
//! The magnitudes are coded down to bit 0, so the decoder rebuilds the coefficients exactly.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};
use tessera_entropy::BitModel;

use super::{choose_transform, parse_transform, plane_geometry, transform_params, Planes};

const VERSION: u8 = 1;
const MAX_LEVELS: usize = 5;
const SIG_CONTEXTS: usize = 4 * 27;
const SIGN_CONTEXTS: usize = 4 * 9;
const REFINE_CONTEXTS: usize = 4;

/// The `wavelet` codec.
#[derive(Debug, Default)]
pub struct Wavelet;

impl Codec for Wavelet {
    fn name(&self) -> &'static str {
        "wavelet"
    }
    fn summary(&self) -> &'static str {
        "reversible 5/3 lifting wavelet, context-modelled bit-plane coding with the binary range coder"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let ycocg = choose_transform(image, params)?;
        let mut planes = Planes::from_image(image, ycocg);
        let (w, h) = (planes.width, planes.height);
        let bands = band_map(w, h);
        let mut enc = RangeEncoder::new();
        for plane in planes.data.iter_mut() {
            forward_2d(plane, w, h);
            let top = plane
                .iter()
                .map(|v| 32 - v.unsigned_abs().leading_zeros())
                .max()
                .unwrap_or(0);
            enc.encode_raw(top, 5);
            BitPlanes::new(w, h, &bands).code(plane, top, &mut Coder::Encode(&mut enc))?;
        }
        Ok(Encoded {
            params: transform_params(VERSION, ycocg),
            payload: enc.finish(),
            model: None,
        })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let ycocg = parse_transform(params, header, VERSION)?;
        let (w, h) = plane_geometry(header);
        let bands = band_map(w, h);
        let mut dec = RangeDecoder::new(payload);
        let mut data = Vec::with_capacity(usize::from(header.channels));
        for _ in 0..header.channels {
            let top = dec.decode_raw(5);
            // Five 5/3 levels grow a 17-bit chroma sample by a few bits; more is corruption.
            if top > u32::from(header.bit_depth) + 8 {
                return Err(Error::corrupt(
                    "wavelet coefficients wider than the transform makes",
                ));
            }
            let mut plane = vec![0i32; w * h];
            BitPlanes::new(w, h, &bands).code(&mut plane, top, &mut Coder::Decode(&mut dec))?;
            inverse_2d(&mut plane, w, h);
            data.push(plane);
        }
        dec.check_end()
            .map_err(|_| Error::Truncated("wavelet payload ends early".into()))?;
        Planes {
            width: w,
            height: h,
            data,
            ycocg,
        }
        .into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}

/// The sizes of the regions each level transforms.
fn level_sizes(w: usize, h: usize) -> Vec<(usize, usize)> {
    let mut sizes = Vec::new();
    let (mut lw, mut lh) = (w, h);
    while sizes.len() < MAX_LEVELS && (lw > 1 || lh > 1) {
        sizes.push((lw, lh));
        lw = lw.div_ceil(2);
        lh = lh.div_ceil(2);
    }
    sizes
}

/// One 1-D forward 5/3 lifting step on `v` (in place: lows first, then highs).
fn forward_1d(v: &mut [i32], tmp: &mut Vec<i32>) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let (ne, no) = (n.div_ceil(2), n / 2);
    let even = |v: &[i32], i: usize| v[2 * i.min(ne - 1)];
    let mut d: Vec<i32> = (0..no)
        .map(|i| v[2 * i + 1] - ((even(v, i) + even(v, i + 1)) >> 1))
        .collect();
    tmp.clear();
    for i in 0..ne {
        let dl = d[i.saturating_sub(1).min(no - 1)];
        let dr = d[i.min(no - 1)];
        tmp.push(v[2 * i] + ((dl + dr + 2) >> 2));
    }
    v[..ne].copy_from_slice(tmp);
    v[ne..].copy_from_slice(&d);
    d.clear();
}

/// The inverse of [`forward_1d`].
fn inverse_1d(v: &mut [i32], tmp: &mut Vec<i32>) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let (ne, no) = (n.div_ceil(2), n / 2);
    tmp.clear();
    tmp.resize(n, 0);
    let d = &v[ne..];
    for i in 0..ne {
        let dl = d[i.saturating_sub(1).min(no - 1)];
        let dr = d[i.min(no - 1)];
        tmp[2 * i] = v[i].wrapping_sub((dl.wrapping_add(dr).wrapping_add(2)) >> 2);
    }
    for i in 0..no {
        let r = tmp[2 * (i + 1).min(ne - 1)];
        tmp[2 * i + 1] = d[i].wrapping_add((tmp[2 * i].wrapping_add(r)) >> 1);
    }
    v.copy_from_slice(tmp);
}

fn forward_2d(plane: &mut [i32], w: usize, h: usize) {
    let (mut tmp, mut line) = (Vec::new(), Vec::new());
    for (lw, lh) in level_sizes(w, h) {
        for y in 0..lh {
            forward_1d(&mut plane[y * w..y * w + lw], &mut tmp);
        }
        for x in 0..lw {
            line.clear();
            line.extend((0..lh).map(|y| plane[y * w + x]));
            forward_1d(&mut line, &mut tmp);
            for (y, &v) in line.iter().enumerate() {
                plane[y * w + x] = v;
            }
        }
    }
}

fn inverse_2d(plane: &mut [i32], w: usize, h: usize) {
    let (mut tmp, mut line) = (Vec::new(), Vec::new());
    for (lw, lh) in level_sizes(w, h).into_iter().rev() {
        for x in 0..lw {
            line.clear();
            line.extend((0..lh).map(|y| plane[y * w + x]));
            inverse_1d(&mut line, &mut tmp);
            for (y, &v) in line.iter().enumerate() {
                plane[y * w + x] = v;
            }
        }
        for y in 0..lh {
            inverse_1d(&mut plane[y * w..y * w + lw], &mut tmp);
        }
    }
}

/// For every coefficient of the Mallat layout: its subband (level × 4 + orientation, the
/// orientation 0 LL, 1 HL, 2 LH, 3 HH in the low two bits).
fn band_map(w: usize, h: usize) -> Vec<u8> {
    let mut map = vec![0u8; w * h];
    for (level, (lw, lh)) in level_sizes(w, h).into_iter().enumerate() {
        let (hw, hh) = (lw.div_ceil(2), lh.div_ceil(2));
        for y in 0..lh {
            for x in 0..lw {
                let orient = usize::from(x >= hw) + 2 * usize::from(y >= hh);
                // A dimension of 1 is not split: its "high" half is empty.
                map[y * w + x] = (level * 4 + orient) as u8;
            }
        }
    }
    // The final low-pass band keeps orientation 0 with a level past the last.
    let levels = level_sizes(w, h);
    if let Some(&(lw, lh)) = levels.last() {
        let (hw, hh) = (lw.div_ceil(2), lh.div_ceil(2));
        for y in 0..hh {
            for x in 0..hw {
                map[y * w + x] = (levels.len() * 4) as u8;
            }
        }
    }
    map
}

/// For every coefficient, which of its eight neighbours lie inside the plane and in its subband.
fn neighbour_masks(w: usize, h: usize, bands: &[u8]) -> Vec<u8> {
    const OFFSETS: [(isize, isize); 8] = [
        (-1, 0),
        (1, 0),
        (0, -1),
        (0, 1),
        (-1, -1),
        (1, -1),
        (-1, 1),
        (1, 1),
    ];
    let mut masks = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            for (bit, &(dx, dy)) in OFFSETS.iter().enumerate() {
                let (xx, yy) = (x as isize + dx, y as isize + dy);
                if xx >= 0
                    && yy >= 0
                    && (xx as usize) < w
                    && (yy as usize) < h
                    && bands[yy as usize * w + xx as usize] == bands[i]
                {
                    masks[i] |= 1 << bit;
                }
            }
        }
    }
    masks
}

enum Coder<'a, 'b> {
    Encode(&'a mut RangeEncoder),
    Decode(&'a mut RangeDecoder<'b>),
}

/// Bit-plane coder state of one plane.
struct BitPlanes<'m> {
    w: usize,
    h: usize,
    bands: &'m [u8],
    /// Which of the eight neighbours (W, E, N, S, NW, NE, SW, SE: bits 0–7) exist in the
    /// same subband.
    masks: Vec<u8>,
    /// 0 not significant; 1 significant, not yet refined; 2 refined at least once.
    state: Vec<u8>,
    /// Sign of significant coefficients (true = negative).
    negative: Vec<bool>,
    sig: Vec<BitModel>,
    sign: Vec<BitModel>,
    refine: Vec<BitModel>,
}

impl<'m> BitPlanes<'m> {
    fn new(w: usize, h: usize, bands: &'m [u8]) -> Self {
        BitPlanes {
            w,
            h,
            bands,
            masks: neighbour_masks(w, h, bands),
            state: vec![0; w * h],
            negative: vec![false; w * h],
            sig: vec![BitModel::new(); SIG_CONTEXTS],
            sign: vec![BitModel::new(); SIGN_CONTEXTS],
            refine: vec![BitModel::new(); REFINE_CONTEXTS],
        }
    }

    /// Significant neighbours in the same subband: (horizontal, vertical, diagonal) counts and
    /// the signs of the west and north ones (0 none, 1 positive, 2 negative).
    #[inline]
    fn neighbourhood(&self, i: usize) -> (usize, usize, usize, usize, usize) {
        let m = self.masks[i];
        let w = self.w;
        // Offsets are only formed where the mask says the neighbour exists.
        let sig = |bit: u32, j: fn(usize, usize) -> usize| -> usize {
            usize::from((m >> bit) & 1 == 1 && self.state[j(i, w)] != 0)
        };
        let west = sig(0, |i, _| i - 1);
        let north = sig(2, |i, w| i - w);
        let hz = west + sig(1, |i, _| i + 1);
        let vt = north + sig(3, |i, w| i + w);
        let dg = sig(4, |i, w| i - w - 1)
            + sig(5, |i, w| i - w + 1)
            + sig(6, |i, w| i + w - 1)
            + sig(7, |i, w| i + w + 1);
        let ws = if west == 1 {
            1 + usize::from(self.negative[i - 1])
        } else {
            0
        };
        let ns = if north == 1 {
            1 + usize::from(self.negative[i - w])
        } else {
            0
        };
        (hz, vt, dg, ws, ns)
    }

    /// Codes (or decodes into `plane`) the magnitudes' bits `top − 1` down to 0 and the signs.
    fn code(&mut self, plane: &mut [i32], top: u32, coder: &mut Coder) -> Result<()> {
        let mut magnitude: Vec<u32> = match coder {
            Coder::Encode(_) => plane.iter().map(|v| v.unsigned_abs()).collect(),
            Coder::Decode(_) => vec![0; plane.len()],
        };
        for n in (0..top).rev() {
            for y in 0..self.h {
                for x in 0..self.w {
                    let i = y * self.w + x;
                    let orient = usize::from(self.bands[i] & 3);
                    let (hz, vt, dg, ws, ns) = self.neighbourhood(i);
                    if self.state[i] == 0 {
                        let ctx = orient * 27 + hz.min(2) * 9 + vt.min(2) * 3 + dg.min(2);
                        let bit = match coder {
                            Coder::Encode(enc) => {
                                let b = (magnitude[i] >> n) & 1 == 1;
                                enc.encode_bit(&mut self.sig[ctx], b);
                                b
                            }
                            Coder::Decode(dec) => dec.decode_bit(&mut self.sig[ctx]),
                        };
                        if bit {
                            let sctx = orient * 9 + ws * 3 + ns;
                            let neg = match coder {
                                Coder::Encode(enc) => {
                                    let s = plane[i] < 0;
                                    enc.encode_bit(&mut self.sign[sctx], s);
                                    s
                                }
                                Coder::Decode(dec) => {
                                    magnitude[i] |= 1 << n;
                                    dec.decode_bit(&mut self.sign[sctx])
                                }
                            };
                            self.negative[i] = neg;
                            self.state[i] = 1;
                        }
                    } else {
                        let ctx =
                            usize::from(self.state[i] == 2) * 2 + usize::from(hz + vt + dg > 0);
                        match coder {
                            Coder::Encode(enc) => {
                                enc.encode_bit(&mut self.refine[ctx], (magnitude[i] >> n) & 1 == 1)
                            }
                            Coder::Decode(dec) => {
                                if dec.decode_bit(&mut self.refine[ctx]) {
                                    magnitude[i] |= 1 << n;
                                }
                            }
                        }
                        self.state[i] = 2;
                    }
                }
            }
        }
        if let Coder::Decode(_) = coder {
            for i in 0..plane.len() {
                let m = magnitude[i] as i32;
                plane[i] = if self.negative[i] { -m } else { m };
            }
        }
        Ok(())
    }
}

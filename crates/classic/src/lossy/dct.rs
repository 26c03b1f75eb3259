//! `dct`: the 8×8 DCT codec.
//!
//! The image goes to YCbCr (chroma at half size for 4:2:0, full size for 4:4:4); each plane is
//! cut into 8×8 blocks (edges replicated), transformed by an orthonormal DCT and quantised with
//! the JPEG Annex K tables scaled by quality the way `cjpeg` scales them, with a dead zone on
//! the AC coefficients (rounding offset below one half, which saves rate where the error is
//! cheapest). Coefficients are coded with adaptive binary contexts on the range coder rather
//! than Huffman codes:
//! - DC is predicted by the median of the left, top and left+top−top-left quantised DCs and
//!   the residual coded with an adaptive Exp-Golomb code;
//! - a "coded block" flag per block, context from whether the left and top blocks had AC;
//! - per zig-zag position a significance bit, context from the position and whether the same
//!   position was non-zero in the left and top blocks, followed after every non-zero
//!   coefficient by an end-of-block bit by position;
//! - magnitudes binarised as `>1`, `>2` (contexts from position band and how many non-zeros
//!   the block already has) and an adaptive Exp-Golomb remainder; signs raw.
//!
//! At effort 5 and above the encoder drops isolated high-frequency ±1 levels whose estimated
//! bits (from the live contexts) times `λ ∝ step²` exceed the error they remove. The decoder
//! can smooth small steps across block edges (`deblock=0|1`, on by default below quality 50,
//! stored in the parameters).
//!
//! Alpha is refused with `Unsupported` (use a lossless codec); 16-bit input is scaled to the
//! 8-bit range for coding and back to 16 bits on decode.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::binary::BitModel;
use tessera_entropy::integer::AdaptiveGolomb;
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::dct_transform::{forward, inverse};
use crate::planes::{from_ycbcr, from_ycbcr420, sizes_420, to_ycbcr, to_ycbcr420, Plane};

const VERSION: u8 = 2;
/// Largest quantised magnitude a stream may carry (an 8-bit DCT coefficient is below 2^11).
const MAX_LEVEL: u32 = 1 << 12;
/// Rounding offset for AC coefficients (0.5 would be plain rounding).
const AC_ROUNDING: f32 = 0.38;
/// Rate–distortion trade-off of the coefficient-zeroing search, in squared quantiser steps per
/// bit (`λ = RDO_LAMBDA · step²`). Small, because the dead zone already drops most cheap ±1s.
const RDO_LAMBDA: f64 = 0.03;
/// The zeroing search leaves the first zig-zag positions alone (they carry most of the energy).
const RDO_FIRST: usize = 6;

/// JPEG Annex K luminance table, natural (row-major) order.
const LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];
/// JPEG Annex K chrominance table, natural order.
const CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99,
];
/// Zig-zag scan: `ZIGZAG[i]` is the natural index of the i-th scanned coefficient.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// The DCT codec.
#[derive(Debug, Default)]
pub struct Dct;

/// What the decoder needs: quality (which fixes the tables) and chroma subsampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Settings {
    quality: u8,
    subsample: bool,
    /// Whether the decoder smooths small steps across 8×8 block edges.
    deblock: bool,
    /// Whether the encoder runs the rate–distortion zeroing search (effort ≥ 5; encoder only).
    rdo: bool,
}

impl Settings {
    fn from_params(params: &EncodeParams) -> Result<Settings> {
        let quality = params.quality_or(75.0)?.round() as u8;
        let default = if quality >= 90 { "444" } else { "420" };
        let subsample = match params.option::<String>("subsampling", default.to_string())?.as_str() {
            "420" => true,
            "444" => false,
            other => {
                return Err(Error::InvalidParam(format!(
                    "subsampling must be 420 or 444, not {other}"
                )))
            }
        };
        let deblock = match params.option::<u8>("deblock", u8::from(quality < 50))? {
            0 => false,
            1 => true,
            other => return Err(Error::InvalidParam(format!("deblock must be 0 or 1, not {other}"))),
        };
        Ok(Settings {
            quality,
            subsample,
            deblock,
            rdo: params.effort >= 5,
        })
    }

    fn to_bytes(self) -> Vec<u8> {
        vec![VERSION, self.quality, u8::from(self.subsample), u8::from(self.deblock)]
    }

    fn from_bytes(b: &[u8]) -> Result<Settings> {
        match b {
            [VERSION, q @ 1..=100, s @ 0..=1, d @ 0..=1] => Ok(Settings {
                quality: *q,
                subsample: *s == 1,
                deblock: *d == 1,
                rdo: false,
            }),
            _ => Err(Error::corrupt("dct parameters are malformed")),
        }
    }

    /// The quantisation table (natural order) for luma (`chroma == false`) or chroma, scaled
    /// as `cjpeg -quality` scales the Annex K tables.
    fn table(self, chroma: bool) -> [f32; 64] {
        let q = u32::from(self.quality);
        let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
        let base = if chroma { &CHROMA } else { &LUMA };
        let mut t = [0f32; 64];
        for (o, &b) in t.iter_mut().zip(base.iter()) {
            *o = ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as f32;
        }
        t
    }
}

impl Codec for Dct {
    fn name(&self) -> &'static str {
        "dct"
    }
    fn summary(&self) -> &'static str {
        "8x8 DCT in YCbCr, cjpeg-scaled tables, context-adaptive binary arithmetic coding"
    }
    fn is_lossless(&self) -> bool {
        false
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let s = Settings::from_params(params)?;
        let planes = if s.subsample {
            to_ycbcr420(image)?
        } else {
            to_ycbcr(image)?
        };
        let mut enc = RangeEncoder::new();
        let mut ctx = [Contexts::new(), Contexts::new()];
        for (i, plane) in planes.iter().enumerate() {
            let chroma = i > 0;
            encode_plane(&mut enc, &mut ctx[usize::from(chroma)], plane, &s.table(chroma), s.rdo);
        }
        Ok(Encoded {
            params: s.to_bytes(),
            payload: enc.finish(),
            model: None,
        })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let s = Settings::from_bytes(params)?;
        let sizes = sizes_420(header)?;
        let full = sizes[0];
        let mut dec = RangeDecoder::new(payload);
        let mut ctx = [Contexts::new(), Contexts::new()];
        let mut planes = Vec::with_capacity(sizes.len());
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let chroma = i > 0;
            let (w, h) = if s.subsample { (w, h) } else { full };
            let table = s.table(chroma);
            let mut plane = decode_plane(&mut dec, &mut ctx[usize::from(chroma)], w, h, &table)?;
            if s.deblock {
                deblock(&mut plane, &table);
            }
            planes.push(plane);
        }
        dec.check_end()
            .map_err(|_| Error::Truncated("dct payload ends early".into()))?;
        if s.subsample {
            from_ycbcr420(planes, header)
        } else {
            from_ycbcr(&planes, header.width, header.height, header.frames, header.bit_depth)
        }
    }
}

/// Adaptive state for one plane kind (luma or chroma).
struct Contexts {
    dc: AdaptiveGolomb,
    coded: [BitModel; 3],
    sig: [[BitModel; 3]; 64],
    last: [BitModel; 64],
    gt1: [[BitModel; 3]; 4],
    gt2: [BitModel; 4],
    rem: AdaptiveGolomb,
}

impl Contexts {
    fn new() -> Self {
        Contexts {
            dc: AdaptiveGolomb::new(),
            coded: [BitModel::new(); 3],
            sig: [[BitModel::new(); 3]; 64],
            last: [BitModel::new(); 64],
            gt1: [[BitModel::new(); 3]; 4],
            gt2: [BitModel::new(); 4],
            rem: AdaptiveGolomb::new(),
        }
    }
}

/// Band of a zig-zag position for the magnitude contexts.
fn band(k: usize) -> usize {
    match k {
        0..=2 => 0,
        3..=9 => 1,
        10..=27 => 2,
        _ => 3,
    }
}

/// Per-block state the neighbours' contexts read: quantised DC and the zig-zag non-zero mask.
#[derive(Clone, Copy, Default)]
struct BlockInfo {
    dc: i32,
    mask: u64,
}

/// DC prediction from the left, top and top-left blocks (median edge detector).
fn predict_dc(info: &[BlockInfo], bx: usize, by: usize, gw: usize) -> i32 {
    let i = by * gw + bx;
    match (bx > 0, by > 0) {
        (false, false) => 0,
        (true, false) => info[i - 1].dc,
        (false, true) => info[i - gw].dc,
        (true, true) => {
            let (l, t, tl) = (info[i - 1].dc, info[i - gw].dc, info[i - gw - 1].dc);
            if tl >= l.max(t) {
                l.min(t)
            } else if tl <= l.min(t) {
                l.max(t)
            } else {
                l + t - tl
            }
        }
    }
}

/// Neighbour masks of the left and top blocks (zero outside the plane).
fn neighbour_masks(info: &[BlockInfo], bx: usize, by: usize, gw: usize) -> (u64, u64) {
    let i = by * gw + bx;
    let left = if bx > 0 { info[i - 1].mask } else { 0 };
    let top = if by > 0 { info[i - gw].mask } else { 0 };
    (left, top)
}

fn encode_plane(enc: &mut RangeEncoder, ctx: &mut Contexts, plane: &Plane, table: &[f32; 64], rdo: bool) {
    let (gw, gh) = (plane.width.div_ceil(8), plane.height.div_ceil(8));
    let p = plane.padded(gw * 8, gh * 8);
    let mut info = vec![BlockInfo::default(); gw * gh];
    for by in 0..gh {
        for bx in 0..gw {
            let mut block = [0f32; 64];
            for y in 0..8 {
                let row = (by * 8 + y) * p.width + bx * 8;
                for x in 0..8 {
                    block[y * 8 + x] = p.data[row + x] - 128.0;
                }
            }
            forward(&mut block);
            let mut q = [0i32; 64];
            let mut v = [0f32; 64];
            for (k, &n) in ZIGZAG.iter().enumerate() {
                v[k] = block[n] / table[n];
                let r = if k == 0 { 0.5 } else { AC_ROUNDING };
                let m = (v[k].abs() + r).floor().min(MAX_LEVEL as f32) as i32;
                q[k] = if v[k] < 0.0 { -m } else { m };
            }
            let pred = predict_dc(&info, bx, by, gw);
            ctx.dc.encode_signed(enc, q[0] - pred);
            let (left, top) = neighbour_masks(&info, bx, by, gw);
            if rdo {
                zero_isolated_ones(ctx, &mut q, &v, left, top);
            }
            let mask = encode_ac(enc, ctx, &q, left, top);
            info[by * gw + bx] = BlockInfo { dc: q[0], mask };
        }
    }
}

/// Rate–distortion zeroing: an isolated ±1 beyond the first positions is dropped when the
/// bits it costs under the current contexts, times `λ = RDO_LAMBDA · step²`, exceed the
/// distortion its removal adds. With `v` the coefficient in steps, dropping it raises the
/// squared error by `step² (2|v| − 1)`, so the step cancels.
/// Scanning from the end lets a dropped last coefficient also save the zeros before it.
fn zero_isolated_ones(ctx: &Contexts, q: &mut [i32; 64], v: &[f32; 64], left: u64, top: u64) {
    let sig = |k: usize, bit: bool| ctx.sig[k][(((left >> k) & 1) + ((top >> k) & 1)) as usize].cost(bit);
    for k in (RDO_FIRST..64).rev() {
        if q[k].abs() != 1 || q[k - 1] != 0 || (k < 63 && q[k + 1] != 0) {
            continue;
        }
        // Cost of the coefficient itself: significance, "not > 1", sign.
        let mut bits = sig(k, true) - sig(k, false) + ctx.gt1[band(k)][0].cost(false) + 1.0;
        let last = (1..64).rev().find(|&j| q[j] != 0).unwrap_or(0);
        if k == last {
            let prev = (1..k).rev().find(|&j| q[j] != 0);
            bits += (prev.unwrap_or(0) + 1..k).map(|j| sig(j, false)).sum::<f64>();
            if k < 63 {
                bits += ctx.last[k].cost(true);
            }
            if let Some(p) = prev {
                bits += ctx.last[p].cost(false) - ctx.last[p].cost(true);
            }
        } else if k < 63 {
            bits += ctx.last[k].cost(false);
        }
        let added = 2.0 * f64::from(v[k].abs()) - 1.0;
        if RDO_LAMBDA * bits > added {
            q[k] = 0;
        }
    }
}

/// Codes the AC coefficients of one block (zig-zag order); returns its non-zero mask.
#[allow(clippy::needless_range_loop)] // `k` also picks the neighbour-mask bit and contexts
fn encode_ac(enc: &mut RangeEncoder, ctx: &mut Contexts, q: &[i32; 64], left: u64, top: u64) -> u64 {
    let last = (1..64).rev().find(|&k| q[k] != 0);
    let coded_ctx = usize::from(left >> 1 != 0) + usize::from(top >> 1 != 0);
    enc.encode_bit(&mut ctx.coded[coded_ctx], last.is_some());
    let Some(last) = last else { return 0 };
    let mut mask = 0u64;
    let mut count = 0usize;
    for k in 1..=last {
        let n = ((left >> k) & 1) + ((top >> k) & 1);
        let sig = q[k] != 0;
        enc.encode_bit(&mut ctx.sig[k][n as usize], sig);
        if !sig {
            continue;
        }
        mask |= 1 << k;
        let m = q[k].unsigned_abs();
        let b = band(k);
        enc.encode_bit(&mut ctx.gt1[b][count.min(2)], m > 1);
        if m > 1 {
            enc.encode_bit(&mut ctx.gt2[b], m > 2);
            if m > 2 {
                ctx.rem.encode_unsigned(enc, m - 3);
            }
        }
        enc.encode_raw(u32::from(q[k] < 0), 1);
        count += 1;
        if k < 63 {
            enc.encode_bit(&mut ctx.last[k], k == last);
        }
    }
    mask
}

fn decode_plane(dec: &mut RangeDecoder, ctx: &mut Contexts, w: usize, h: usize, table: &[f32; 64]) -> Result<Plane> {
    let (gw, gh) = (w.div_ceil(8), h.div_ceil(8));
    let mut out = Plane::filled(gw * 8, gh * 8, 0.0);
    let mut info = vec![BlockInfo::default(); gw * gh];
    for by in 0..gh {
        for bx in 0..gw {
            let pred = predict_dc(&info, bx, by, gw);
            let dc = pred
                .checked_add(ctx.dc.decode_signed(dec)?)
                .filter(|d| d.unsigned_abs() <= MAX_LEVEL)
                .ok_or_else(|| Error::corrupt("dct DC out of range"))?;
            let (left, top) = neighbour_masks(&info, bx, by, gw);
            let mut q = [0i32; 64];
            q[0] = dc;
            let mask = decode_ac(dec, ctx, &mut q, left, top)?;
            info[by * gw + bx] = BlockInfo { dc, mask };
            let mut block = [0f32; 64];
            for (k, &n) in ZIGZAG.iter().enumerate() {
                block[n] = q[k] as f32 * table[n];
            }
            inverse(&mut block);
            for y in 0..8 {
                let row = (by * 8 + y) * out.width + bx * 8;
                for x in 0..8 {
                    out.data[row + x] = block[y * 8 + x] + 128.0;
                }
            }
        }
    }
    Ok(out.cropped(w, h))
}

#[allow(clippy::needless_range_loop)] // `k` also picks the neighbour-mask bit and contexts
fn decode_ac(dec: &mut RangeDecoder, ctx: &mut Contexts, q: &mut [i32; 64], left: u64, top: u64) -> Result<u64> {
    let coded_ctx = usize::from(left >> 1 != 0) + usize::from(top >> 1 != 0);
    if !dec.decode_bit(&mut ctx.coded[coded_ctx]) {
        return Ok(0);
    }
    let mut mask = 0u64;
    let mut count = 0usize;
    for k in 1..64 {
        let n = ((left >> k) & 1) + ((top >> k) & 1);
        if !dec.decode_bit(&mut ctx.sig[k][n as usize]) {
            continue;
        }
        mask |= 1 << k;
        let b = band(k);
        let mut m = 1u32;
        if dec.decode_bit(&mut ctx.gt1[b][count.min(2)]) {
            m = 2;
            if dec.decode_bit(&mut ctx.gt2[b]) {
                m = ctx
                    .rem
                    .decode_unsigned(dec)?
                    .checked_add(3)
                    .filter(|&m| m <= MAX_LEVEL)
                    .ok_or_else(|| Error::corrupt("dct coefficient out of range"))?;
            }
        }
        let negative = dec.decode_raw(1) == 1;
        q[k] = if negative { -(m as i32) } else { m as i32 };
        count += 1;
        if k < 63 && dec.decode_bit(&mut ctx.last[k]) {
            break;
        }
    }
    Ok(mask)
}

/// Decoder-side deblocking: across every 8×8 block edge, a step that is small against the
/// quantiser (a blocking artefact rather than an image edge) is spread over the two pixels on
/// each side. The threshold follows the DC and first AC steps of the plane's table.
fn deblock(p: &mut Plane, table: &[f32; 64]) {
    let limit = 0.5 * (table[0] + table[1]).min(64.0);
    let smooth = |a: f32, b: f32, c: f32, d: f32| -> Option<(f32, f32, f32, f32)> {
        let step = c - b;
        if step.abs() >= limit || (b - a).abs() >= limit / 2.0 || (d - c).abs() >= limit / 2.0 {
            return None;
        }
        Some((a + step / 8.0, b + step / 4.0, c - step / 4.0, d - step / 8.0))
    };
    let (w, h) = (p.width, p.height);
    for y in 0..h {
        let row = y * w;
        for x in (8..w.saturating_sub(1)).step_by(8) {
            let i = row + x;
            if x < 2 {
                continue;
            }
            if let Some((a, b, c, d)) = smooth(p.data[i - 2], p.data[i - 1], p.data[i], p.data[i + 1]) {
                (p.data[i - 2], p.data[i - 1], p.data[i], p.data[i + 1]) = (a, b, c, d);
            }
        }
    }
    for y in (8..h.saturating_sub(1)).step_by(8) {
        for x in 0..w {
            let i = y * w + x;
            let (a, b, c, d) = (p.data[i - 2 * w], p.data[i - w], p.data[i], p.data[i + w]);
            if let Some((a, b, c, d)) = smooth(a, b, c, d) {
                (p.data[i - 2 * w], p.data[i - w], p.data[i], p.data[i + w]) = (a, b, c, d);
            }
        }
    }
}

//! The embedded bit-plane coder of `wavelet-lossy` (EBCOT family, whole subbands as blocks).
//!
//! Each subband of each channel holds quantised magnitudes and signs. Bit-planes are coded from
//! the most significant down; within a bit-plane three passes run over every subband and
//! channel in turn (coarse subbands first), so that the stream is ordered by how much
//! distortion each bit removes per bit spent:
//! 1. significance propagation: insignificant coefficients with a significant neighbour (the
//!    likeliest to become significant) code their significance, then their sign;
//! 2. magnitude refinement: coefficients significant before this plane code one more bit;
//! 3. cleanup: every other insignificant coefficient codes its significance (and sign).
//!
//! Significance is coded with one of 27 contexts from the counts of significant horizontal,
//! vertical and diagonal neighbours (horizontal and vertical swapped in horizontally highpass
//! bands), per orientation class and luma/chroma; signs with 9 contexts from the neighbours'
//! signs; refinement bits with 3 contexts (first refinement with or without significant
//! neighbours, later refinements). Every bit goes through [`BitModel`] on the range coder.
//!
//! The decoder of a cut stream stops at the first symbol that needs bytes past the end, and
//! each coefficient keeps the lowest bit-plane it knows, so reconstruction sits at the middle
//! of what is still uncertain.

use tessera_entropy::binary::BitModel;
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::wavelet_transform::Orientation;

/// Most bit-planes a subband may have (quantised magnitudes stay below 2^MAX_PLANES).
pub const MAX_PLANES: u8 = 24;

const SIG: u8 = 1;
const NEG: u8 = 2;
const REFINED: u8 = 4;
/// Coded in this plane's significance propagation pass (cleared by the cleanup pass).
const VISITED: u8 = 8;

/// One subband of one channel: coding state in a grid with a one-cell border of zeros.
pub struct BandState {
    w: usize,
    h: usize,
    stride: usize,
    /// `SIG | NEG | REFINED | VISITED` per cell.
    flags: Vec<u8>,
    /// Magnitude bits known so far.
    mag: Vec<u32>,
    /// Lowest bit-plane known for each significant coefficient.
    plane: Vec<u8>,
    /// Encoder only: the true magnitude, bit 31 set for negative values.
    truth: Vec<u32>,
    /// Bit-planes this band has (its largest magnitude is below 2^nbits).
    pub nbits: u8,
    /// Context set: orientation class (0..4) and chroma.
    class: usize,
}

impl BandState {
    /// An empty state for a `w × h` band (the decoder's start).
    pub fn new(w: usize, h: usize, orient: Orientation, lowpass: bool, chroma: bool) -> Self {
        let stride = w + 2;
        let cells = stride * (h + 2);
        let o = if lowpass {
            3
        } else {
            match orient {
                Orientation::LowOrVertical => 0,
                Orientation::Horizontal => 1,
                Orientation::Diagonal => 2,
            }
        };
        BandState {
            w,
            h,
            stride,
            flags: vec![0; cells],
            mag: vec![0; cells],
            plane: vec![0; cells],
            truth: Vec::new(),
            nbits: 0,
            class: o + 4 * usize::from(chroma),
        }
    }

    /// Loads the encoder's quantised values (`w × h`, row-major, signed) and sets `nbits`.
    pub fn set_values(&mut self, values: &[i32]) {
        self.truth = vec![0; self.flags.len()];
        let mut max = 0u32;
        for y in 0..self.h {
            for x in 0..self.w {
                let v = values[y * self.w + x];
                let m = v.unsigned_abs().min((1 << MAX_PLANES) - 1);
                max = max.max(m);
                self.truth[(y + 1) * self.stride + x + 1] = m | (u32::from(v < 0) << 31);
            }
        }
        self.nbits = (32 - max.leading_zeros()) as u8;
    }

    /// The reconstructed values in quantiser steps (`w × h`, row-major).
    pub fn reconstruct(&self, out: &mut [f32], offset: f32) {
        for y in 0..self.h {
            for x in 0..self.w {
                let i = (y + 1) * self.stride + x + 1;
                let f = self.flags[i];
                out[y * self.w + x] = if f & SIG == 0 {
                    0.0
                } else {
                    let m = self.mag[i] as f32 + offset * (1u32 << self.plane[i]) as f32;
                    if f & NEG != 0 {
                        -m
                    } else {
                        m
                    }
                };
            }
        }
    }

    #[inline]
    fn sig_context(&self, i: usize) -> usize {
        let f = &self.flags;
        let s = self.stride;
        let h = (f[i - 1] & SIG) + (f[i + 1] & SIG);
        let v = (f[i - s] & SIG) + (f[i + s] & SIG);
        let d = (f[i - s - 1] & SIG) + (f[i - s + 1] & SIG) + (f[i + s - 1] & SIG) + (f[i + s + 1] & SIG);
        let (h, v) = if self.class % 4 == 1 { (v, h) } else { (h, v) };
        usize::from(h.min(2)) * 9 + usize::from(v.min(2)) * 3 + usize::from(d.min(2))
    }

    #[inline]
    fn has_sig_neighbour(&self, i: usize) -> bool {
        let f = &self.flags;
        let s = self.stride;
        (f[i - 1] | f[i + 1] | f[i - s] | f[i + s] | f[i - s - 1] | f[i - s + 1] | f[i + s - 1] | f[i + s + 1]) & SIG
            != 0
    }

    #[inline]
    fn sign_context(&self, i: usize) -> usize {
        let f = &self.flags;
        let s = self.stride;
        let c = |j: usize| -> i32 {
            if f[j] & SIG == 0 {
                0
            } else if f[j] & NEG != 0 {
                -1
            } else {
                1
            }
        };
        let hc = (c(i - 1) + c(i + 1)).clamp(-1, 1);
        let vc = (c(i - s) + c(i + s)).clamp(-1, 1);
        ((hc + 1) * 3 + vc + 1) as usize
    }
}

/// Adaptive contexts shared by all bands (indexed by a band's class).
pub struct Contexts {
    sig: Vec<[BitModel; 27]>,
    sign: Vec<[BitModel; 9]>,
    refine: Vec<[BitModel; 3]>,
}

impl Default for Contexts {
    fn default() -> Self {
        Contexts {
            sig: vec![[BitModel::new(); 27]; 8],
            sign: vec![[BitModel::new(); 9]; 8],
            refine: vec![[BitModel::new(); 3]; 8],
        }
    }
}

/// Where coded bits go or come from.
pub trait BitCoder {
    /// Codes `bit` (the encoder's value; a decoder ignores it) and returns the bit coded, or
    /// `None` when a decoder has run out of data.
    fn code(&mut self, model: &mut BitModel, bit: bool) -> Option<bool>;
}

impl BitCoder for RangeEncoder {
    #[inline]
    fn code(&mut self, model: &mut BitModel, bit: bool) -> Option<bool> {
        self.encode_bit(model, bit);
        Some(bit)
    }
}

/// A range decoder that, for a cut stream, stops before any symbol that would depend on bytes
/// past the end.
pub struct StoppingDecoder<'a> {
    /// The decoder.
    pub dec: RangeDecoder<'a>,
    /// Whether the stream was cut (a whole stream may read a few made-up bytes at its end).
    pub cut: bool,
}

impl BitCoder for StoppingDecoder<'_> {
    #[inline]
    fn code(&mut self, model: &mut BitModel, _bit: bool) -> Option<bool> {
        if self.cut && self.dec.overrun() > 0 {
            return None;
        }
        Some(self.dec.decode_bit(model))
    }
}

/// Codes the significance of cell `i` at plane `p` and, when significant, its sign. Returns
/// `None` when the decoder ran out of data.
#[inline]
fn code_significance<C: BitCoder>(b: &mut BandState, ctx: &mut Contexts, io: &mut C, i: usize, p: u8) -> Option<()> {
    let t = b.truth.get(i).copied().unwrap_or(0);
    let c = b.sig_context(i);
    let sig = io.code(&mut ctx.sig[b.class][c], (t & 0x7FFF_FFFF) >> p & 1 != 0)?;
    if sig {
        let sc = b.sign_context(i);
        let neg = io.code(&mut ctx.sign[b.class][sc], t >> 31 != 0)?;
        b.flags[i] |= SIG | if neg { NEG } else { 0 };
        b.mag[i] = 1 << p;
        b.plane[i] = p;
    }
    Some(())
}

/// Runs pass `pass` (0 significance propagation, 1 refinement, 2 cleanup) of plane `p` on one
/// band. Returns `false` when the decoder ran out of data.
pub fn run_pass<C: BitCoder>(b: &mut BandState, ctx: &mut Contexts, io: &mut C, pass: u8, p: u8) -> bool {
    let s = b.stride;
    for y in 0..b.h {
        let row = (y + 1) * s + 1;
        for i in row..row + b.w {
            let f = b.flags[i];
            match pass {
                0 => {
                    if f & SIG == 0 && b.has_sig_neighbour(i) {
                        b.flags[i] |= VISITED;
                        if code_significance(b, ctx, io, i, p).is_none() {
                            return false;
                        }
                    }
                }
                1 => {
                    if f & (SIG | VISITED) == SIG {
                        let c = if f & REFINED != 0 {
                            2
                        } else {
                            usize::from(b.has_sig_neighbour(i))
                        };
                        let t = b.truth.get(i).copied().unwrap_or(0);
                        let Some(bit) = io.code(&mut ctx.refine[b.class][c], t >> p & 1 != 0) else {
                            return false;
                        };
                        b.mag[i] |= u32::from(bit) << p;
                        b.plane[i] = p;
                        b.flags[i] |= REFINED;
                    }
                }
                _ => {
                    if f & VISITED != 0 {
                        b.flags[i] &= !VISITED;
                    } else if f & SIG == 0 && code_significance(b, ctx, io, i, p).is_none() {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Codes every band from the top bit-plane down; `bands` is in coding order (coarse to fine,
/// channels interleaved). Returns `false` when the decoder ran out of data.
pub fn code_bands<C: BitCoder>(bands: &mut [BandState], io: &mut C) -> bool {
    let mut ctx = Contexts::default();
    let top = bands.iter().map(|b| b.nbits).max().unwrap_or(0);
    for p in (0..top).rev() {
        for pass in 0..3 {
            for b in bands.iter_mut() {
                if b.nbits > p && !run_pass(b, &mut ctx, io, pass, p) {
                    return false;
                }
            }
        }
    }
    true
}

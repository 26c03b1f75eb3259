//! The fast effort of `lossless`: one predictor, adaptive rANS tables, one pass.
//!
//! Samples are coded pixel by pixel, luma (or green) first as in the context-mixing mode, but
//! every step is chosen for speed:
//! 1. **Prediction.** The median edge detector with LOCO-I's bias correction over 729 texture
//!    classes; the residual is taken modulo the plane's range, so it needs no more values
//!    than the samples.
//! 2. **Context.** The local activity: the gradients around the sample plus the residual
//!    magnitudes at the causal neighbours and, from the second plane on, at the first plane
//!    of the same pixel; its half-octave class picks one of 32 contexts per plane.
//! 3. **Coding.** The zig-zagged residual becomes a token (values below 16 as themselves,
//!    larger ones as their octave and next bit) and raw extra bits. Each context's tokens are
//!    coded with an rANS table that starts from a discrete Laplacian of the width its class
//!    suggests and is rebuilt from the counts seen so far at doubling intervals, so encoder
//!    and decoder follow the same tables without sending any.
//!
//! The starting shapes are computed with IEEE basic operations in a fixed order and scaled to
//! integers, so every machine builds the same frequencies.

use tessera_core::{Error, Result};
use tessera_entropy::rans::{RansDecoder, RansEncoder, RansModel};

use super::{half_octave, med, mid_value, plane_range, unzigzag, zigzag, Neighbours, Planes};

/// Activity contexts per plane.
const CONTEXTS: usize = 32;
/// Precision of the rANS tables.
const PRECISION: u32 = 12;
/// Zig-zagged residuals below this are tokens of their own.
const DIRECT: u32 = 16;
/// Bias-correction classes per plane: three local gradients in nine levels each (LOCO-I's).
const BIAS_CLASSES: usize = 9 * 9 * 9;

/// Codes the planes (already colour-transformed) and returns the rANS stream.
pub fn encode(planes: &mut Planes, bit_depth: u8) -> Result<Vec<u8>> {
    let specs = specs(planes, bit_depth);
    let mut writer = Writer { enc: RansEncoder::new(), tables: tables(&specs)? };
    run(planes, &specs, &mut writer)?;
    Ok(writer.enc.finish())
}

/// Decodes a payload written by [`encode`] into `planes` (sized, zero-filled).
pub fn decode(planes: &mut Planes, bit_depth: u8, payload: &[u8]) -> Result<()> {
    let specs = specs(planes, bit_depth);
    let dec = RansDecoder::new(payload).map_err(|_| Error::Truncated("fast lossless stream".into()))?;
    let mut reader = Reader { dec, tables: tables(&specs)? };
    run(planes, &specs, &mut reader)?;
    reader.dec.finish().map_err(|_| Error::corrupt("fast lossless stream does not end where it should"))
}

/// What the pixel loop needs of a plane.
#[derive(Clone, Copy, Debug)]
struct Spec {
    /// Index of the plane in `Planes::data`.
    plane: usize,
    lo: i32,
    hi: i32,
    mid: i32,
    /// Right shift that brings 16-bit magnitudes to the 8-bit scale of the contexts.
    shift: u32,
    /// Largest zig-zagged residual the plane can produce.
    max_u: u32,
}

/// The planes in coding order (green or luma first) with their ranges.
fn specs(planes: &Planes, bit_depth: u8) -> Vec<Spec> {
    let count = planes.data.len();
    let order: Vec<usize> = if count >= 3 && !planes.ycocg {
        [1, 0, 2].into_iter().chain(3..count).collect()
    } else {
        (0..count).collect()
    };
    order
        .into_iter()
        .map(|p| {
            let (lo, hi) = plane_range(bit_depth, planes.ycocg, p);
            let range = hi - lo + 1;
            let half = range / 2;
            Spec {
                plane: p,
                lo,
                hi,
                mid: mid_value(bit_depth, planes.ycocg, p),
                shift: u32::from(bit_depth) - 8,
                max_u: zigzag(-half).max(zigzag(range - 1 - half)),
            }
        })
        .collect()
}

/// The encoder's first pass or the decoder: gives the zig-zagged residual of a sample in a
/// context (global index: plane rank × `CONTEXTS` + activity class).
trait Residuals {
    fn code(&mut self, ctx: usize, u: u32) -> Result<u32>;
}

/// The encoder: queues each token and its extra bits under its context's current table.
struct Writer {
    enc: RansEncoder,
    tables: Vec<Table>,
}

impl Residuals for Writer {
    #[inline]
    fn code(&mut self, ctx: usize, u: u32) -> Result<u32> {
        let (t, extra, bits) = token(u);
        let table = &mut self.tables[ctx];
        self.enc.encode(&table.model, t as usize).map_err(|e| Error::InvalidParam(format!("fast lossless: {e}")))?;
        self.enc.encode_bits(extra, bits);
        table.learn(t as usize)?;
        Ok(u)
    }
}

struct Reader<'a> {
    dec: RansDecoder<'a>,
    tables: Vec<Table>,
}

impl Residuals for Reader<'_> {
    #[inline]
    fn code(&mut self, ctx: usize, _u: u32) -> Result<u32> {
        let table = &mut self.tables[ctx];
        let t = self.dec.decode(&table.model).map_err(|_| Error::Truncated("fast lossless stream".into()))?;
        let bits = extra_bits(t as u32);
        let extra = self.dec.decode_bits(bits).map_err(|_| Error::Truncated("fast lossless stream".into()))?;
        table.learn(t)?;
        Ok(untoken(t as u32, extra))
    }
}

/// LOCO-I's bias correction state: accumulated error, count, correction.
#[derive(Clone, Copy, Default)]
struct Bias {
    sum: i32,
    count: i32,
    correction: i32,
}

impl Bias {
    /// Learns from one residual, moving the correction by at most one per sample.
    #[inline]
    fn update(&mut self, e: i32) {
        self.sum += e;
        self.count += 1;
        if self.count == 64 {
            self.sum >>= 1;
            self.count >>= 1;
        }
        if self.sum <= -self.count {
            self.correction -= 1;
            self.sum = (self.sum + self.count).max(1 - self.count);
        } else if self.sum > 0 {
            self.correction += 1;
            self.sum = (self.sum - self.count).min(0);
        }
    }
}

/// The pixel loop shared by the encoder's first pass and the decoder.
fn run<R: Residuals>(planes: &mut Planes, specs: &[Spec], coder: &mut R) -> Result<()> {
    let (w, h) = (planes.width, planes.height);
    // Residual magnitudes of the last two rows, per plane (indexed by row parity).
    let mut errors = vec![vec![0u32; 2 * w]; specs.len()];
    let mut bias = vec![[Bias::default(); BIAS_CLASSES]; specs.len()];
    for y in 0..h {
        let (cur, prev) = ((y & 1) * w, ((y + 1) & 1) * w);
        for x in 0..w {
            let i = y * w + x;
            let mut first_error = 0u32;
            for (rank, s) in specs.iter().enumerate() {
                let plane = &mut planes.data[s.plane];
                let nb = Neighbours::at(plane, w, x, y, s.mid);
                let e = &errors[rank];
                let e_n = if y > 0 { e[prev + x] } else { 0 };
                let e_w = if x > 0 { e[cur + x - 1] } else { e_n };
                let e_ne = if y > 0 && x + 1 < w { e[prev + x + 1] } else { e_n };
                let e_nw = if y > 0 && x > 0 { e[prev + x - 1] } else { e_n };
                // Activity: local gradients plus the residual sizes around this sample, the
                // west one weighted most, and the first plane's residual at this pixel.
                let gradients = (nb.n - nb.nw).unsigned_abs()
                    + (nb.w - nb.nw).unsigned_abs()
                    + (nb.ne - nb.n).unsigned_abs();
                let energy = gradients + 3 * e_w + 2 * e_n + e_ne + e_nw + 2 * first_error;
                let class = half_octave(energy >> s.shift).min(CONTEXTS - 1);
                let texture = 81 * gradient9(nb.ne - nb.n, s.shift)
                    + 9 * gradient9(nb.n - nb.nw, s.shift)
                    + gradient9(nb.nw - nb.w, s.shift);
                let b = &mut bias[rank][texture];
                let base = med(nb.w, nb.n, nb.nw);
                let predicted = (base + b.correction).clamp(s.lo, s.hi);
                let range = s.hi - s.lo + 1;
                let half = range / 2;
                let mut r = plane[i] - predicted;
                if r < -half {
                    r += range;
                } else if r > range - 1 - half {
                    r -= range;
                }
                let u = coder.code(rank * CONTEXTS + class, zigzag(r))?;
                if u > s.max_u {
                    return Err(Error::corrupt("fast lossless residual out of range"));
                }
                let r = unzigzag(u);
                let mut v = predicted + r;
                if v < s.lo {
                    v += range;
                } else if v > s.hi {
                    v -= range;
                }
                plane[i] = v;
                b.update(r);
                let magnitude = r.unsigned_abs();
                errors[rank][cur + x] = magnitude;
                if rank == 0 {
                    first_error = magnitude;
                }
            }
        }
    }
    Ok(())
}

/// A local gradient in LOCO-I's nine levels (thresholds 3, 7, 21 on the 8-bit scale), 0..9.
#[inline]
fn gradient9(d: i32, shift: u32) -> usize {
    let m = d.unsigned_abs() >> shift;
    let level = if m == 0 {
        0
    } else if m < 3 {
        1
    } else if m < 7 {
        2
    } else if m < 21 {
        3
    } else {
        4
    };
    (4 + if d < 0 { -level } else { level }) as usize
}

/// A zig-zagged residual as (token, extra bits, number of extra bits).
#[inline]
fn token(u: u32) -> (u32, u32, u32) {
    if u < DIRECT {
        (u, 0, 0)
    } else {
        let octave = 31 - u.leading_zeros();
        let bits = octave - 1;
        (DIRECT + 2 * (octave - 4) + ((u >> bits) & 1), u & ((1 << bits) - 1), bits)
    }
}

/// Number of extra bits after `t`.
#[inline]
fn extra_bits(t: u32) -> u32 {
    if t < DIRECT {
        0
    } else {
        (t - DIRECT) / 2 + 3
    }
}

/// The inverse of [`token`].
#[inline]
fn untoken(t: u32, extra: u32) -> u32 {
    if t < DIRECT {
        t
    } else {
        let octave = (t - DIRECT) / 2 + 4;
        (1 << octave) | (((t - DIRECT) & 1) << (octave - 1)) | extra
    }
}

/// One context's adaptive rANS table: token counts, and the static model rebuilt from them
/// at doubling intervals (then every `MAX_INTERVAL` tokens), halving the counts now and then
/// so the table follows the image.
struct Table {
    counts: Vec<u64>,
    total: u64,
    since: u32,
    interval: u32,
    model: RansModel,
}

/// First rebuild after this many tokens; the interval doubles up to `MAX_INTERVAL`.
const FIRST_INTERVAL: u32 = 16;
const MAX_INTERVAL: u32 = 1024;
/// Counts are halved when their total passes this.
const MAX_TOTAL: u64 = 1 << 13;
/// Weight of the starting shape, in counts.
const PRIOR_WEIGHT: f64 = 24.0;

impl Table {
    /// A table for plane `spec`'s residuals in activity class `class`, starting from a discrete
    /// Laplacian of about the width the class suggests.
    fn new(spec: &Spec, class: usize) -> Result<Table> {
        let tokens = token(spec.max_u).0 as usize + 1;
        // Activity ≈ 6 × mean |residual|; a Laplacian's mean is about 1 / (1 − r).
        let step = (2 * class).saturating_sub(10) as u32 + 1;
        let quarter = 0.5f64.sqrt().sqrt();
        let mut decay = 1.0f64;
        for _ in 0..step / 4 {
            decay *= 0.5;
        }
        for _ in 0..step % 4 {
            decay *= quarter;
        }
        let r = 1.0 - decay;
        let mut mass = vec![0f64; tokens];
        let mut level = 1.0f64;
        let mut sum = 0.0;
        for u in 0..=spec.max_u {
            // |e| rises by one at every odd u (0, −1, 1, −2, 2, …).
            if u % 2 == 1 {
                level *= r;
            }
            mass[token(u).0 as usize] += level;
            sum += level;
        }
        // Every token keeps a count of at least one, so any residual can be coded.
        let counts: Vec<u64> = mass.iter().map(|&m| (m / sum * PRIOR_WEIGHT).round() as u64 + 1).collect();
        let total = counts.iter().sum();
        let model = Self::model(&counts)?;
        Ok(Table { counts, total, since: 0, interval: FIRST_INTERVAL, model })
    }

    fn model(counts: &[u64]) -> Result<RansModel> {
        RansModel::from_counts(counts, PRECISION).map_err(|e| Error::InvalidParam(format!("fast lossless table: {e}")))
    }

    /// Counts token `t` and rebuilds the model when its interval is up.
    #[inline]
    fn learn(&mut self, t: usize) -> Result<()> {
        self.counts[t] += 1;
        self.total += 1;
        self.since += 1;
        if self.since >= self.interval {
            if self.total > MAX_TOTAL {
                self.total = 0;
                for c in &mut self.counts {
                    *c = (*c + 1) / 2;
                    self.total += *c;
                }
            }
            self.model = Self::model(&self.counts)?;
            self.since = 0;
            self.interval = (2 * self.interval).min(MAX_INTERVAL);
        }
        Ok(())
    }
}

/// A fresh table for every plane and activity class.
fn tables(specs: &[Spec]) -> Result<Vec<Table>> {
    specs.iter().flat_map(|s| (0..CONTEXTS).map(move |c| Table::new(s, c))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_invert_and_cover_every_residual() {
        for u in 0..200_000u32 {
            let (t, extra, bits) = token(u);
            assert_eq!(bits, extra_bits(t));
            assert!(extra < 1 << bits.max(1) || bits == 0 && extra == 0);
            assert_eq!(untoken(t, extra), u, "u = {u}");
        }
        assert_eq!(token(15), (15, 0, 0));
        assert_eq!(token(16), (16, 0, 3));
        assert_eq!(token(24), (17, 0, 3));
    }

    #[test]
    fn every_table_codes_every_token_of_its_plane() {
        let planes = Planes { width: 1, height: 1, data: vec![vec![0]; 3], ycocg: true };
        for depth in [8u8, 16] {
            for s in specs(&planes, depth) {
                let tokens = token(s.max_u).0 as usize + 1;
                for class in [0, 12, CONTEXTS - 1] {
                    let mut table = Table::new(&s, class).unwrap();
                    for i in 0..5000 {
                        table.learn(i % 3).unwrap();
                    }
                    assert_eq!(table.model.num_symbols(), tokens);
                    assert!((0..tokens).all(|t| table.model.frequency(t).unwrap() >= 1));
                }
            }
        }
    }
}

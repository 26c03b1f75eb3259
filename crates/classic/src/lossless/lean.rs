//! The fastest effort of `lossless` (effort 0): six fitted predictor taps, static rANS tables
//! sent with the image, and the planes of a pixel coded together.
//!
//! The decoder of [`fast`](super::fast) is bound by one chain per plane: each sample's
//! context and prediction wait for the sample before it, which waits for its table lookup. Here
//! the planes of a pixel follow each other inside one loop and each has its own rANS state, so
//! the chains of the three planes overlap in the CPU; the tables do not change, so the decoder
//! only looks them up.
//! 1. **Prediction.** W, N, NW, NE, the median edge detector's guess and, from the second plane
//!    on, the residual of the first plane at the same pixel (from the third on, the sum of the
//!    first two planes' residuals). The encoder fits one set of weights per plane and
//!    gradient band by least squares, as [`fast`](super::fast) does, and sends them (1/1024
//!    fixed point).
//! 2. **Context.** The octave of the local activity (the gradients plus the residual
//!    magnitudes at W, N, NE, NW and, from the second plane on, the first plane's at this
//!    pixel): one of 16 classes per plane.
//! 3. **Coding.** The zig-zagged residual becomes the token of [`fast`](super::fast) under its
//!    context's table (11-bit rANS), and its extra bits equiprobable rANS symbols of the same
//!    state. The tables are the image's own token counts, scaled and sent.
//! 4. **Strips** of whole rows as in [`fast`](super::fast) ([`Layout::Balanced`]), coded in
//!    parallel; they share the weights and the tables.
//!
//! Payload: per plane in coding order, a byte whose bit `b` says that band `b` has fitted
//! weights (the others predict with the median edge detector alone), then those weights as
//! little-endian `i16`; the tables, a bit stream (most significant bit first, padded to a byte):
//! for each plane and class, a bit saying whether it is used, then for a used one each token's
//! frequency plus one in Elias gamma code, summing to 2^11; then the byte length of every
//! strip's stream but the last (little-endian `u32`), then the streams. A stream is one rANS
//! state per plane (little-endian `u32`) and the words of all of them (little-endian `u16`).
//!
//! Edge rules: above a strip's first row every sample is the plane's middle value and every
//! residual magnitude zero; left of a row W and NW are N, right of it NE is N.

use rayon::prelude::*;
use tessera_core::{Error, Result};
use tessera_entropy::bits::{BitReader, BitWriter};
use tessera_entropy::model::scale_counts;

use super::fast::{
    coding_order, extra_bits, fit_bands, join_streams, read_weights, split_streams, strips, token,
    untoken, weights, write_weights, Layout, Normal, PlaneRange, Strip, BANDS, BAND_OF,
};
use super::{med, unzigzag, zigzag, Planes};

/// Predictor inputs: W, N, NW, NE, the median edge detector, the earlier planes' residual.
const TAPS: usize = 6;
/// Index of the median edge detector's guess among the inputs.
const MED_TAP: usize = 4;
/// Activity classes per plane.
const CLASSES: usize = 16;
/// Precision of the rANS tables, and their number of slots.
const PRECISION: u32 = 11;
const SLOTS: usize = 1 << PRECISION;
/// Room for every token of a plane (16-bit samples have 42).
const MAX_TOKENS: usize = 64;
/// Padding at each end of a row buffer.
const PAD: usize = 1;
/// The lower end of a rANS state.
const LOW: u32 = 1 << 16;
/// Images have at most four channels.
const MAX_PLANES: usize = 4;

/// Codes the planes (already colour-transformed) and returns the payload.
pub fn encode(planes: &mut Planes, bit_depth: u8) -> Result<Vec<u8>> {
    let mut specs = specs(planes, bit_depth)?;
    let width = planes.width;
    let mut strips = ordered_strips(planes, &specs);
    // One fitting pass per plane: a plane's inputs include the residuals of the planes before
    // it, which must come from their final weights. The strips' sums are added in strip order,
    // so the weights do not depend on the thread count.
    for rank in 0..specs.len() {
        let per_strip = strips
            .par_iter_mut()
            .map(|strip| {
                let mut fit = Fit {
                    rank,
                    sums: vec![Normal::default(); BANDS],
                };
                run(strip, width, &specs, &mut fit).map(|()| fit.sums)
            })
            .collect::<Result<Vec<_>>>()?;
        let spec = &mut specs[rank];
        spec.fitted = fit_bands(&per_strip, TAPS, MED_TAP);
        spec.weights = weights(&spec.fitted, MED_TAP);
    }
    let symbols = strips
        .par_iter_mut()
        .map(|strip| {
            let mut collect = Collect {
                symbols: Vec::with_capacity(strip.iter().map(|p| p.len()).sum()),
            };
            run(strip, width, &specs, &mut collect).map(|()| collect.symbols)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut counts = vec![[0u64; MAX_TOKENS]; specs.len() * CLASSES];
    for &(context, u) in symbols.iter().flatten() {
        counts[usize::from(context)][token(u).0 as usize] += 1;
    }
    let mut out = Vec::new();
    for s in &specs {
        write_weights(&mut out, &s.fitted, TAPS);
    }
    let mut bits = BitWriter::new();
    let mut ranges = Vec::with_capacity(counts.len());
    for (context, counts) in counts.iter().enumerate() {
        let tokens = specs[context / CLASSES].tokens;
        let used = counts.iter().any(|&c| c > 0);
        bits.write_bit(used);
        let freq = if used {
            scale_counts(&counts[..tokens], SLOTS as u64)
                .map_err(|e| Error::InvalidParam(format!("lean lossless: {e}")))?
        } else {
            vec![0; tokens]
        };
        if used {
            write_frequencies(&mut bits, &freq);
        }
        ranges.push(Ranges::new(&freq));
    }
    out.extend_from_slice(&bits.finish());
    let streams: Vec<Vec<u8>> = symbols
        .par_iter()
        .map(|symbols| write_stream(symbols, &ranges, specs.len()))
        .collect();
    join_streams(&mut out, &streams, "lean lossless")?;
    Ok(out)
}

/// Decodes a payload written by [`encode`] into `planes` (sized, zero-filled).
pub fn decode(planes: &mut Planes, bit_depth: u8, payload: &[u8]) -> Result<()> {
    let mut specs = specs(planes, bit_depth)?;
    let mut rest = payload;
    for s in &mut specs {
        s.fitted = read_weights(&mut rest, TAPS, "lean lossless")?;
        s.weights = weights(&s.fitted, MED_TAP);
    }
    let mut reader = BitReader::new(rest);
    let tables = specs
        .iter()
        .map(|s| read_tables(&mut reader, s.tokens))
        .collect::<Result<Vec<_>>>()?;
    reader.align();
    rest = &rest[rest.len() - (reader.remaining() / 8) as usize..];
    let width = planes.width;
    let strips = ordered_strips(planes, &specs);
    let streams = split_streams(rest, strips.len(), "lean lossless")?;
    strips
        .into_par_iter()
        .zip(streams)
        .try_for_each(|(mut strip, stream)| {
            let mut reader = Reader::new(stream, specs.len(), &tables)?;
            run(&mut strip, width, &specs, &mut reader)?;
            reader.finish()
        })
}

/// What the pixel loop needs of a plane.
#[derive(Clone, Copy, Debug)]
struct Spec {
    range: PlaneRange,
    /// The tokens that cover the plane's residuals.
    tokens: usize,
    /// The weights sent for each band, if any, and the weights used (the fitted ones, or the
    /// median edge detector alone).
    fitted: [Option<[i16; TAPS]>; BANDS],
    weights: [[i32; TAPS]; BANDS],
}

/// The planes in coding order with their ranges.
fn specs(planes: &Planes, bit_depth: u8) -> Result<Vec<Spec>> {
    let count = planes.data.len();
    if !(1..=MAX_PLANES).contains(&count) {
        return Err(Error::InvalidParam(format!(
            "lean lossless: {count} planes"
        )));
    }
    Ok(coding_order(planes, bit_depth)
        .into_iter()
        .map(|range| Spec {
            range,
            tokens: token(range.max_u).0 as usize + 1,
            fitted: [None; BANDS],
            weights: weights(&[None; BANDS], MED_TAP),
        })
        .collect())
}

/// The strips of `planes`, each with its planes in coding order.
fn ordered_strips<'a>(planes: &'a mut Planes, specs: &[Spec]) -> Vec<Strip<'a>> {
    strips(planes, Layout::Balanced)
        .into_iter()
        .map(|strip| {
            let mut by_plane: Vec<Option<&mut [i32]>> = strip.into_iter().map(Some).collect();
            specs
                .iter()
                .filter_map(|s| by_plane[s.range.plane].take())
                .collect()
        })
        .collect()
}

/// What the pixel loop drives: the fitting passes, the symbol collector or the decoder.
trait Coder {
    /// Sees the inputs of a sample of plane `rank` in `band` and its true value.
    #[inline(always)]
    fn observe(&mut self, _rank: usize, _band: usize, _inputs: &[i32; TAPS], _value: i32) {}
    /// Takes the zig-zagged residual `u` of plane `rank` in activity class `class` and returns
    /// it, or decodes one.
    fn code(&mut self, rank: usize, class: usize, u: u32) -> Result<u32>;
}

/// A fitting pass: gathers the least-squares normal equations of plane `rank`, band by band.
struct Fit {
    rank: usize,
    sums: Vec<Normal<TAPS>>,
}

impl Coder for Fit {
    #[inline(always)]
    fn observe(&mut self, rank: usize, band: usize, inputs: &[i32; TAPS], value: i32) {
        if rank == self.rank {
            self.sums[band].add(inputs, value);
        }
    }
    #[inline(always)]
    fn code(&mut self, _rank: usize, _class: usize, u: u32) -> Result<u32> {
        Ok(u)
    }
}

/// The encoder's first pass: every sample's context (plane rank × classes + class) and
/// zig-zagged residual, in coding order.
struct Collect {
    symbols: Vec<(u8, u32)>,
}

impl Coder for Collect {
    #[inline(always)]
    fn code(&mut self, rank: usize, class: usize, u: u32) -> Result<u32> {
        self.symbols.push(((rank * CLASSES + class) as u8, u));
        Ok(u)
    }
}

/// One table's token starts and frequencies.
struct Ranges {
    start: [u16; MAX_TOKENS],
    freq: [u16; MAX_TOKENS],
}

impl Ranges {
    fn new(freq: &[u32]) -> Ranges {
        let mut r = Ranges {
            start: [0; MAX_TOKENS],
            freq: [0; MAX_TOKENS],
        };
        let mut acc = 0u32;
        for (t, &f) in freq.iter().enumerate() {
            r.start[t] = acc as u16;
            r.freq[t] = f as u16;
            acc += f;
        }
        r
    }
}

/// Writes a table's frequencies, each plus one in Elias gamma code (also for the tables of
/// [`fast`](super::fast)'s effort 2).
pub(super) fn write_frequencies(bits: &mut BitWriter, freq: &[u32]) {
    freq.iter().for_each(|&f| write_gamma(bits, f + 1));
}

/// Reads what [`write_frequencies`] wrote for a table of `tokens` frequencies summing to
/// 2^`precision`.
pub(super) fn read_frequencies(
    bits: &mut BitReader,
    tokens: usize,
    precision: u32,
) -> Result<Vec<u32>> {
    let freq = (0..tokens)
        .map(|_| read_gamma(bits, precision + 1).map(|f| f - 1))
        .collect::<Result<Vec<u32>>>()?;
    if freq.iter().sum::<u32>() != 1 << precision {
        return Err(Error::corrupt("lossless table frequencies"));
    }
    Ok(freq)
}

/// Writes `v` ≥ 1 in Elias gamma code: as many zeros as it has bits after the first, then its
/// bits.
fn write_gamma(bits: &mut BitWriter, v: u32) {
    let n = 31 - v.leading_zeros();
    bits.write_bits(0, n);
    bits.write_bits(v, n + 1);
}

/// Reads an Elias gamma code of at most `max_bits` bits after the first.
fn read_gamma(bits: &mut BitReader, max_bits: u32) -> Result<u32> {
    let truncated = |_| Error::Truncated("lossless tables".into());
    let mut n = 0;
    while !bits.read_bit().map_err(truncated)? {
        n += 1;
        if n > max_bits {
            return Err(Error::corrupt("lossless table frequency"));
        }
    }
    let rest = bits.read_bits(n).map_err(truncated)?;
    Ok(1 << n | rest)
}

/// One plane's decoding tables: for each class, the token of every slot and each token's start
/// and frequency.
struct Tables {
    slots: [[u8; SLOTS]; CLASSES],
    ranges: [Ranges; CLASSES],
}

/// Reads a plane's tables of `tokens` tokens.
fn read_tables(bits: &mut BitReader, tokens: usize) -> Result<Box<Tables>> {
    let mut tables = Box::new(Tables {
        slots: [[0; SLOTS]; CLASSES],
        ranges: std::array::from_fn(|_| Ranges::new(&[])),
    });
    for class in 0..CLASSES {
        read_table(
            bits,
            tokens,
            &mut tables.slots[class],
            &mut tables.ranges[class],
        )?;
    }
    Ok(tables)
}

/// Reads one context's table of `tokens` tokens. An unused context (which no valid stream
/// reaches) decodes token 0 without reading anything.
fn read_table(
    bits: &mut BitReader,
    tokens: usize,
    slots: &mut [u8; SLOTS],
    ranges: &mut Ranges,
) -> Result<()> {
    let truncated = |_| Error::Truncated("lean lossless tables".into());
    let freq = if bits.read_bit().map_err(truncated)? {
        read_frequencies(bits, tokens, PRECISION)?
    } else {
        let mut freq = vec![0u32; tokens];
        freq[0] = SLOTS as u32;
        freq
    };
    *ranges = Ranges::new(&freq);
    for (t, &f) in freq.iter().enumerate() {
        let start = usize::from(ranges.start[t]);
        slots[start..start + f as usize].fill(t as u8);
    }
    Ok(())
}

/// Codes one strip's symbols: each plane's rANS state takes that plane's tokens and extra
/// bits; the words of all states go into one stream, which the decoder reads back in order.
fn write_stream(symbols: &[(u8, u32)], ranges: &[Ranges], planes: usize) -> Vec<u8> {
    let mut state = [LOW; MAX_PLANES];
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 2 + 4);
    // rANS is last in, first out: the symbols are coded in reverse, the extra bits of each
    // before its token.
    let mut put = |x: &mut u32, start: u32, freq: u32, bits: u32| {
        let x_max = (u64::from(LOW >> bits) << 16) * u64::from(freq);
        if u64::from(*x) >= x_max {
            words.push(*x as u16);
            *x >>= 16;
        }
        *x = ((*x / freq) << bits) + (*x % freq) + start;
    };
    for &(context, u) in symbols.iter().rev() {
        let context = usize::from(context);
        let x = &mut state[context / CLASSES];
        let (t, extra, bits) = token(u);
        if bits > 0 {
            put(x, extra, 1, bits);
        }
        let r = &ranges[context];
        put(
            x,
            u32::from(r.start[t as usize]),
            u32::from(r.freq[t as usize]),
            PRECISION,
        );
    }
    let mut out = Vec::with_capacity(4 * planes + 2 * words.len());
    state[..planes]
        .iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    words
        .iter()
        .rev()
        .for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
    out
}

/// The decoder of one strip's stream.
struct Reader<'a> {
    state: [u32; MAX_PLANES],
    data: &'a [u8],
    pos: usize,
    tables: &'a [Box<Tables>],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], planes: usize, tables: &'a [Box<Tables>]) -> Result<Reader<'a>> {
        let mut state = [LOW; MAX_PLANES];
        for (i, x) in state[..planes].iter_mut().enumerate() {
            let bytes = data
                .get(4 * i..4 * i + 4)
                .ok_or_else(|| Error::Truncated("lean lossless stream".into()))?;
            *x = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if *x < LOW {
                return Err(Error::corrupt("lean lossless rANS state"));
            }
        }
        Ok(Reader {
            state,
            data,
            pos: 4 * planes,
            tables,
        })
    }

    /// Brings a state back into range from the stream.
    #[inline(always)]
    fn refill(&mut self, x: u32) -> Result<u32> {
        if x >= LOW {
            return Ok(x);
        }
        let Some(w) = self.data.get(self.pos..self.pos + 2) else {
            return Err(Error::Truncated("lean lossless stream".into()));
        };
        self.pos += 2;
        Ok(x << 16 | u32::from(u16::from_le_bytes([w[0], w[1]])))
    }

    /// Checks that the stream ended exactly: every state back at its start, every word read.
    fn finish(&self) -> Result<()> {
        if self.state.iter().all(|&x| x == LOW) && self.pos == self.data.len() {
            Ok(())
        } else {
            Err(Error::corrupt(
                "lean lossless stream does not end where it should",
            ))
        }
    }
}

impl Coder for Reader<'_> {
    #[inline(always)]
    fn code(&mut self, rank: usize, class: usize, _u: u32) -> Result<u32> {
        let tables = &self.tables[rank];
        let class = class % CLASSES;
        let x = self.state[rank % MAX_PLANES];
        let slot = x as usize & (SLOTS - 1);
        let t = tables.slots[class][slot];
        let i = usize::from(t) % MAX_TOKENS;
        let ranges = &tables.ranges[class];
        let (start, freq) = (u32::from(ranges.start[i]), u32::from(ranges.freq[i]));
        let mut x = self.refill(freq * (x >> PRECISION) + slot as u32 - start)?;
        let bits = extra_bits(u32::from(t));
        let mut extra = 0;
        if bits > 0 {
            extra = x & ((1 << bits) - 1);
            x = self.refill(x >> bits)?;
        }
        self.state[rank % MAX_PLANES] = x;
        Ok(untoken(u32::from(t), extra))
    }
}

/// One plane's row state in the pixel loop.
struct Lane {
    spec: Spec,
    /// The row above, `width + 2·PAD` values; the current row replaces it one sample behind.
    row: Vec<i32>,
    /// The residual magnitudes of the row above, laid out and replaced the same way.
    errors: Vec<u32>,
    /// The previous sample of this row and its residual magnitude.
    west: i32,
    e_w: u32,
}

/// The pixel loop over one strip (planes in coding order), shared by the fitting passes, the
/// collector and the decoder: row by row, and in a row pixel by pixel, every plane of a pixel
/// in turn. The encoder reads each sample from `strip`; the decoder writes it there.
fn run<C: Coder>(strip: &mut [&mut [i32]], w: usize, specs: &[Spec], coder: &mut C) -> Result<()> {
    let wide = specs.iter().any(|s| s.range.shift > 0);
    match (specs.len(), wide) {
        (1, false) => run_planes::<C, 1, false>(strip, w, specs, coder),
        (2, false) => run_planes::<C, 2, false>(strip, w, specs, coder),
        (3, false) => run_planes::<C, 3, false>(strip, w, specs, coder),
        (4, false) => run_planes::<C, 4, false>(strip, w, specs, coder),
        (1, true) => run_planes::<C, 1, true>(strip, w, specs, coder),
        (2, true) => run_planes::<C, 2, true>(strip, w, specs, coder),
        (3, true) => run_planes::<C, 3, true>(strip, w, specs, coder),
        (4, true) => run_planes::<C, 4, true>(strip, w, specs, coder),
        (n, _) => Err(Error::InvalidParam(format!("lean lossless: {n} planes"))),
    }
}

/// [`run`] for `N` planes; `WIDE` computes the prediction in 64 bits (16-bit samples).
#[inline(always)]
fn run_planes<C: Coder, const N: usize, const WIDE: bool>(
    strip: &mut [&mut [i32]],
    w: usize,
    specs: &[Spec],
    coder: &mut C,
) -> Result<()> {
    let h = strip.first().map_or(0, |p| p.len() / w.max(1));
    if w == 0 || strip.len() != N || specs.len() != N {
        return Ok(());
    }
    let stride = w + 2 * PAD;
    let mut lanes: [Lane; N] = std::array::from_fn(|r| Lane {
        spec: specs[r],
        row: vec![specs[r].range.mid; stride],
        errors: vec![0; stride],
        west: 0,
        e_w: 0,
    });
    for y in 0..h {
        for lane in &mut lanes {
            let (row, errors) = (&mut lane.row, &mut lane.errors);
            (row[PAD - 1], row[PAD + w]) = (row[PAD], row[PAD + w - 1]);
            (errors[PAD - 1], errors[PAD + w]) = (errors[PAD], errors[PAD + w - 1]);
            lane.west = row[PAD];
            lane.e_w = 0;
        }
        let rows: [&mut [i32]; N] = {
            let mut planes = strip.iter_mut();
            std::array::from_fn(|_| match planes.next() {
                Some(p) => &mut p[y * w..(y + 1) * w],
                None => &mut [],
            })
        };
        // The planes of a pixel one after the other, unrolled: the second plane reads the
        // first one's residual, the later ones the sum of both.
        for x in 0..w {
            let r0 = sample::<C, WIDE>(&mut lanes[0], 0, &mut rows[0][x], x, 0, 0, coder)?;
            if N > 1 {
                let e0 = r0.unsigned_abs();
                let r1 = sample::<C, WIDE>(&mut lanes[1], 1, &mut rows[1][x], x, r0, e0, coder)?;
                for rank in 2..N {
                    sample::<C, WIDE>(
                        &mut lanes[rank],
                        rank,
                        &mut rows[rank][x],
                        x,
                        r0 + r1,
                        e0,
                        coder,
                    )?;
                }
            }
        }
        for lane in &mut lanes {
            lane.row[PAD + w - 1] = lane.west;
            lane.errors[PAD + w - 1] = lane.e_w;
        }
    }
    Ok(())
}

/// Codes sample `x` of a plane's row (in `value`) and returns its residual; `residual` and
/// `e0` are the earlier planes' residual input and the first plane's residual magnitude.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sample<C: Coder, const WIDE: bool>(
    lane: &mut Lane,
    rank: usize,
    value: &mut i32,
    x: usize,
    residual: i32,
    e0: u32,
    coder: &mut C,
) -> Result<i32> {
    let s = &lane.spec.range;
    // The three samples above (NW, N, NE) and their residual magnitudes, each a window of three
    // so that one bounds check covers the reads and the write behind them.
    let above = &mut lane.row[x..x + 2 * PAD + 1];
    let e_above = &mut lane.errors[x..x + 2 * PAD + 1];
    let (nw, n, ne) = (above[0], above[1], above[2]);
    let (e_nw, e_n, e_ne) = (e_above[0], e_above[1], e_above[2]);
    let west = lane.west;
    let gradients = (n - nw).unsigned_abs() + (west - nw).unsigned_abs() + (ne - n).unsigned_abs();
    let band = usize::from(BAND_OF[(gradients >> s.shift).min(255) as usize]);
    let inputs = [west, n, nw, ne, med(west, n, nw), residual];
    let predicted = s.predict::<TAPS, WIDE>(&inputs, &lane.spec.weights[band]);
    coder.observe(rank, band, &inputs, *value);
    // Activity: the gradients plus the residual sizes around this sample, the west one
    // weighted most, and the first plane's residual at this pixel.
    let energy = (gradients + 3 * lane.e_w + 2 * e_n + e_ne + e_nw + 2 * e0) >> s.shift;
    let class = ((u32::BITS - energy.leading_zeros()) as usize).min(CLASSES - 1);
    let u = coder.code(rank, class, zigzag(s.wrap(*value - predicted)))?;
    if u > s.max_u {
        return Err(Error::corrupt("lean lossless residual out of range"));
    }
    let r = unzigzag(u);
    let v = s.unwrap(predicted + r);
    *value = v;
    // The row above at x − 1 is no longer read (NW of x + 1 is N of x, read above): the
    // previous sample of this row takes its place.
    above[0] = west;
    e_above[0] = lane.e_w;
    lane.west = v;
    lane.e_w = r.unsigned_abs();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next 16 bits of a linear congruential sequence.
    fn random(seed: &mut u32) -> i32 {
        *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (*seed >> 16) as i32
    }

    /// A noisy gradient, `planes` planes of `width` × `height`.
    fn test_planes(width: usize, height: usize, planes: usize) -> Planes {
        let mut seed = 11u32;
        let data = (0..planes)
            .map(|p| {
                (0..width * height)
                    .map(|i| {
                        ((i % width + i / width + 40 * p) as i32 + (random(&mut seed) >> 12)) % 256
                    })
                    .collect()
            })
            .collect();
        Planes {
            width,
            height,
            data,
            ycocg: false,
        }
    }

    fn round_trip(original: &Planes, depth: u8, threads: usize) -> Vec<u8> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let payload = encode(&mut original.clone(), depth).unwrap();
            let mut decoded = Planes {
                data: vec![vec![0; original.width * original.height]; original.data.len()],
                ..original.clone()
            };
            decode(&mut decoded, depth, &payload).unwrap();
            assert_eq!(&decoded, original);
            payload
        })
    }

    #[test]
    fn every_plane_count_and_depth_round_trips_alike_on_one_and_several_threads() {
        for planes in 1..=4 {
            // 1100 rows: four strips.
            let original = test_planes(37, 1100, planes);
            assert_eq!(
                round_trip(&original, 8, 1),
                round_trip(&original, 8, 4),
                "{planes} planes"
            );
        }
        let mut deep = test_planes(29, 270, 3);
        deep.data
            .iter_mut()
            .flatten()
            .for_each(|v| *v = *v * 251 + (*v & 7));
        round_trip(&deep, 16, 2);
        // YCoCg chroma spans −max..=max; extremes wrap around the range.
        let mut ycocg = test_planes(41, 300, 3);
        ycocg.ycocg = true;
        ycocg.data[1]
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = if i % 7 == 0 { -255 } else { 255 - *v });
        round_trip(&ycocg, 8, 2);
    }

    #[test]
    fn the_format_is_unchanged() {
        // Files already written depend on it: the pixel loop may change only if these
        // payloads (which round-trip) stay the same.
        let rgb = test_planes(37, 600, 3);
        let mut ycocg = test_planes(41, 300, 3);
        ycocg.ycocg = true;
        ycocg.data[1].iter_mut().for_each(|v| *v -= 128);
        let mut deep = test_planes(29, 270, 2);
        deep.data
            .iter_mut()
            .flatten()
            .for_each(|v| *v = *v * 251 + (*v & 7));
        let digests: Vec<u32> = [(&rgb, 8), (&ycocg, 8), (&deep, 16)]
            .iter()
            .map(|&(planes, depth)| crc32fast::hash(&round_trip(planes, depth, 2)))
            .collect();
        assert_eq!(digests, [1_584_993_378, 2_272_529_892, 2_351_578_565]);
    }

    #[test]
    fn gamma_codes_read_back_and_overlong_ones_are_refused() {
        let mut bits = BitWriter::new();
        let values = [1u32, 2, 3, 4, 7, 8, 1000, 2049];
        values.iter().for_each(|&v| write_gamma(&mut bits, v));
        let bytes = bits.finish();
        let mut reader = BitReader::new(&bytes);
        for &v in &values {
            assert_eq!(read_gamma(&mut reader, PRECISION + 1).unwrap(), v);
        }
        let zeros = [0u8; 4];
        assert!(read_gamma(&mut BitReader::new(&zeros), PRECISION + 1).is_err());
    }

    #[test]
    fn damaged_payloads_are_errors() {
        let original = test_planes(23, 600, 3);
        let payload = round_trip(&original, 8, 2);
        let blank = || Planes {
            data: vec![vec![0; 23 * 600]; 3],
            ..original.clone()
        };
        for cut in [0, 5, payload.len() / 2, payload.len() - 1] {
            assert!(
                decode(&mut blank(), 8, &payload[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = payload.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(decode(&mut blank(), 8, &longer).is_err());
        // Flipped bits anywhere: an error or other pixels (the container's checksum catches
        // those), never a panic.
        let mut errors = 0;
        for i in (0..payload.len()).step_by(97) {
            let mut bad = payload.clone();
            bad[i] ^= 0x10;
            errors += usize::from(decode(&mut blank(), 8, &bad).is_err());
        }
        assert!(errors > 0);
    }
}

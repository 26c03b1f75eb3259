//! The fast efforts 1 and 2 of `lossless`: linear predictors fitted to the image, rANS tables,
//! a decoder that does little per sample.
//!
//! Samples are coded row by row, and within a row plane by plane (luma or green first), so
//! the inner loop works on one plane at a time:
//! 1. **Prediction.** A linear predictor over ten inputs — W, N, NW, NE, WW, NN, NNE, NEE, NNW
//!    and the median edge detector's guess — plus, from the second plane on, the residuals of
//!    the earlier planes at the same pixel. The encoder fits one set of weights per plane and
//!    gradient band (the octave of |N − NW| + |W − NW| + |NE − N|, eight bands) by least
//!    squares and sends them (1/1024 fixed point); the decoder only evaluates the integer dot
//!    product, clamped to the plane's range. The residual is taken modulo that range.
//! 2. **Context.** Effort 1: the local activity — the gradients around the sample plus the
//!    residual magnitudes at the causal neighbours and, from the second plane on, at the
//!    first plane of the same pixel; its half-octave class picks one of 32 contexts per
//!    plane. Effort 2 ([`Contexts::Trees`]): the leaf of the plane's context tree
//!    ([`super::tree`]) that the sample's properties reach: the activity, the gradients, the
//!    signed residuals around it and of the earlier planes, the local slopes, the prediction
//!    against W and its place in the range, the largest neighbouring residual.
//! 3. **Coding.** The zig-zagged residual becomes a token (values below 16 as themselves,
//!    larger ones as their octave and next bit) and raw extra bits. Effort 1 codes each
//!    context's tokens with an rANS table that starts from a discrete Laplacian of the width
//!    its class suggests and is rebuilt from the counts seen so far at doubling intervals, so
//!    encoder and decoder follow the same tables without sending any. Effort 2 sends each
//!    leaf's table, the image's own token counts scaled to 2^12, and never changes it.
//!
//! 4. **Strips.** The image is cut into strips of whole rows ([`Layout`]), each coded on its
//!    own — its own rANS stream, tables starting afresh, its first row seeing nothing above —
//!    so the strips encode and decode in parallel. Their number is a power of two, so that
//!    they share two, four or eight cores evenly. The predictor weights are fitted over all
//!    strips and shared.
//!
//! Payload: per plane in coding order, a byte whose bit `b` says that band `b` has fitted
//! weights (the others predict with the median edge detector alone), then those weights as
//! little-endian `i16`; for effort 2 a bit stream (most significant bit first, padded to a
//! byte) of every plane's tree, then every plane's leaf tables in leaf order, each token's
//! frequency plus one in Elias gamma code; then the byte length of every strip's rANS stream
//! but the last (little-endian `u32`), then the streams.
//!
//! Edge rules: a strip's first row sees only its west neighbours (every sample above is taken
//! to be W, and W itself before the first sample is mid-grey); a row above the strip's second
//! one is taken to be its first; outside the image to the left a row continues with its first
//! sample (the current row with the first sample of the row above), to the right with its
//! last. The starting table shapes are computed with IEEE basic operations in a fixed order
//! and scaled to integers, so every machine builds the same frequencies.

use rayon::prelude::*;
use tessera_core::{Error, Result};
use tessera_entropy::bits::{BitReader, BitWriter};
use tessera_entropy::model::scale_counts;
use tessera_entropy::rans::{RansDecoder, RansEncoder, SearchModel};

use super::lean::{read_frequencies, write_frequencies};
use super::tree::{signed_bin, unsigned_bin, Properties, Tree, BINS};
use super::{half_octave, med, mid_value, octave, plane_range, solve_symmetric, unzigzag, zigzag, Planes};

/// Activity contexts per plane.
const CONTEXTS: usize = 32;
/// Precision of the rANS tables.
const PRECISION: u32 = 12;
/// Zig-zagged residuals below this are tokens of their own.
const DIRECT: u32 = 16;
/// Gradient bands, each with its own predictor weights.
pub(super) const BANDS: usize = 8;
/// Predictor inputs from the plane itself: W, N, NW, NE, WW, NN, NNE, NEE, NNW, MED.
const SPATIAL: usize = 10;
/// All predictor inputs: the spatial ones and the residuals of the first two planes.
const INPUTS: usize = SPATIAL + 2;
/// Index of the median edge detector's guess among the inputs.
const MED_INPUT: usize = 9;
/// Fixed-point precision of the weights.
const WEIGHT_BITS: u32 = 10;
/// A band gets weights of its own only when it holds at least this many samples.
const MIN_FIT: u64 = 2048;
/// Padding at each end of a row buffer.
const PAD: usize = 2;
/// Most strips per image, and the fewest rows a strip has.
const STRIPS: usize = 8;
const MIN_STRIP_ROWS: usize = 256;

/// The gradient band of a gradient sum below 256 (larger sums are in the last band): its
/// octave less one. The pixel loop reads these two tables instead of computing octaves.
pub(super) const BAND_OF: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut g = 0;
    while g < 256 {
        let band = octave(g as u32).saturating_sub(1);
        table[g] = if band < BANDS { band } else { BANDS - 1 } as u8;
        g += 1;
    }
    table
};
/// The activity class of an energy below `CLASS_TABLE`.
const CLASS_TABLE: usize = 4096;
const CLASS_OF: [u8; CLASS_TABLE] = {
    let mut table = [0u8; CLASS_TABLE];
    let mut e = 0;
    while e < CLASS_TABLE {
        let class = half_octave(e as u32);
        table[e] = if class < CONTEXTS { class } else { CONTEXTS - 1 } as u8;
        e += 1;
    }
    table
};

/// The activity class of `energy` (on the 8-bit scale).
#[inline]
fn class_of(energy: u32) -> usize {
    match CLASS_OF.get(energy as usize) {
        Some(&class) => usize::from(class),
        None => half_octave(energy).min(CONTEXTS - 1),
    }
}


/// How a sample chooses its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contexts {
    /// By its activity class (effort 1).
    Activity,
    /// By the leaf it reaches in its plane's context tree, which the encoder grows and sends
    /// ([`super::tree`]; effort 2).
    Trees,
}

/// How the rows are cut into strips. Each strip's first row and fresh tables cost bits, so a
/// strip has at least `MIN_STRIP_ROWS` rows (unless the image has fewer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// As many strips as fit, up to `STRIPS`, rounded down to a power of two, of equal height
    /// but for the last: the layout written.
    Balanced,
    /// Strips of an eighth of the height: files of the earlier format, still read. A 768-row
    /// image has three strips, which keep one of two cores idle a third of the time.
    Eighths,
}

impl Layout {
    /// Rows per strip for an image (all frames) `height` rows tall.
    fn strip_rows(self, height: usize) -> usize {
        match self {
            Layout::Balanced => {
                let fit = (height / MIN_STRIP_ROWS).clamp(1, STRIPS);
                height.div_ceil(1 << fit.ilog2())
            }
            Layout::Eighths => height.div_ceil(STRIPS).max(MIN_STRIP_ROWS),
        }
    }
}

/// One strip: for every plane, its rows of that plane.
pub(super) type Strip<'a> = Vec<&'a mut [i32]>;

/// Cuts the planes into strips.
pub(super) fn strips(planes: &mut Planes, layout: Layout) -> Vec<Strip<'_>> {
    let chunk = (layout.strip_rows(planes.height) * planes.width).max(1);
    let count = planes.data.first().map_or(0, |p| p.len().div_ceil(chunk));
    let mut per_plane: Vec<_> = planes.data.iter_mut().map(|p| p.chunks_mut(chunk)).collect();
    (0..count).map(|_| per_plane.iter_mut().filter_map(Iterator::next).collect()).collect()
}

/// A plane's context tree grows from at most about this many of its samples (evenly spaced):
/// enough for any tree of `MAX_LEAVES` leaves, and a bound on the encoder's memory.
const MAX_GROWN: usize = 1 << 22;

/// Codes the planes (already colour-transformed) in strips of `layout` and returns the payload.
pub fn encode(
    planes: &mut Planes,
    bit_depth: u8,
    layout: Layout,
    contexts: Contexts,
) -> Result<Vec<u8>> {
    encode_growing(planes, bit_depth, layout, contexts, MAX_GROWN)
}

/// [`encode`], growing the trees from at most about `grown` samples per plane.
fn encode_growing(
    planes: &mut Planes,
    bit_depth: u8,
    layout: Layout,
    contexts: Contexts,
    grown: usize,
) -> Result<Vec<u8>> {
    let mut specs = specs(planes, bit_depth);
    let width = planes.width;
    let mut strips = strips(planes, layout);
    // One fitting pass per plane: a plane's inputs include the residuals of the planes
    // before it, which must come from their final weights. The strips' sums are added in
    // strip order, so the weights do not depend on the thread count.
    for rank in 0..specs.len() {
        let fitted = &specs[..=rank];
        let per_strip = strips
            .par_iter_mut()
            .map(|strip| {
                let mut fit = Fit { rank, sums: vec![Normal::default(); BANDS] };
                run(strip, width, fitted, None, &mut fit).map(|()| fit.sums)
            })
            .collect::<Result<Vec<_>>>()?;
        let spec = &mut specs[rank];
        spec.fitted = fit_bands(&per_strip, spec.inputs, MED_INPUT);
        spec.weights = weights(&spec.fitted, MED_INPUT);
    }
    let mut out = Vec::new();
    for s in &specs {
        write_weights(&mut out, &s.fitted, s.inputs);
    }
    let trees = match contexts {
        Contexts::Activity => None,
        Contexts::Trees => {
            let trees = grow_trees(&mut strips, width, &specs, grown)?;
            let mut bits = BitWriter::new();
            trees.iter().for_each(|t| t.tree.write(&mut bits));
            for t in &trees {
                t.freqs.iter().for_each(|f| write_frequencies(&mut bits, f));
            }
            out.extend_from_slice(&bits.finish());
            Some(trees)
        }
    };
    let streams = strips
        .par_iter_mut()
        .map(|strip| {
            let mut writer = Writer { enc: RansEncoder::new() };
            run(strip, width, &specs, trees.as_deref(), &mut writer).map(|()| writer.enc.finish())
        })
        .collect::<Result<Vec<_>>>()?;
    join_streams(&mut out, &streams, "fast lossless")?;
    Ok(out)
}

/// Decodes a payload written by [`encode`] (or, with [`Layout::Eighths`], by the earlier
/// format) into `planes` (sized, zero-filled).
pub fn decode(
    planes: &mut Planes,
    bit_depth: u8,
    payload: &[u8],
    layout: Layout,
    contexts: Contexts,
) -> Result<()> {
    let mut specs = specs(planes, bit_depth);
    let mut rest = payload;
    for s in &mut specs {
        s.fitted = read_weights(&mut rest, s.inputs, "fast lossless")?;
        s.weights = weights(&s.fitted, MED_INPUT);
    }
    let trees = match contexts {
        Contexts::Activity => None,
        Contexts::Trees => {
            let mut bits = BitReader::new(rest);
            let shapes = specs.iter().map(|_| Tree::read(&mut bits)).collect::<Result<Vec<_>>>()?;
            let mut trees = Vec::with_capacity(specs.len());
            for (tree, spec) in shapes.into_iter().zip(&specs) {
                let tokens = token(spec.range.max_u).0 as usize + 1;
                let freqs = (0..tree.leaves())
                    .map(|_| read_frequencies(&mut bits, tokens, PRECISION))
                    .collect::<Result<_>>()?;
                trees.push(PlaneTree { tree, freqs });
            }
            bits.align();
            rest = &rest[rest.len() - (bits.remaining() / 8) as usize..];
            Some(trees)
        }
    };
    let width = planes.width;
    let strips = strips(planes, layout);
    let streams = split_streams(rest, strips.len(), "fast lossless")?;
    strips.into_par_iter().zip(streams).try_for_each(|(mut strip, stream)| {
        let dec = RansDecoder::new(stream).map_err(|_| Error::Truncated("fast lossless stream".into()))?;
        let mut reader = Reader { dec };
        run(&mut strip, width, &specs, trees.as_deref(), &mut reader)?;
        reader.dec.finish().map_err(|_| Error::corrupt("fast lossless stream does not end where it should"))
    })
}

/// What the pixel loop needs of a plane.
#[derive(Clone, Copy, Debug)]
struct Spec {
    range: PlaneRange,
    /// Inputs this plane's predictor uses: the spatial ones and one residual per earlier
    /// plane, at most two.
    inputs: usize,
    /// The weights sent for each band, if any.
    fitted: [Option<[i16; INPUTS]>; BANDS],
    /// The weights used: the fitted ones, or the median edge detector alone.
    weights: [[i32; INPUTS]; BANDS],
}

/// The planes in coding order with their ranges and this coder's predictor inputs.
fn specs(planes: &Planes, bit_depth: u8) -> Vec<Spec> {
    coding_order(planes, bit_depth)
        .into_iter()
        .enumerate()
        .map(|(rank, range)| Spec {
            range,
            inputs: SPATIAL + rank.min(2),
            fitted: [None; BANDS],
            weights: weights(&[None; BANDS], MED_INPUT),
        })
        .collect()
}

/// A plane's place and range, as both fast efforts code it.
#[derive(Clone, Copy, Debug)]
pub(super) struct PlaneRange {
    /// Index of the plane in `Planes::data`.
    pub(super) plane: usize,
    pub(super) lo: i32,
    pub(super) hi: i32,
    pub(super) mid: i32,
    /// Right shift that brings 16-bit magnitudes to the 8-bit scale of the contexts.
    pub(super) shift: u32,
    /// Largest zig-zagged residual the plane can produce.
    pub(super) max_u: u32,
}

impl PlaneRange {
    /// The dot product of `inputs` and fixed-point `weights`, rounded and clamped to the plane's
    /// range; `WIDE` computes it in 64 bits (16-bit samples), 8-bit ones keep it within `i32`.
    #[inline(always)]
    pub(super) fn predict<const N: usize, const WIDE: bool>(&self, inputs: &[i32; N], weights: &[i32; N]) -> i32 {
        if WIDE {
            let dot: i64 = inputs.iter().zip(weights).map(|(&f, &w)| i64::from(f) * i64::from(w)).sum();
            ((dot + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS).max(i64::from(self.lo)).min(i64::from(self.hi)) as i32
        } else {
            let dot: i32 = inputs.iter().zip(weights).map(|(&f, &w)| f * w).sum();
            ((dot + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS).max(self.lo).min(self.hi)
        }
    }

    /// The residual `r` wrapped into the plane's range, around zero.
    #[inline(always)]
    pub(super) fn wrap(&self, r: i32) -> i32 {
        let range = self.hi - self.lo + 1;
        let half = range / 2;
        if r < -half {
            r + range
        } else if r > range - 1 - half {
            r - range
        } else {
            r
        }
    }

    /// A prediction plus a wrapped residual, brought back into the plane's range.
    #[inline(always)]
    pub(super) fn unwrap(&self, v: i32) -> i32 {
        let range = self.hi - self.lo + 1;
        if v < self.lo {
            v + range
        } else if v > self.hi {
            v - range
        } else {
            v
        }
    }
}

/// The planes in coding order (green or luma first) with their ranges.
pub(super) fn coding_order(planes: &Planes, bit_depth: u8) -> Vec<PlaneRange> {
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
            PlaneRange {
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

/// The weights a plane predicts with, band by band: the fitted ones, or input `med` (the
/// median edge detector) alone.
pub(super) fn weights<const N: usize>(fitted: &[Option<[i16; N]>; BANDS], med: usize) -> [[i32; N]; BANDS] {
    let mut out = [[0i32; N]; BANDS];
    for (band, fitted) in out.iter_mut().zip(fitted) {
        match fitted {
            Some(w) => band.iter_mut().zip(w).for_each(|(o, &w)| *o = i32::from(w)),
            None => band[med] = 1 << WEIGHT_BITS,
        }
    }
    out
}

/// Writes a plane's weights: a byte whose bit `b` says that band `b` has fitted weights, then
/// the first `n` of each as little-endian `i16`.
pub(super) fn write_weights<const N: usize>(out: &mut Vec<u8>, fitted: &[Option<[i16; N]>; BANDS], n: usize) {
    out.push(fitted.iter().enumerate().fold(0u8, |m, (b, f)| m | (u8::from(f.is_some()) << b)));
    for band in fitted.iter().flatten() {
        band[..n].iter().for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
    }
}

/// Reads what [`write_weights`] wrote from the front of `rest`, advancing it.
pub(super) fn read_weights<const N: usize>(rest: &mut &[u8], n: usize, what: &str) -> Result<[Option<[i16; N]>; BANDS]> {
    let truncated = || Error::Truncated(format!("{what} weights"));
    let (&mask, mut data) = rest.split_first().ok_or_else(truncated)?;
    let mut fitted = [None; BANDS];
    for (b, fitted) in fitted.iter_mut().enumerate() {
        if mask >> b & 1 == 1 {
            let (bytes, after) = data.split_at_checked(2 * n).ok_or_else(truncated)?;
            let mut w = [0i16; N];
            w.iter_mut().zip(bytes.chunks_exact(2)).for_each(|(w, c)| *w = i16::from_le_bytes([c[0], c[1]]));
            *fitted = Some(w);
            data = after;
        }
    }
    *rest = data;
    Ok(fitted)
}

/// Appends the byte length of every strip's stream but the last (little-endian `u32`), then the
/// streams.
pub(super) fn join_streams(out: &mut Vec<u8>, streams: &[Vec<u8>], what: &str) -> Result<()> {
    for stream in &streams[..streams.len().saturating_sub(1)] {
        let length = u32::try_from(stream.len()).map_err(|_| Error::InvalidParam(format!("{what} strip over 4 GiB")))?;
        out.extend_from_slice(&length.to_le_bytes());
    }
    streams.iter().for_each(|stream| out.extend_from_slice(stream));
    Ok(())
}

/// Cuts what [`join_streams`] wrote into `count` streams.
pub(super) fn split_streams<'a>(rest: &'a [u8], count: usize, what: &str) -> Result<Vec<&'a [u8]>> {
    let lengths_size = 4 * count.saturating_sub(1);
    let (lengths, mut data) = rest.split_at_checked(lengths_size).ok_or_else(|| Error::Truncated(format!("{what} strip lengths")))?;
    let mut streams = Vec::with_capacity(count);
    for length in lengths.chunks_exact(4) {
        let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]) as usize;
        let (stream, after) = data.split_at_checked(length).ok_or_else(|| Error::Truncated(format!("{what} strip")))?;
        streams.push(stream);
        data = after;
    }
    streams.push(data);
    Ok(streams)
}

/// What the pixel loop drives: the fitting passes, the encoder or the decoder.
trait Coder {
    /// Sees the inputs of a sample of plane `rank` in `band` and its true value (the
    /// decoder's is meaningless).
    #[inline]
    fn observe(&mut self, _rank: usize, _band: usize, _inputs: &[i32; INPUTS], _value: i32) {}
    /// Codes zig-zagged residual `u` under `table` and returns it, or decodes one.
    fn code(&mut self, table: &mut Table, u: u32) -> Result<u32>;
    /// Whether the pixel loop computes the tree properties of every sample even without trees.
    const PROPERTIES: bool = false;
    /// Sees the properties of a sample of plane `rank` and its zig-zagged residual (only when
    /// the loop computes properties).
    #[inline]
    fn record(&mut self, _rank: usize, _properties: &Properties, _u: u32) {}
}

/// The pass that gathers the properties and token of every `stride`-th sample of each plane,
/// for the trees.
struct Collect {
    samples: Vec<Vec<(Properties, u8)>>,
    stride: usize,
    /// Samples to pass over before the next one kept, per plane (a countdown rather than a
    /// remainder: this runs for every sample).
    skip: Vec<usize>,
}

impl Coder for Collect {
    const PROPERTIES: bool = true;
    #[inline]
    fn code(&mut self, _table: &mut Table, u: u32) -> Result<u32> {
        Ok(u)
    }
    #[inline]
    fn record(&mut self, rank: usize, properties: &Properties, u: u32) {
        if self.skip[rank] == 0 {
            self.samples[rank].push((*properties, token(u).0 as u8));
            self.skip[rank] = self.stride;
        }
        self.skip[rank] -= 1;
    }
}

/// A plane's context tree and the frequencies of its leaves' static tables (summing to
/// 2^`PRECISION` each).
struct PlaneTree {
    tree: Tree,
    freqs: Vec<Vec<u32>>,
}

/// Grows every plane's context tree from the samples of all strips (in strip order), every one
/// or, past `grown` samples a plane, evenly spaced ones; counts the tokens of each leaf for its
/// table. The counts of spaced samples may miss tokens, so then every token counts once more.
fn grow_trees(
    strips: &mut [Strip<'_>],
    width: usize,
    specs: &[Spec],
    grown: usize,
) -> Result<Vec<PlaneTree>> {
    let samples: usize = strips.iter().map(|s| s.first().map_or(0, |p| p.len())).sum();
    let stride = samples.div_ceil(grown.max(1)).max(1);
    let per_strip = strips
        .par_iter_mut()
        .map(|strip| {
            let (samples, skip) = (vec![Vec::new(); specs.len()], vec![0; specs.len()]);
            let mut collect = Collect { samples, stride, skip };
            run(strip, width, specs, None, &mut collect).map(|()| collect.samples)
        })
        .collect::<Result<Vec<_>>>()?;
    (0..specs.len())
        .into_par_iter()
        .map(|rank| {
            let samples: Vec<(Properties, u8)> =
                per_strip.iter().flat_map(|s| s[rank].iter().copied()).collect();
            let tokens = token(specs[rank].range.max_u).0 as usize + 1;
            let tree = Tree::grow(&samples, tokens);
            let mut counts = vec![vec![0u64; tokens]; tree.leaves()];
            samples.iter().for_each(|(p, t)| counts[tree.leaf(p)][usize::from(*t)] += 1);
            if stride > 1 {
                counts.iter_mut().flatten().for_each(|c| *c += 1);
            }
            // (A grown tree has no empty leaf; one would get a table of token 0 alone.)
            counts.iter_mut().filter(|c| c.iter().all(|&c| c == 0)).for_each(|c| c[0] = 1);
            let freqs = counts
                .iter()
                .map(|c| scale_counts(c, 1 << PRECISION))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(table_error)?;
            Ok(PlaneTree { tree, freqs })
        })
        .collect::<Result<Vec<_>>>()
}

/// A fitting pass: gathers the least-squares normal equations of plane `rank`, band by band.
struct Fit {
    rank: usize,
    sums: Vec<Normal<INPUTS>>,
}

impl Coder for Fit {
    #[inline]
    fn observe(&mut self, rank: usize, band: usize, inputs: &[i32; INPUTS], value: i32) {
        if rank == self.rank {
            self.sums[band].add(inputs, value);
        }
    }
    #[inline]
    fn code(&mut self, _table: &mut Table, u: u32) -> Result<u32> {
        Ok(u)
    }
}

/// The normal equations of a least-squares fit over `N` inputs: XᵀX, Xᵀy and the number of
/// rows.
#[derive(Clone)]
pub(super) struct Normal<const N: usize> {
    xx: [[f64; N]; N],
    xy: [f64; N],
    pub(super) count: u64,
}

impl<const N: usize> Default for Normal<N> {
    fn default() -> Self {
        Normal { xx: [[0.0; N]; N], xy: [0.0; N], count: 0 }
    }
}

impl<const N: usize> Normal<N> {
    pub(super) fn add(&mut self, inputs: &[i32; N], value: i32) {
        let f = inputs.map(f64::from);
        for i in 0..N {
            for j in i..N {
                self.xx[i][j] += f[i] * f[j];
            }
            self.xy[i] += f[i] * f64::from(value);
        }
        self.count += 1;
    }

    /// Adds another set of sums to these.
    pub(super) fn merge(&mut self, other: &Normal<N>) {
        for (row, other) in self.xx.iter_mut().zip(&other.xx) {
            row.iter_mut().zip(other).for_each(|(a, b)| *a += b);
        }
        self.xy.iter_mut().zip(&other.xy).for_each(|(a, b)| *a += b);
        self.count += other.count;
    }

    /// Solves for the first `n` weights (with a small ridge, so flat bands stay well posed)
    /// and rounds them to fixed point; falls back to input `fallback` alone (the median edge
    /// detector) if the system is singular.
    pub(super) fn solve(&self, n: usize, fallback: usize) -> [i16; N] {
        let mut out = [0i16; N];
        let scale = (0..n).map(|i| self.xx[i][i]).sum::<f64>() / n as f64;
        match (scale > 0.0).then(|| solve_symmetric(&self.xx, &self.xy, n, 1e-6 * scale)).flatten() {
            Some(w) => {
                for (o, w) in out.iter_mut().zip(w) {
                    *o = (w * f64::from(1u32 << WEIGHT_BITS)).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
                }
            }
            None => out[fallback] = 1 << WEIGHT_BITS,
        }
        out
    }
}

/// Adds the strips' sums band by band, in strip order (so the weights do not depend on the
/// thread count), and solves every band that holds at least `MIN_FIT` samples for its first `n`
/// weights; the other bands get none.
pub(super) fn fit_bands<const N: usize>(per_strip: &[Vec<Normal<N>>], n: usize, fallback: usize) -> [Option<[i16; N]>; BANDS] {
    let mut sums = vec![Normal::default(); BANDS];
    for strip in per_strip {
        sums.iter_mut().zip(strip).for_each(|(total, part)| total.merge(part));
    }
    let mut fitted = [None; BANDS];
    for (fitted, normal) in fitted.iter_mut().zip(&sums) {
        *fitted = (normal.count >= MIN_FIT).then(|| normal.solve(n, fallback));
    }
    fitted
}

/// The encoder: queues each token and its extra bits under its context's current table.
struct Writer {
    enc: RansEncoder,
}

impl Coder for Writer {
    #[inline(always)]
    fn code(&mut self, table: &mut Table, u: u32) -> Result<u32> {
        let (t, extra, bits) = token(u);
        self.enc.encode(&table.model, t as usize).map_err(|e| Error::InvalidParam(format!("fast lossless: {e}")))?;
        self.enc.encode_bits(extra, bits);
        table.learn(t as usize)?;
        Ok(u)
    }
}

struct Reader<'a> {
    dec: RansDecoder<'a>,
}

impl Coder for Reader<'_> {
    #[inline(always)]
    fn code(&mut self, table: &mut Table, _u: u32) -> Result<u32> {
        let t = self.dec.decode(&table.model).map_err(|_| Error::Truncated("fast lossless stream".into()))?;
        let bits = extra_bits(t as u32);
        let extra = self.dec.decode_bits(bits).map_err(|_| Error::Truncated("fast lossless stream".into()))?;
        table.learn(t)?;
        Ok(untoken(t as u32, extra))
    }
}

/// One plane's state in the pixel loop.
struct PlaneState {
    spec: Spec,
    /// The rows two above, one above and the current one, `width + 2·PAD` values each.
    rows: [Vec<i32>; 3],
    /// Residual magnitudes of the row above and the current one, laid out as `rows`.
    errors: [Vec<u32>; 2],
    /// The signed residuals, laid out the same way (kept only for the tree properties).
    signed: [Vec<i32>; 2],
    /// The plane's context tree, if it has one; its leaves index `tables`.
    tree: Option<Tree>,
    tables: Vec<Table>,
}

/// The pixel loop over one strip, shared by the fitting passes, the encoder and the decoder:
/// row by row, plane by plane within a row. The encoder reads each sample from `strip`; the
/// decoder writes each finished row into it.
fn run<C: Coder>(
    strip: &mut [&mut [i32]],
    w: usize,
    specs: &[Spec],
    trees: Option<&[PlaneTree]>,
    coder: &mut C,
) -> Result<()> {
    let h = strip.first().map_or(0, |p| p.len() / w.max(1));
    let stride = w + 2 * PAD;
    let with_properties = trees.is_some() || C::PROPERTIES;
    let mut states = specs
        .iter()
        .enumerate()
        .map(|(rank, &spec)| {
            let planetree = trees.and_then(|t| t.get(rank));
            let tables = match planetree {
                Some(t) => t.freqs.iter().map(|f| Table::fixed(f)).collect::<Result<_>>()?,
                None => (0..CONTEXTS).map(|c| Table::new(&spec, c)).collect::<Result<_>>()?,
            };
            let tree = planetree.map(|t| t.tree.clone());
            let signed_rows = if with_properties { stride } else { 0 };
            Ok(PlaneState {
                spec,
                rows: [vec![0; stride], vec![0; stride], vec![0; stride]],
                errors: [vec![0; stride], vec![0; stride]],
                signed: [vec![0; signed_rows], vec![0; signed_rows]],
                tree,
                tables,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Signed residuals of the first two planes in the current row, and the first plane's
    // magnitudes; zeros stand in for planes that have none. Later planes write theirs to
    // spare rows that nothing reads.
    let mut residuals = [vec![0i32; w], vec![0i32; w], vec![0i32; w]];
    let (mut first_errors, mut spare_errors) = (vec![0u32; w], vec![0u32; w]);
    let none = vec![0i32; w];
    let no_errors = vec![0u32; w];
    for y in 0..h {
        let row = y * w;
        for (rank, st) in states.iter_mut().enumerate() {
            st.rows.rotate_left(1);
            st.errors.swap(0, 1);
            st.signed.swap(0, 1);
            if y == 1 {
                // The row two above the second row is the first one.
                st.rows[0] = st.rows[1].clone();
            }
            let left = if y == 0 { st.spec.range.mid } else { st.rows[1][PAD] };
            st.rows[2][..PAD].fill(left);
            st.errors[1][PAD - 1] = st.errors[0][PAD];
            if with_properties {
                st.signed[1][PAD - 1] = st.signed[0][PAD];
            }
            let source = &strip[st.spec.range.plane][row..row + w];
            let (earlier, later) = residuals.split_at_mut(rank.min(2));
            let r0 = if rank >= 1 { &earlier[0][..] } else { &none[..] };
            let r1 = if rank >= 2 { &earlier[1][..] } else { &none[..] };
            let (e0, errors) =
                if rank == 0 { (&no_errors[..], &mut first_errors[..]) } else { (&first_errors[..], &mut spare_errors[..]) };
            let inputs = Inputs { r0, r1, e0 };
            let outputs = Outputs { residuals: &mut later[0], errors };
            // 8-bit samples, residuals and 16-bit weights keep the dot product within i32.
            let (t, args) = (with_properties, (rank, source, inputs, outputs));
            match (y == 0, st.spec.range.shift > 0) {
                (true, false) => code_row_any::<C, true, false>(st, args, t, coder)?,
                (false, false) => code_row_any::<C, false, false>(st, args, t, coder)?,
                (true, true) => code_row_any::<C, true, true>(st, args, t, coder)?,
                (false, true) => code_row_any::<C, false, true>(st, args, t, coder)?,
            }
            // Outside the image, a finished row continues with its first and last samples.
            let cur = &mut st.rows[2];
            let (first, last) = (cur[PAD], cur[PAD + w - 1]);
            cur[..PAD].fill(first);
            cur[PAD + w..].fill(last);
            let e = &mut st.errors[1];
            let (first, last) = (e[PAD], e[PAD + w - 1]);
            e[PAD - 1] = first;
            e[PAD + w] = last;
            if with_properties {
                let e = &mut st.signed[1];
                let (first, last) = (e[PAD], e[PAD + w - 1]);
                e[PAD - 1] = first;
                e[PAD + w] = last;
            }
        }
        for st in &states {
            strip[st.spec.range.plane][row..row + w].copy_from_slice(&st.rows[2][PAD..PAD + w]);
        }
    }
    Ok(())
}

/// What a plane's row reads of the earlier planes at the same pixels.
struct Inputs<'a> {
    /// Residuals of the first and second planes (zeros when there are none).
    r0: &'a [i32],
    r1: &'a [i32],
    /// Residual magnitudes of the first plane (zeros for the first plane itself).
    e0: &'a [u32],
}

/// What a plane's row leaves for the later planes: its signed residuals and their magnitudes.
struct Outputs<'a> {
    residuals: &'a mut [i32],
    errors: &'a mut [u32],
}

/// [`code_row`] with `TREE` chosen at run time.
#[inline(always)]
fn code_row_any<C: Coder, const FIRST: bool, const WIDE: bool>(
    st: &mut PlaneState,
    (rank, source, inputs, outputs): (usize, &[i32], Inputs<'_>, Outputs<'_>),
    tree: bool,
    coder: &mut C,
) -> Result<()> {
    if tree {
        code_row::<C, FIRST, WIDE, true>(st, rank, source, inputs, outputs, coder)
    } else {
        code_row::<C, FIRST, WIDE, false>(st, rank, source, inputs, outputs, coder)
    }
}

/// Codes one row of one plane. `FIRST` is the strip's first row, which has nothing above;
/// `WIDE` computes the prediction in 64 bits (16-bit samples); `TREE` computes the tree
/// properties of each sample and takes its table from the plane's tree, if it has one.
#[inline(always)]
fn code_row<C: Coder, const FIRST: bool, const WIDE: bool, const TREE: bool>(
    st: &mut PlaneState,
    rank: usize,
    source: &[i32],
    inputs: Inputs<'_>,
    outputs: Outputs<'_>,
    coder: &mut C,
) -> Result<()> {
    let w = source.len();
    let (s, weights) = (st.spec.range, st.spec.weights);
    let [above2, above, cur] = &mut st.rows;
    let (above2, above, cur) = (&above2[..w + 2 * PAD], &above[..w + 2 * PAD], &mut cur[..w + 2 * PAD]);
    let [e_above, e_cur] = &mut st.errors;
    let (e_above, e_cur) = (&e_above[..w + 2 * PAD], &mut e_cur[..w + 2 * PAD]);
    let (r0, r1, e0) = (&inputs.r0[..w], &inputs.r1[..w], &inputs.e0[..w]);
    let (out_residuals, out_errors) = (&mut outputs.residuals[..w], &mut outputs.errors[..w]);
    let tables = &mut st.tables[..];
    let tree = st.tree.as_ref();
    let [s_above, s_cur] = &mut st.signed;
    let signed_width = if TREE { w + 2 * PAD } else { 0 };
    let (s_above, s_cur) = (&s_above[..signed_width], &mut s_cur[..signed_width]);
    // The prediction's place in the plane's range, in `BINS` steps: (predicted − lo) · scale.
    let value_scale = ((BINS as u64) << 32) / (s.hi - s.lo + 1) as u64;
    // The two samples to the west and the west residual, carried from sample to sample.
    let (mut ww, mut west, mut e_w) = (cur[PAD - 2], cur[PAD - 1], e_cur[PAD - 1]);
    let mut r_w = if TREE { s_cur[PAD - 1] } else { 0 };
    for x in 0..w {
        let k = x + PAD;
        let (n, nw, ne, nee, nn, nnw, nne) = if FIRST {
            (west, west, west, west, west, west, west)
        } else {
            (above[k], above[k - 1], above[k + 1], above[k + 2], above2[k], above2[k - 1], above2[k + 1])
        };
        let gradients = (n - nw).unsigned_abs() + (west - nw).unsigned_abs() + (ne - n).unsigned_abs();
        let band = usize::from(BAND_OF[(gradients >> s.shift).min(255) as usize]);
        let features = [west, n, nw, ne, ww, nn, nne, nee, nnw, med(west, n, nw), r0[x], r1[x]];
        let predicted = s.predict::<INPUTS, WIDE>(&features, &weights[band]);
        let value = source[x];
        coder.observe(rank, band, &features, value);
        // Activity: local gradients plus the residual sizes around this sample, the west one
        // weighted most, and the first plane's residual at this pixel.
        // (Above the first row the residual buffer holds zeros.)
        let (e_n, e_ne, e_nw) = (e_above[k], e_above[k + 1], e_above[k - 1]);
        let energy = gradients + 3 * e_w + 2 * e_n + e_ne + e_nw + 2 * e0[x];
        let mut properties = [0u8; super::tree::PROPERTIES];
        let class = if TREE {
            let sh = s.shift;
            let (r_n, r_ne, r_nw) = (s_above[k], s_above[k + 1], s_above[k - 1]);
            let place = (((predicted - s.lo) as u64 * value_scale) >> 32).min(BINS as u64 - 1) as u8;
            properties = [
                unsigned_bin(energy >> sh),
                unsigned_bin(gradients >> sh),
                signed_bin(r_w >> sh),
                signed_bin(r_n >> sh),
                signed_bin(r0[x] >> sh),
                signed_bin((n - west) >> sh),
                signed_bin((west - nw) >> sh),
                signed_bin((ne - n) >> sh),
                signed_bin((predicted - west) >> sh),
                place,
                signed_bin((r_ne + r_nw) >> sh),
                signed_bin(r1[x] >> sh),
                unsigned_bin(e_w.max(e_n).max(e_ne).max(e_nw) >> sh),
                signed_bin((r_w + r_n) >> sh),
            ];
            match tree {
                Some(tree) => tree.leaf(&properties),
                None => class_of(energy >> sh),
            }
        } else {
            class_of(energy >> s.shift)
        };
        let table = tables.get_mut(class).ok_or_else(|| Error::corrupt("fast lossless context"))?;
        let u = coder.code(table, zigzag(s.wrap(value - predicted)))?;
        if u > s.max_u {
            return Err(Error::corrupt("fast lossless residual out of range"));
        }
        if TREE {
            coder.record(rank, &properties, u);
        }
        let r = unzigzag(u);
        let v = s.unwrap(predicted + r);
        cur[k] = v;
        let magnitude = r.unsigned_abs();
        e_cur[k] = magnitude;
        if TREE {
            s_cur[k] = r;
            r_w = r;
        }
        out_residuals[x] = r;
        out_errors[x] = magnitude;
        (ww, west, e_w) = (west, v, magnitude);
    }
    Ok(())
}

/// A zig-zagged residual as (token, extra bits, number of extra bits).
#[inline]
pub(super) fn token(u: u32) -> (u32, u32, u32) {
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
pub(super) fn extra_bits(t: u32) -> u32 {
    if t < DIRECT {
        0
    } else {
        (t - DIRECT) / 2 + 3
    }
}

/// The inverse of [`token`].
#[inline]
pub(super) fn untoken(t: u32, extra: u32) -> u32 {
    if t < DIRECT {
        t
    } else {
        let octave = (t - DIRECT) / 2 + 4;
        (1 << octave) | (((t - DIRECT) & 1) << (octave - 1)) | extra
    }
}

/// One context's rANS table. An adaptive one keeps token counts and rebuilds its model from
/// them at doubling intervals (then every `MAX_INTERVAL` tokens), halving the counts now and
/// then so the table follows the image; a fixed one (sent with the image) never changes.
struct Table {
    adaptive: bool,
    counts: Vec<u64>,
    /// Tokens until the next rebuild, and the interval it starts.
    left: u32,
    interval: u32,
    model: SearchModel,
}

/// A count table the rANS model refuses, as this codec's error.
fn table_error(e: tessera_entropy::Error) -> Error {
    Error::InvalidParam(format!("fast lossless table: {e}"))
}

/// First rebuild after this many tokens; the interval doubles up to `MAX_INTERVAL`.
const FIRST_INTERVAL: u32 = 32;
const MAX_INTERVAL: u32 = 2048;
/// Counts are halved when their total passes this.
const MAX_TOTAL: u64 = 1 << 13;
/// Weight of the starting shape, in counts.
const PRIOR_WEIGHT: f64 = 24.0;

impl Table {
    /// A table for plane `spec`'s residuals in activity class `class`, starting from a discrete
    /// Laplacian of about the width the class suggests.
    fn new(spec: &Spec, class: usize) -> Result<Table> {
        let tokens = token(spec.range.max_u).0 as usize + 1;
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
        for u in 0..=spec.range.max_u {
            // |e| rises by one at every odd u (0, −1, 1, −2, 2, …).
            if u % 2 == 1 {
                level *= r;
            }
            mass[token(u).0 as usize] += level;
            sum += level;
        }
        // Every token keeps a count of at least one, so any residual can be coded.
        let counts: Vec<u64> = mass.iter().map(|&m| (m / sum * PRIOR_WEIGHT).round() as u64 + 1).collect();
        let model = Self::model(&counts)?;
        Ok(Table { adaptive: true, counts, left: FIRST_INTERVAL, interval: FIRST_INTERVAL, model })
    }

    /// A fixed table of these frequencies.
    fn fixed(freqs: &[u32]) -> Result<Table> {
        let counts: Vec<u64> = freqs.iter().map(|&f| u64::from(f)).collect();
        let model = Self::model(&counts)?;
        Ok(Table { adaptive: false, counts: Vec::new(), left: 0, interval: 0, model })
    }

    fn model(counts: &[u64]) -> Result<SearchModel> {
        SearchModel::from_counts(counts, PRECISION).map_err(table_error)
    }

    /// Counts token `t` and rebuilds the model when its interval is up.
    #[inline]
    fn learn(&mut self, t: usize) -> Result<()> {
        if !self.adaptive {
            return Ok(());
        }
        self.counts[t] += 1;
        self.left -= 1;
        if self.left == 0 {
            self.rebuild()?;
        }
        Ok(())
    }

    /// Rebuilds the model from the counts, halving them first when their total is large.
    #[cold]
    fn rebuild(&mut self) -> Result<()> {
        if self.counts.iter().sum::<u64>() > MAX_TOTAL {
            self.counts.iter_mut().for_each(|c| *c = (*c + 1) / 2);
        }
        self.model.refit(&self.counts).map_err(table_error)?;
        self.interval = (2 * self.interval).min(MAX_INTERVAL);
        self.left = self.interval;
        Ok(())
    }
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

    /// The next 16 bits of a linear congruential sequence.
    fn random(seed: &mut u32) -> i32 {
        *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (*seed >> 16) as i32
    }

    #[test]
    fn least_squares_recovers_a_linear_rule() {
        // value = (3·W + N) / 4 exactly, over inputs that vary independently.
        let mut normal = Normal::<INPUTS>::default();
        let mut seed = 7u32;
        let mut next = || random(&mut seed) % 64;
        for _ in 0..5000 {
            let mut inputs = [0i32; INPUTS];
            inputs.iter_mut().for_each(|v| *v = next());
            inputs[0] *= 4;
            inputs[1] *= 4;
            normal.add(&inputs, (3 * inputs[0] + inputs[1]) / 4);
        }
        let w = normal.solve(SPATIAL, MED_INPUT);
        assert!((i32::from(w[0]) - 768).abs() <= 1 && (i32::from(w[1]) - 256).abs() <= 1, "{w:?}");
        assert!(w[2..SPATIAL].iter().all(|&v| v.abs() <= 1), "{w:?}");
        // A band with no information falls back to the median edge detector.
        let mut med_only = [0i16; INPUTS];
        med_only[MED_INPUT] = 1 << WEIGHT_BITS;
        assert_eq!(Normal::<INPUTS>::default().solve(SPATIAL, MED_INPUT), med_only);
    }

    /// A noisy gradient, `planes` planes of `width` × `height`.
    fn test_planes(width: usize, height: usize, planes: usize) -> Planes {
        let mut seed = 11u32;
        let data = (0..planes)
            .map(|p| {
                (0..width * height)
                    .map(|i| ((i % width + i / width + 40 * p) as i32 + (random(&mut seed) >> 12)) % 256)
                    .collect()
            })
            .collect();
        Planes { width, height, data, ycocg: false }
    }

    fn round_trip(original: &Planes, threads: usize, layout: Layout, contexts: Contexts) -> (Vec<u8>, Planes) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let payload = encode(&mut original.clone(), 8, layout, contexts).unwrap();
            let mut decoded = Planes { data: vec![vec![0; original.width * original.height]; original.data.len()], ..original.clone() };
            decode(&mut decoded, 8, &payload, layout, contexts).unwrap();
            (payload, decoded)
        })
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
        deep.data.iter_mut().flatten().for_each(|v| *v = *v * 251 + (*v & 7));
        let cases = [(&rgb, 8, Layout::Balanced), (&ycocg, 8, Layout::Eighths), (&deep, 16, Layout::Balanced)];
        let digests: Vec<u32> = cases
            .iter()
            .map(|&(planes, depth, layout)| {
                let payload = encode(&mut planes.clone(), depth, layout, Contexts::Activity).unwrap();
                let mut decoded = Planes { data: vec![vec![0; planes.width * planes.height]; planes.data.len()], ..planes.clone() };
                decode(&mut decoded, depth, &payload, layout, Contexts::Activity).unwrap();
                assert_eq!(&decoded, planes);
                crc32fast::hash(&payload)
            })
            .collect();
        assert_eq!(digests, [1_689_594_713, 1_329_072_749, 3_348_482_718]);
    }

    #[test]
    fn strips_code_alike_on_one_and_on_several_threads() {
        // 1100 rows: four strips of 275 rows.
        let original = test_planes(37, 1100, 3);
        assert_eq!(original.height.div_ceil(Layout::Balanced.strip_rows(original.height)), 4);
        for contexts in [Contexts::Activity, Contexts::Trees] {
            let (one, decoded_one) = round_trip(&original, 1, Layout::Balanced, contexts);
            let (four, decoded_four) = round_trip(&original, 4, Layout::Balanced, contexts);
            assert_eq!(one, four, "the payload depends on the thread count");
            assert_eq!(decoded_one, original);
            assert_eq!(decoded_four, original);
        }
    }

    #[test]
    fn trees_split_what_one_rule_cannot_and_their_format_is_unchanged() {
        // Left half smooth, right half noisy: the tree separates them, and the trees' files
        // are smaller than the activity classes' ones.
        let mut seed = 5u32;
        let (w, h) = (64, 600);
        let data = (0..3)
            .map(|p| {
                (0..w * h)
                    .map(|i| {
                        let (x, y) = (i % w, i / w);
                        let mask = if x < w / 2 { 1 } else { 63 };
                        let noise = random(&mut seed) & mask;
                        ((x + 2 * y + 30 * p) as i32 + noise) % 256
                    })
                    .collect()
            })
            .collect();
        let original = Planes { width: w, height: h, data, ycocg: false };
        let (trees, decoded) = round_trip(&original, 2, Layout::Balanced, Contexts::Trees);
        assert_eq!(decoded, original);
        let (activity, _) = round_trip(&original, 2, Layout::Balanced, Contexts::Activity);
        assert!(trees.len() < activity.len(), "{} against {}", trees.len(), activity.len());
        // Trees grown from every 13th sample still code every residual.
        let spaced =
            encode_growing(&mut original.clone(), 8, Layout::Balanced, Contexts::Trees, 3000).unwrap();
        let mut decoded = Planes { data: vec![vec![0; w * h]; 3], ..original.clone() };
        decode(&mut decoded, 8, &spaced, Layout::Balanced, Contexts::Trees).unwrap();
        assert_eq!(decoded, original);
        assert_ne!(spaced, trees);
        // Files already written depend on it.
        let mut deep = test_planes(29, 270, 2);
        deep.data.iter_mut().flatten().for_each(|v| *v = *v * 251 + (*v & 7));
        let (deep_payload, deep_decoded) = {
            let payload = encode(&mut deep.clone(), 16, Layout::Balanced, Contexts::Trees).unwrap();
            let mut decoded = Planes { data: vec![vec![0; 29 * 270]; 2], ..deep.clone() };
            decode(&mut decoded, 16, &payload, Layout::Balanced, Contexts::Trees).unwrap();
            (payload, decoded)
        };
        assert_eq!(deep_decoded, deep);
        let digests = [crc32fast::hash(&trees), crc32fast::hash(&deep_payload)];
        assert_eq!(digests, [441_950_812, 1_899_858_941]);
    }

    #[test]
    fn damaged_trees_and_tables_are_errors() {
        let original = test_planes(23, 300, 3);
        let (payload, _) = round_trip(&original, 1, Layout::Balanced, Contexts::Trees);
        let decode_with = |payload: &[u8]| {
            let mut decoded = Planes { data: vec![vec![0; 23 * 300]; 3], ..original.clone() };
            decode(&mut decoded, 8, payload, Layout::Balanced, Contexts::Trees).map(|()| decoded)
        };
        // Every cut is an error; a flipped byte of the head (weights, trees, tables) never
        // panics (the container's checksum is what catches it).
        for cut in (0..payload.len()).step_by(7) {
            assert!(decode_with(&payload[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..payload.len().min(400) {
            let mut bad = payload.clone();
            bad[at] ^= 0x5a;
            let _ = decode_with(&bad);
        }
    }

    #[test]
    fn strip_counts_are_powers_of_two_and_the_earlier_layout_still_decodes() {
        let count = |layout: Layout, h: usize| h.div_ceil(layout.strip_rows(h));
        for (h, balanced, eighths) in [(1, 1, 1), (255, 1, 1), (512, 2, 2), (768, 2, 3), (1100, 4, 5), (2100, 8, 8), (9000, 8, 8)] {
            assert_eq!((count(Layout::Balanced, h), count(Layout::Eighths, h)), (balanced, eighths), "{h} rows");
        }
        let original = test_planes(9, 768, 3);
        let (eighths, decoded) = round_trip(&original, 2, Layout::Eighths, Contexts::Activity);
        assert_eq!(decoded, original);
        let (balanced, _) = round_trip(&original, 2, Layout::Balanced, Contexts::Activity);
        assert_ne!(eighths, balanced);
        // Read with the other layout, the streams are cut in the wrong places.
        let mut wrong = Planes { data: vec![vec![0; 9 * 768]; 3], ..original.clone() };
        assert!(decode(&mut wrong, 8, &eighths, Layout::Balanced, Contexts::Activity).is_err() || wrong != original);
    }

    #[test]
    fn a_strip_length_past_the_payload_is_an_error() {
        let original = test_planes(5, 700, 1);
        let (mut payload, _) = round_trip(&original, 2, Layout::Balanced, Contexts::Activity);
        // One plane: the band mask, its weights, then the strip lengths.
        let mask = payload[0];
        let at = 1 + 2 * SPATIAL * mask.count_ones() as usize;
        payload[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut decoded = Planes { data: vec![vec![0; 5 * 700]], ..original.clone() };
        assert!(matches!(decode(&mut decoded, 8, &payload, Layout::Balanced, Contexts::Activity), Err(Error::Truncated(_))));
    }

    #[test]
    fn every_table_codes_every_token_of_its_plane() {
        let planes = Planes { width: 1, height: 1, data: vec![vec![0]; 3], ycocg: true };
        for depth in [8u8, 16] {
            for s in specs(&planes, depth) {
                let tokens = token(s.range.max_u).0 as usize + 1;
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

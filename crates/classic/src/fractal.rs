//! `fractal`: quadtree-partitioned iterated function systems (PIFS).
//!
//! Each plane (Y, and 4:2:0 Cb, Cr) is covered by range blocks, found by a quadtree: a block is
//! split in four while its best map misses it by more than the tolerance. Each range block is
//! the image of a domain block twice its size (averaged down 2×2, turned by one of the eight
//! isometries of the square) under the grey-level map `v ↦ s·v + o`. The file stores, per range
//! block, the contrast `s` (quantised to eighths, |s| < 1 so the maps contract), the range
//! block's quantised mean (coded by DPCM) from which `o` follows, the domain's index and the
//! isometry. Decoding starts from any image (flat grey here) and applies all maps at once,
//! again and again; by the contraction mapping theorem the image converges to the attractor,
//! which the encoder made close to the original.
//!
//! Search: every domain block and isometry is classified by the rank order of its four quadrant
//! means (24 classes) and described by its normalised quadrant signature; a range block is only
//! compared, in full, with the few candidates of its class (and of the reversed class, for
//! negative contrast) whose signatures are nearest to its own.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::binary::BitModel;
use tessera_entropy::integer::{AdaptiveGolomb, BitTree};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use crate::planes::{from_ycbcr420, sizes_420, to_ycbcr420, Plane};

const VERSION: u8 = 1;
const MIN_RANGE: usize = 4;
/// Contrast levels: s = s_q / 8 with s_q in -7..=7.
const S_MAX: i32 = 7;
const S_SCALE: f32 = 8.0;
/// Step of the quantised range-block mean.
const MEAN_STEP: f32 = 1.0;
/// Candidates compared in full per range block and sign.
const SHORTLIST: usize = 12;
/// Decoder iterations at most, and the mean change that ends them earlier.
const MAX_ITERATIONS: usize = 16;
const CONVERGED: f32 = 0.02;

/// The `fractal` codec.
#[derive(Debug, Default)]
pub struct Fractal;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Settings {
    max_range: usize,
    /// Root-mean-square error a range block may keep before it is split.
    tolerance: f32,
}

impl Settings {
    fn for_quality(q: f32) -> Settings {
        let q = q.clamp(1.0, 100.0);
        // From 24 grey levels at q=1 down to 1.5 at q=100, geometrically.
        let tolerance = 24.0 * (1.5f32 / 24.0).powf((q - 1.0) / 99.0);
        Settings { max_range: if q < 40.0 { 32 } else { 16 }, tolerance }
    }
    fn to_bytes(self) -> Vec<u8> {
        vec![VERSION, self.max_range as u8]
    }
    fn from_bytes(b: &[u8]) -> Result<Settings> {
        match b {
            [VERSION, m @ (16 | 32)] => Ok(Settings { max_range: usize::from(*m), tolerance: 0.0 }),
            _ => Err(Error::corrupt("fractal parameters")),
        }
    }
}

impl Codec for Fractal {
    fn name(&self) -> &'static str {
        "fractal"
    }
    fn summary(&self) -> &'static str {
        "fractal coding: quadtree PIFS, decoded by iteration to the attractor"
    }
    fn is_lossless(&self) -> bool {
        false
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let s = Settings::for_quality(params.quality_or(50.0)?);
        let mut enc = RangeEncoder::new();
        for (i, p) in to_ycbcr420(image)?.iter().enumerate() {
            // Chroma is smoother and matters less: a looser tolerance.
            let tol = if i == 0 { s.tolerance } else { s.tolerance * 1.5 };
            let leaves = encode_plane(p, s.max_range, tol);
            write_leaves(&mut enc, &leaves, p, s.max_range);
        }
        Ok(Encoded { params: s.to_bytes(), payload: enc.finish(), model: None })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let s = Settings::from_bytes(params)?;
        let mut dec = RangeDecoder::new(payload);
        let planes = sizes_420(header)?
            .into_iter()
            .map(|(w, h)| decode_plane(&mut dec, w, h, s.max_range))
            .collect::<Result<Vec<_>>>()?;
        dec.check_end().map_err(|_| Error::Truncated("fractal payload ends early".into()))?;
        from_ycbcr420(planes, header)
    }
}

/// One range block's map.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Leaf {
    x: usize,
    y: usize,
    size: usize,
    s_q: i32,
    mean_q: i32,
    domain: u32,
    iso: u8,
}

/// Padded plane size: a multiple of the largest range block, and at least two of them so that
/// every range size has a domain.
fn padded_size(w: usize, h: usize, max_range: usize) -> (usize, usize) {
    let up = |v: usize| v.div_ceil(max_range).max(2) * max_range;
    (up(w), up(h))
}

/// Domain grid for range size `r`: domains of size 2r every `2r` pixels.
struct DomainGrid {
    cols: usize,
    count: usize,
    step: usize,
}

impl DomainGrid {
    fn new(pw: usize, ph: usize, r: usize) -> DomainGrid {
        let step = 2 * r;
        let cols = (pw - 2 * r) / step + 1;
        let rows = (ph - 2 * r) / step + 1;
        DomainGrid { cols, count: cols * rows, step }
    }
    /// Top-left of domain `i` in the half-resolution plane.
    fn origin_half(&self, i: usize) -> (usize, usize) {
        ((i % self.cols) * self.step / 2, (i / self.cols) * self.step / 2)
    }
    fn bits(&self) -> u32 {
        (usize::BITS - self.count.saturating_sub(1).leading_zeros()).max(1)
    }
}

/// Reads the r×r block at `(x0, y0)` of `p` under isometry `iso` into `out`.
fn fetch(p: &Plane, x0: usize, y0: usize, r: usize, iso: u8, out: &mut [f32]) {
    for y in 0..r {
        for x in 0..r {
            let (mut a, mut b) = if iso & 4 != 0 { (y, x) } else { (x, y) };
            if iso & 1 != 0 {
                a = r - 1 - a;
            }
            if iso & 2 != 0 {
                b = r - 1 - b;
            }
            out[y * r + x] = p.data[(y0 + b) * p.width + x0 + a];
        }
    }
}

/// Quadrant means minus the block mean, normalised; and the rank-order class of the quadrants.
fn signature(block: &[f32], r: usize) -> ([f32; 4], usize) {
    let h = r / 2;
    let mut q = [0f32; 4];
    for y in 0..r {
        for x in 0..r {
            q[(y / h) * 2 + x / h] += block[y * r + x];
        }
    }
    let mean = q.iter().sum::<f32>() / 4.0;
    q.iter_mut().for_each(|v| *v -= mean);
    let norm = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 1e-6 {
        q.iter_mut().for_each(|v| *v /= norm);
    }
    (q, rank_class(&q))
}

/// Index (0..24) of the permutation that sorts the four values in decreasing order.
fn rank_class(q: &[f32; 4]) -> usize {
    let mut idx = [0usize, 1, 2, 3];
    idx.sort_by(|&a, &b| q[b].total_cmp(&q[a]).then(a.cmp(&b)));
    // Lehmer code of the permutation.
    let mut code = 0;
    for i in 0..4 {
        let smaller = idx[i + 1..].iter().filter(|&&j| j < idx[i]).count();
        code = code * (4 - i) + smaller;
    }
    code
}

struct Candidate {
    domain: u32,
    iso: u8,
    sig: [f32; 4],
}

/// Every domain block of size 2r (averaged to r) under every isometry, bucketed by class.
fn candidates(half: &Plane, grid: &DomainGrid, r: usize) -> Vec<Vec<Candidate>> {
    let mut classes: Vec<Vec<Candidate>> = (0..24).map(|_| Vec::new()).collect();
    let mut block = vec![0f32; r * r];
    for d in 0..grid.count {
        let (x0, y0) = grid.origin_half(d);
        for iso in 0..8u8 {
            fetch(half, x0, y0, r, iso, &mut block);
            let (sig, class) = signature(&block, r);
            classes[class].push(Candidate { domain: d as u32, iso, sig });
        }
    }
    classes
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

/// The best map for the range block `target`: `(squared error, s_q, domain, iso)`.
fn best_map(
    target: &[f32],
    r: usize,
    half: &Plane,
    grid: &DomainGrid,
    classes: &[Vec<Candidate>],
) -> (f32, i32, u32, u8) {
    let m_r = mean(target);
    let dev: Vec<f32> = target.iter().map(|v| v - m_r).collect();
    let flat_err: f32 = dev.iter().map(|v| v * v).sum();
    let mut best = (flat_err, 0, 0u32, 0u8);
    if flat_err < 1e-3 {
        return best;
    }
    let (sig, class) = signature(target, r);
    let neg = [-sig[0], -sig[1], -sig[2], -sig[3]];
    let neg_class = rank_class(&neg);
    let mut block = vec![0f32; r * r];
    for (want, cls) in [(sig, class), (neg, neg_class)] {
        let list = &classes[cls];
        let mut short: Vec<(f32, usize)> = list
            .iter()
            .enumerate()
            .map(|(i, c)| (c.sig.iter().zip(&want).map(|(a, b)| (a - b) * (a - b)).sum(), i))
            .collect();
        let k = SHORTLIST.min(short.len());
        if k == 0 {
            continue;
        }
        short.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        for &(_, i) in &short[..k] {
            let c = &list[i];
            let (x0, y0) = grid.origin_half(c.domain as usize);
            fetch(half, x0, y0, r, c.iso, &mut block);
            let m_d = mean(&block);
            let (mut dot, mut dd) = (0f32, 0f32);
            for (b, t) in block.iter().zip(&dev) {
                let d = b - m_d;
                dot += d * t;
                dd += d * d;
            }
            if dd < 1e-6 {
                continue;
            }
            let s_q = ((dot / dd) * S_SCALE).round().clamp(-S_MAX as f32, S_MAX as f32) as i32;
            let s = s_q as f32 / S_SCALE;
            let err = flat_err - 2.0 * s * dot + s * s * dd;
            if err < best.0 {
                best = (err, s_q, c.domain, c.iso);
            }
        }
    }
    best
}

fn encode_plane(plane: &Plane, max_range: usize, tolerance: f32) -> Vec<Leaf> {
    let (pw, ph) = padded_size(plane.width, plane.height, max_range);
    let p = plane.padded(pw, ph);
    let half = p.downsample2();
    let mut sizes = Vec::new();
    let mut r = max_range;
    while r >= MIN_RANGE {
        let grid = DomainGrid::new(pw, ph, r);
        let classes = candidates(&half, &grid, r);
        sizes.push((r, grid, classes));
        r /= 2;
    }
    let mut leaves = Vec::new();
    let mut block = Vec::new();
    for y in (0..ph).step_by(max_range) {
        for x in (0..pw).step_by(max_range) {
            split(&p, &half, &sizes, x, y, 0, plane, tolerance, &mut block, &mut leaves);
        }
    }
    leaves
}

#[allow(clippy::too_many_arguments)]
fn split(
    p: &Plane,
    half: &Plane,
    sizes: &[(usize, DomainGrid, Vec<Vec<Candidate>>)],
    x: usize,
    y: usize,
    level: usize,
    original: &Plane,
    tolerance: f32,
    block: &mut Vec<f32>,
    leaves: &mut Vec<Leaf>,
) {
    let (r, grid, classes) = &sizes[level];
    let r = *r;
    if x >= original.width || y >= original.height {
        return; // wholly in the padding: nothing to code
    }
    block.clear();
    for yy in 0..r {
        block.extend_from_slice(&p.data[(y + yy) * p.width + x..(y + yy) * p.width + x + r]);
    }
    let (err, s_q, domain, iso) = best_map(block, r, half, grid, classes);
    let rms = (err / (r * r) as f32).sqrt();
    if rms > tolerance && level + 1 < sizes.len() {
        let h = r / 2;
        for (dx, dy) in [(0, 0), (h, 0), (0, h), (h, h)] {
            split(p, half, sizes, x + dx, y + dy, level + 1, original, tolerance, block, leaves);
        }
        return;
    }
    let mean_q = (mean(block) / MEAN_STEP).round() as i32;
    leaves.push(Leaf { x, y, size: r, s_q, mean_q, domain, iso });
}

/// Coding contexts shared by the writer and the reader.
struct Contexts {
    split: [BitModel; 4],
    s: AdaptiveGolomb,
    mean: AdaptiveGolomb,
    iso: BitTree,
    /// Per range size: the domain index's bits beyond 16 (sent raw) and a tree for the rest.
    domains: Vec<(u32, BitTree)>,
}

impl Contexts {
    fn new(grids: &[DomainGrid]) -> Contexts {
        Contexts {
            split: [BitModel::new(); 4],
            s: AdaptiveGolomb::new(),
            mean: AdaptiveGolomb::new(),
            iso: BitTree::new(3).expect("3 bits"),
            domains: grids
                .iter()
                .map(|g| (g.bits().saturating_sub(16), BitTree::new(g.bits().min(16)).expect("1..=16 bits")))
                .collect(),
        }
    }
}

fn grids(pw: usize, ph: usize, max_range: usize) -> Vec<DomainGrid> {
    let mut out = Vec::new();
    let mut r = max_range;
    while r >= MIN_RANGE {
        out.push(DomainGrid::new(pw, ph, r));
        r /= 2;
    }
    out
}

/// Writes the quadtree in the order the decoder walks it: a split flag per block above the
/// smallest size, then each leaf's map.
fn write_leaves(enc: &mut RangeEncoder, leaves: &[Leaf], plane: &Plane, max_range: usize) {
    let (pw, ph) = padded_size(plane.width, plane.height, max_range);
    let grids = grids(pw, ph, max_range);
    let mut ctx = Contexts::new(&grids);
    let mut next = 0usize;
    let mut prev_mean = 0i32;
    // Leaves come in quadtree order, so the walk can consume them in sequence.
    fn walk(
        enc: &mut RangeEncoder,
        ctx: &mut Contexts,
        leaves: &[Leaf],
        next: &mut usize,
        prev_mean: &mut i32,
        (x, y, r, level): (usize, usize, usize, usize),
        (w, h, levels): (usize, usize, usize),
    ) {
        if x >= w || y >= h {
            return;
        }
        let leaf = leaves[*next];
        let is_leaf = leaf.x == x && leaf.y == y && leaf.size == r;
        if level + 1 < levels {
            enc.encode_bit(&mut ctx.split[level.min(3)], !is_leaf);
        }
        if !is_leaf {
            let hlf = r / 2;
            for (dx, dy) in [(0, 0), (hlf, 0), (0, hlf), (hlf, hlf)] {
                walk(enc, ctx, leaves, next, prev_mean, (x + dx, y + dy, hlf, level + 1), (w, h, levels));
            }
            return;
        }
        *next += 1;
        ctx.mean.encode_signed(enc, leaf.mean_q - *prev_mean);
        *prev_mean = leaf.mean_q;
        ctx.s.encode_signed(enc, leaf.s_q);
        if leaf.s_q != 0 {
            let (high, tree) = &mut ctx.domains[level];
            enc.encode_raw(leaf.domain >> 16, *high);
            tree.encode(enc, leaf.domain & 0xFFFF);
            ctx.iso.encode(enc, u32::from(leaf.iso));
        }
    }
    for y in (0..ph).step_by(max_range) {
        for x in (0..pw).step_by(max_range) {
            walk(enc, &mut ctx, leaves, &mut next, &mut prev_mean, (x, y, max_range, 0), (plane.width, plane.height, grids.len()));
        }
    }
}

fn decode_plane(dec: &mut RangeDecoder, w: usize, h: usize, max_range: usize) -> Result<Plane> {
    let (pw, ph) = padded_size(w, h, max_range);
    let grids = grids(pw, ph, max_range);
    let mut ctx = Contexts::new(&grids);
    let mut leaves = Vec::new();
    let mut prev_mean = 0i32;
    let mut stack = Vec::new();
    for y in (0..ph).step_by(max_range).rev() {
        for x in (0..pw).step_by(max_range).rev() {
            stack.push((x, y, max_range, 0usize));
        }
    }
    while let Some((x, y, r, level)) = stack.pop() {
        if x >= w || y >= h {
            continue;
        }
        let split = level + 1 < grids.len() && dec.decode_bit(&mut ctx.split[level.min(3)]);
        if split {
            let hlf = r / 2;
            for (dx, dy) in [(hlf, hlf), (0, hlf), (hlf, 0), (0, 0)] {
                stack.push((x + dx, y + dy, hlf, level + 1));
            }
            continue;
        }
        prev_mean = prev_mean
            .checked_add(ctx.mean.decode_signed(dec)?)
            .filter(|m| (-512..=512).contains(m))
            .ok_or_else(|| Error::corrupt("fractal block mean out of range"))?;
        let s_q = ctx.s.decode_signed(dec)?;
        if s_q.abs() > S_MAX {
            return Err(Error::corrupt("fractal contrast out of range"));
        }
        let (mut domain, mut iso) = (0, 0);
        if s_q != 0 {
            let (high, tree) = &mut ctx.domains[level];
            let top = dec.decode_raw(*high);
            domain = (top << 16) | tree.decode(dec);
            iso = ctx.iso.decode(dec) as u8;
            if domain as usize >= grids[level].count {
                return Err(Error::corrupt("fractal domain index out of range"));
            }
        }
        leaves.push(Leaf { x, y, size: r, s_q, mean_q: prev_mean, domain, iso });
    }
    Ok(iterate(&leaves, &grids, (w, h), (pw, ph), max_range))
}

/// Applies all maps to a flat start image until the attractor stops moving. Between
/// iterations the padding is refilled by edge replication, as the encoder saw it.
fn iterate(
    leaves: &[Leaf],
    grids: &[DomainGrid],
    (w, h): (usize, usize),
    (pw, ph): (usize, usize),
    max_range: usize,
) -> Plane {
    let mut img = Plane::filled(pw, ph, 128.0);
    let mut block = vec![0f32; max_range * max_range];
    for _ in 0..MAX_ITERATIONS {
        let half = img.downsample2();
        let mut next = img.clone();
        let mut change = 0f32;
        for leaf in leaves {
            let r = leaf.size;
            let level = (max_range / r).trailing_zeros() as usize;
            let m_r = leaf.mean_q as f32 * MEAN_STEP;
            let s = leaf.s_q as f32 / S_SCALE;
            let block = &mut block[..r * r];
            if leaf.s_q != 0 {
                let (x0, y0) = grids[level].origin_half(leaf.domain as usize);
                fetch(&half, x0, y0, r, leaf.iso, block);
            } else {
                block.fill(0.0);
            }
            let m_d = mean(block);
            for yy in 0..r {
                for xx in 0..r {
                    let v = s * (block[yy * r + xx] - m_d) + m_r;
                    let i = (leaf.y + yy) * pw + leaf.x + xx;
                    change += (v - next.data[i]).abs();
                    next.data[i] = v;
                }
            }
        }
        img = next.cropped(w, h).padded(pw, ph);
        if change / (w * h) as f32 <= CONVERGED {
            break;
        }
    }
    img.cropped(w, h)
}

#[cfg(test)]
mod tests {
    use super::*;


    fn test_image() -> Image {
        let s: Vec<u8> = (0..70 * 45)
            .flat_map(|i| {
                let (x, y) = (i % 70, i / 70);
                let v = (((x as f32 / 6.0).sin() + (y as f32 / 9.0).cos()) * 60.0 + 128.0) as u8;
                [v, (x * 3) as u8, (255 - y * 4) as u8]
            })
            .collect();
        Image::from_u8(70, 45, 3, &s).unwrap()
    }

    #[test]
    fn tighter_tolerance_gives_more_bits_and_better_images() {
        let img = test_image();
        let header = Header::for_image("fractal", &img, None);
        let lo = Fractal.encode(&img, &EncodeParams::with_quality(10.0)).unwrap();
        let hi = Fractal.encode(&img, &EncodeParams::with_quality(95.0)).unwrap();
        let p_lo = tessera_metrics::psnr(&img, &Fractal.decode(&header, &lo.params, &lo.payload).unwrap()).unwrap();
        let p_hi = tessera_metrics::psnr(&img, &Fractal.decode(&header, &hi.params, &hi.payload).unwrap()).unwrap();
        assert!(hi.payload.len() > lo.payload.len());
        assert!(p_hi > p_lo && p_hi > 28.0, "{p_lo} {p_hi}");
    }

    #[test]
    fn rank_classes_cover_all_permutations() {
        let mut seen = [false; 24];
        let vals = [[4.0, 3.0, 2.0, 1.0f32]];
        for p in permutations() {
            let q = [vals[0][p[0]], vals[0][p[1]], vals[0][p[2]], vals[0][p[3]]];
            seen[rank_class(&q)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    fn permutations() -> Vec<[usize; 4]> {
        let mut out = Vec::new();
        for a in 0..4 {
            for b in 0..4 {
                for c in 0..4 {
                    for d in 0..4 {
                        let p = [a, b, c, d];
                        if (0..4).all(|i| p.contains(&i)) {
                            out.push(p);
                        }
                    }
                }
            }
        }
        out
    }
}

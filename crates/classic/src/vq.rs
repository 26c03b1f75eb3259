//! `vq`: vector quantisation of mean-removed k×k blocks.
//!
//! Each plane (Y, and 4:2:0 Cb and Cr for colour) is cut into k×k blocks. A block's mean is
//! quantised and coded by DPCM from its left neighbour; what remains after the quantised mean is
//! a k²-dimensional vector, replaced by the nearest codeword of a codebook trained on this very
//! image with the generalised Lloyd algorithm (LBG, growing the codebook by splitting). The
//! codebook is sent (integer components), then the indices. Everything goes through the range
//! coder: means and codebook with adaptive Exp-Golomb, indices with an adaptive bit tree (so
//! frequent codewords cost less than `log2(size)` bits).
//!
//! The rate is set by the block size and the codebook size; `-q` walks a ladder of both.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::integer::{AdaptiveGolomb, BitTree};
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use crate::planes::{from_ycbcr420, sizes_420, to_ycbcr420, Plane};

const VERSION: u8 = 1;
/// Training vectors used by LBG at most (a deterministic subsample beyond that).
const MAX_TRAINING: usize = 12_000;
const LLOYD_ITERATIONS: usize = 12;

/// The `vq` codec.
#[derive(Debug, Default)]
pub struct Vq;

/// What the decoder needs besides the container header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Settings {
    block: usize,
    bits_luma: u32,
    bits_chroma: u32,
    mean_step: u32,
}

impl Settings {
    /// The ladder: larger codebooks and smaller blocks as quality rises.
    fn for_quality(q: f32) -> Settings {
        let q = q.clamp(1.0, 100.0);
        let block = if q < 25.0 { 8 } else { 4 };
        let bits_luma = if block == 8 { 3 + (q / 25.0 * 6.0) as u32 } else { 4 + ((q - 25.0) / 75.0 * 7.0) as u32 };
        Settings {
            block,
            bits_luma: bits_luma.min(11),
            bits_chroma: (bits_luma.min(11) / 2).max(2),
            mean_step: (1.0 + (100.0 - q) / 14.0) as u32,
        }
    }

    fn to_bytes(self) -> Vec<u8> {
        vec![VERSION, self.block as u8, self.bits_luma as u8, self.bits_chroma as u8, self.mean_step as u8]
    }

    fn from_bytes(b: &[u8]) -> Result<Settings> {
        let [v, block, bl, bc, step] = b else {
            return Err(Error::corrupt("vq parameters have the wrong length"));
        };
        let s = Settings {
            block: usize::from(*block),
            bits_luma: u32::from(*bl),
            bits_chroma: u32::from(*bc),
            mean_step: u32::from(*step),
        };
        let ok = *v == VERSION
            && matches!(s.block, 2 | 4 | 8)
            && (1..=12).contains(&s.bits_luma)
            && (1..=12).contains(&s.bits_chroma)
            && (1..=64).contains(&s.mean_step);
        ok.then_some(s).ok_or_else(|| Error::corrupt("vq parameters out of range"))
    }
}

impl Codec for Vq {
    fn name(&self) -> &'static str {
        "vq"
    }
    fn summary(&self) -> &'static str {
        "vector quantisation of mean-removed blocks, LBG codebook trained per image"
    }
    fn is_lossless(&self) -> bool {
        false
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let s = Settings::for_quality(params.quality_or(50.0)?);
        let mut enc = RangeEncoder::new();
        for (i, plane) in to_ycbcr420(image)?.iter().enumerate() {
            let bits = if i == 0 { s.bits_luma } else { s.bits_chroma };
            encode_plane(&mut enc, plane, s.block, bits, s.mean_step);
        }
        Ok(Encoded { params: s.to_bytes(), payload: enc.finish(), model: None })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let s = Settings::from_bytes(params)?;
        let mut dec = RangeDecoder::new(payload);
        let planes = sizes_420(header)?
            .into_iter()
            .enumerate()
            .map(|(i, (w, h))| {
                let bits = if i == 0 { s.bits_luma } else { s.bits_chroma };
                decode_plane(&mut dec, w, h, s.block, bits, s.mean_step)
            })
            .collect::<Result<Vec<_>>>()?;
        dec.check_end().map_err(|_| Error::Truncated("vq payload ends early".into()))?;
        from_ycbcr420(planes, header)
    }
}

/// Block grid of a `w × h` plane.
fn grid(w: usize, h: usize, block: usize) -> (usize, usize) {
    (w.div_ceil(block), h.div_ceil(block))
}

/// Codebook bits actually used: no more codewords than blocks.
fn effective_bits(bits: u32, blocks: usize) -> u32 {
    let needed = usize::BITS - blocks.saturating_sub(1).leading_zeros();
    bits.min(needed.max(1))
}

fn encode_plane(enc: &mut RangeEncoder, plane: &Plane, block: usize, bits: u32, step: u32) {
    let (gw, gh) = grid(plane.width, plane.height, block);
    let p = plane.padded(gw * block, gh * block);
    let d = block * block;
    let step = step as f32;
    let mut qmeans = Vec::with_capacity(gw * gh);
    let mut vectors = Vec::with_capacity(gw * gh * d);
    for by in 0..gh {
        for bx in 0..gw {
            let start = vectors.len();
            for y in 0..block {
                let row = (by * block + y) * p.width + bx * block;
                vectors.extend_from_slice(&p.data[row..row + block]);
            }
            let mean = vectors[start..].iter().sum::<f32>() / d as f32;
            let qm = (mean / step).round() as i32;
            let m = qm as f32 * step;
            vectors[start..].iter_mut().for_each(|v| *v -= m);
            qmeans.push(qm);
        }
    }
    let bits = effective_bits(bits, gw * gh);
    let codebook = train_codebook(&vectors, d, 1 << bits);
    let mut golomb = AdaptiveGolomb::new();
    let mut prev = 0;
    for &qm in &qmeans {
        golomb.encode_signed(enc, qm - prev);
        prev = qm;
    }
    let mut cb_golomb = AdaptiveGolomb::new();
    for &c in &codebook {
        cb_golomb.encode_signed(enc, c);
    }
    let cbf: Vec<f32> = codebook.iter().map(|&c| c as f32).collect();
    let mut tree = BitTree::new(bits).expect("1..=12 bits");
    for v in vectors.chunks_exact(d) {
        tree.encode(enc, nearest(&cbf, d, v).0 as u32);
    }
}

fn decode_plane(dec: &mut RangeDecoder, w: usize, h: usize, block: usize, bits: u32, step: u32) -> Result<Plane> {
    let (gw, gh) = grid(w, h, block);
    let d = block * block;
    let bits = effective_bits(bits, gw * gh);
    let mut golomb = AdaptiveGolomb::new();
    let mut qmeans = Vec::with_capacity(gw * gh);
    let mut prev = 0i32;
    for _ in 0..gw * gh {
        prev = prev
            .checked_add(golomb.decode_signed(dec)?)
            .filter(|m| m.unsigned_abs() <= 1 << 16)
            .ok_or_else(|| Error::corrupt("vq block mean out of range"))?;
        qmeans.push(prev);
    }
    let mut cb_golomb = AdaptiveGolomb::new();
    let mut codebook = Vec::with_capacity(d << bits);
    for _ in 0..d << bits {
        let c = cb_golomb.decode_signed(dec)?;
        if c.unsigned_abs() > 1 << 10 {
            return Err(Error::corrupt("vq codeword out of range"));
        }
        codebook.push(c as f32);
    }
    let mut tree = BitTree::new(bits).map_err(|_| Error::corrupt("vq codebook size"))?;
    let mut out = Plane::filled(gw * block, gh * block, 0.0);
    for (i, &qm) in qmeans.iter().enumerate() {
        let idx = tree.decode(dec) as usize;
        let (bx, by) = (i % gw, i / gw);
        let word = &codebook[idx * d..(idx + 1) * d];
        let m = qm as f32 * step as f32;
        for y in 0..block {
            let row = (by * block + y) * out.width + bx * block;
            for x in 0..block {
                out.data[row + x] = m + word[y * block + x];
            }
        }
    }
    Ok(out.cropped(w, h))
}

/// Index and squared distance of the codeword nearest to `v` (partial distance search).
fn nearest(codebook: &[f32], d: usize, v: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (i, c) in codebook.chunks_exact(d).enumerate() {
        let mut dist = 0.0;
        for (a, b) in c.iter().zip(v) {
            dist += (a - b) * (a - b);
            if dist >= best.1 {
                break;
            }
        }
        if dist < best.1 {
            best = (i, dist);
        }
    }
    best
}

/// LBG: start from the centroid, split every codeword in two, refine with Lloyd iterations,
/// until the codebook has `size` words. Returns integer components (what is sent).
fn train_codebook(vectors: &[f32], d: usize, size: usize) -> Vec<i32> {
    let n = vectors.len() / d;
    let stride = n.div_ceil(MAX_TRAINING).max(1);
    let train: Vec<&[f32]> = vectors.chunks_exact(d).step_by(stride).collect();
    let mut cb = vec![0f32; d];
    for v in &train {
        cb.iter_mut().zip(v.iter()).for_each(|(c, x)| *c += x / train.len() as f32);
    }
    let mut words = 1;
    while words < size {
        // Split along a fixed ±1 pattern scaled to the data's spread.
        let mut next = Vec::with_capacity(cb.len() * 2);
        for c in cb.chunks_exact(d) {
            for sign in [1.0f32, -1.0] {
                next.extend(c.iter().enumerate().map(|(j, &x)| {
                    let pattern = if (j * 7 + 3) % 5 < 2 { 1.0 } else { -1.0 };
                    x + sign * pattern * 0.75
                }));
            }
        }
        cb = next;
        words *= 2;
        lloyd(&train, d, &mut cb);
    }
    cb.iter().map(|&c| c.round() as i32).collect()
}

fn lloyd(train: &[&[f32]], d: usize, cb: &mut [f32]) {
    let k = cb.len() / d;
    let mut last = f64::INFINITY;
    for _ in 0..LLOYD_ITERATIONS {
        let mut sums = vec![0f64; cb.len()];
        let mut counts = vec![0usize; k];
        let mut total = 0f64;
        let mut worst = (0usize, -1f32);
        for (t, v) in train.iter().enumerate() {
            let (i, dist) = nearest(cb, d, v);
            total += f64::from(dist);
            counts[i] += 1;
            sums[i * d..(i + 1) * d].iter_mut().zip(v.iter()).for_each(|(s, &x)| *s += f64::from(x));
            if dist > worst.1 {
                worst = (t, dist);
            }
        }
        for i in 0..k {
            let c = &mut cb[i * d..(i + 1) * d];
            if counts[i] > 0 {
                c.iter_mut().zip(&sums[i * d..]).for_each(|(c, s)| *c = (s / counts[i] as f64) as f32);
            } else {
                // An empty cell takes the worst-coded training vector.
                c.copy_from_slice(train[worst.0]);
            }
        }
        if total >= last * 0.998 {
            break;
        }
        last = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;


    fn test_image() -> Image {
        let s: Vec<u8> = (0..64 * 48)
            .flat_map(|i| {
                let (x, y) = (i % 64, i / 64);
                [(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8]
            })
            .collect();
        Image::from_u8(64, 48, 3, &s).unwrap()
    }

    #[test]
    fn quality_buys_fidelity() {
        let img = test_image();
        let header = Header::for_image("vq", &img, None);
        let mut last = (0usize, 0.0f64);
        for q in [10.0, 50.0, 95.0] {
            let e = Vq.encode(&img, &EncodeParams::with_quality(q)).unwrap();
            let back = Vq.decode(&header, &e.params, &e.payload).unwrap();
            let p = tessera_metrics::psnr(&img, &back).unwrap();
            assert!(p > last.1 - 0.5, "q{q}: {p} dB after {} dB", last.1);
            assert!(e.payload.len() > last.0 / 2);
            last = (e.payload.len(), p);
        }
        assert!(last.1 > 30.0, "{}", last.1);
    }

    #[test]
    fn settings_reject_garbage() {
        assert!(Settings::from_bytes(&[1, 3, 4, 2, 5]).is_err());
        assert!(Settings::from_bytes(&[1, 4, 4]).is_err());
        let s = Settings::for_quality(50.0);
        assert_eq!(Settings::from_bytes(&s.to_bytes()).unwrap(), s);
    }
}

//! The lossless codecs and what they share: the reversible colour transform chosen per image,
//! image ↔ integer planes, causal neighbours with edge rules, the median edge detector and the
//! codec parameter block (format version and transform flag).

pub mod blend;
pub mod calic;
pub mod fast;
pub mod huffman;
pub mod lean;
pub mod lzw;
pub mod predictive;
pub mod rle;
pub mod tree;
pub mod wavelet;

use rayon::prelude::*;
use tessera_core::color::{ycocg_r_forward, ycocg_r_inverse};
use tessera_core::{EncodeParams, Error, Header, Image, Result};

/// Integer planes of an image, after an optional reversible colour transform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planes {
    /// Width of every plane.
    pub width: usize,
    /// Height of every plane (all frames).
    pub height: usize,
    /// One `Vec` per channel.
    pub data: Vec<Vec<i32>>,
    /// Whether the first three planes are YCoCg-R instead of RGB.
    pub ycocg: bool,
}

impl Planes {
    /// Splits an image into planes, applying YCoCg-R to colour images when `ycocg`.
    pub fn from_image(img: &Image, ycocg: bool) -> Planes {
        let mut data: Vec<Vec<i32>> =
            img.planes().into_iter().map(|p| p.into_iter().map(i32::from).collect()).collect();
        let ycocg = ycocg && img.channels() >= 3;
        if ycocg {
            for i in 0..data[0].len() {
                let (y, co, cg) = ycocg_r_forward(data[0][i], data[1][i], data[2][i]);
                data[0][i] = y;
                data[1][i] = co;
                data[2][i] = cg;
            }
        }
        Planes { width: img.width() as usize, height: img.total_height() as usize, data, ycocg }
    }

    /// Joins the planes back into an image of the given geometry, checking every sample; rows
    /// in parallel.
    pub fn into_image(self, width: u32, height: u32, frames: u32, bit_depth: u8) -> Result<Image> {
        let max = if bit_depth == 8 { 255 } else { 65535 };
        let channels = self.data.len();
        let pixels = self.width * self.height;
        if channels == 0 || self.data.iter().any(|p| p.len() != pixels) {
            return Err(Error::InvalidParam("planes differ from the image size".into()));
        }
        let w = self.width.max(1);
        let mut samples = vec![0u16; pixels * channels];
        // Negative samples become large as u32, so one comparison checks both ends.
        let outside = samples.par_chunks_mut(w * channels).enumerate().any(|(y, row)| {
            let at = y * w..(y + 1) * w;
            let mut outside = false;
            let mut first = 0;
            if self.ycocg {
                let (luma, co, cg) = (&self.data[0][at.clone()], &self.data[1][at.clone()], &self.data[2][at.clone()]);
                for (i, px) in row.chunks_exact_mut(channels).enumerate() {
                    let (r, g, b) = ycocg_r_inverse(luma[i], co[i], cg[i]);
                    outside |= (r as u32 > max) | (g as u32 > max) | (b as u32 > max);
                    px[0] = r as u16;
                    px[1] = g as u16;
                    px[2] = b as u16;
                }
                first = 3;
            }
            for (c, plane) in self.data.iter().enumerate().skip(first) {
                for (px, &v) in row.chunks_exact_mut(channels).zip(&plane[at.clone()]) {
                    outside |= v as u32 > max;
                    px[c] = v as u16;
                }
            }
            outside
        });
        if outside {
            return Err(Error::corrupt("decoded sample outside the bit depth"));
        }
        Image::with_frames(width, height, frames, channels as u8, bit_depth, samples)
    }
}

/// Whether YCoCg-R is likely to help: compares the sum of absolute horizontal differences of
/// the RGB planes with that of the transformed planes, on a sample of rows.
pub fn ycocg_helps(img: &Image) -> bool {
    if img.channels() < 3 {
        return false;
    }
    let (w, h) = (img.width(), img.total_height());
    let (mut rgb, mut yuv) = (0u64, 0u64);
    let step = (h / 64).max(1);
    for y in (0..h).step_by(step as usize) {
        let mut prev: Option<([i32; 3], [i32; 3])> = None;
        for x in 0..w {
            let p = [0u8, 1, 2].map(|c| i32::from(img.get(x, y, c)));
            let (a, b, c) = ycocg_r_forward(p[0], p[1], p[2]);
            let q = [a, b, c];
            if let Some((pp, pq)) = prev {
                rgb += (0..3).map(|i| (p[i] - pp[i]).unsigned_abs() as u64).sum::<u64>();
                yuv += (0..3).map(|i| (q[i] - pq[i]).unsigned_abs() as u64).sum::<u64>();
            }
            prev = Some((p, q));
        }
    }
    yuv < rgb
}

/// The causal neighbours of a sample, with the edge rules every lossless codec here uses:
/// outside the image W falls back to N (or `mid` at the first sample), N to W, NW and NE to N,
/// WW to W and NN to N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbours {
    /// West.
    pub w: i32,
    /// North.
    pub n: i32,
    /// North-west.
    pub nw: i32,
    /// North-east.
    pub ne: i32,
    /// Two to the west.
    pub ww: i32,
    /// Two to the north.
    pub nn: i32,
    /// North of north-east.
    pub nne: i32,
}

impl Neighbours {
    /// The neighbours of `(x, y)` in a plane of width `width`, whose samples before `(x, y)` in
    /// raster order are final.
    #[inline]
    pub fn at(plane: &[i32], width: usize, x: usize, y: usize, mid: i32) -> Neighbours {
        let i = y * width + x;
        let n = if y > 0 { Some(plane[i - width]) } else { None };
        let w = if x > 0 { plane[i - 1] } else { n.unwrap_or(mid) };
        let n = n.unwrap_or(w);
        let nw = if x > 0 && y > 0 { plane[i - width - 1] } else { n };
        let ne = if x + 1 < width && y > 0 { plane[i - width + 1] } else { n };
        let ww = if x > 1 { plane[i - 2] } else { w };
        let nn = if y > 1 { plane[i - 2 * width] } else { n };
        let nne = if y > 1 && x + 1 < width { plane[i - 2 * width + 1] } else { ne };
        Neighbours { w, n, nw, ne, ww, nn, nne }
    }
}

/// The median edge detector of LOCO-I: min(W, N) above an edge, max(W, N) below one, else the
/// planar guess W + N − NW.
#[inline]
pub fn med(w: i32, n: i32, nw: i32) -> i32 {
    // The planar guess clamped to [min(W, N), max(W, N)] is the same choice, without branches
    // (`max` then `min` rather than `clamp`, which checks its bounds).
    (w + n - nw).max(w.min(n)).min(w.max(n))
}

/// Maps a signed value to an unsigned one: 0, −1, 1, −2, … → 0, 1, 2, 3, …
#[inline]
pub fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

/// The value assumed before the first sample of a plane: mid-grey, or 0 for YCoCg chroma.
pub fn mid_value(bit_depth: u8, ycocg: bool, plane: usize) -> i32 {
    if ycocg && (plane == 1 || plane == 2) {
        0
    } else {
        1 << (bit_depth - 1)
    }
}

/// The range of values a plane can hold: `0..=max` for samples, `−max..=max` for YCoCg chroma.
pub fn plane_range(bit_depth: u8, ycocg: bool, plane: usize) -> (i32, i32) {
    let max = (1i32 << bit_depth) - 1;
    if ycocg && (plane == 1 || plane == 2) {
        (-max, max)
    } else {
        (0, max)
    }
}

/// The parameter block of the classical lossless codecs: format version, transform flag.
pub fn transform_params(version: u8, ycocg: bool) -> Vec<u8> {
    vec![version, u8::from(ycocg)]
}

/// Reads [`transform_params`], checking the version and that the header allows the transform
/// and describes 8- or 16-bit samples.
pub fn parse_transform(params: &[u8], header: &Header, version: u8) -> Result<bool> {
    let ycocg = match params {
        [v, f @ (0 | 1)] if *v == version => *f == 1,
        _ => return Err(Error::corrupt("lossless codec parameters")),
    };
    if ycocg && header.channels < 3 {
        return Err(Error::corrupt("colour transform on an image of fewer than three channels"));
    }
    if !matches!(header.bit_depth, 8 | 16) || !(1..=4).contains(&header.channels) || header.width == 0 {
        return Err(Error::corrupt("sample format the lossless codecs do not write"));
    }
    Ok(ycocg)
}

/// Width and total height (all frames) of the planes a header describes.
pub fn plane_geometry(header: &Header) -> (usize, usize) {
    let w = header.width as usize;
    (w, (header.pixel_count() / u64::from(header.width)) as usize)
}

/// The colour transform of an encode, from the option `transform`: `auto` (the default:
/// YCoCg-R where [`ycocg_helps`]), `none`, or `ycocg` (for images of three or more channels).
pub fn choose_transform(image: &Image, params: &EncodeParams) -> Result<bool> {
    match params.option::<String>("transform", "auto".into())?.as_str() {
        "auto" => Ok(ycocg_helps(image)),
        "none" => Ok(false),
        "ycocg" => Ok(image.channels() >= 3),
        other => Err(Error::InvalidParam(format!("transform={other} (auto, none or ycocg)"))),
    }
}

/// ⌈log2(v + 1)⌉: 0 for 0, 1 for 1, 2 for 2..=3, …
#[inline]
pub(crate) const fn octave(v: u32) -> usize {
    (u32::BITS - v.leading_zeros()) as usize
}

/// Half-octave classes: 0, 1, then two classes per octave (the top bit and the one below it).
#[inline]
pub(crate) const fn half_octave(v: u32) -> usize {
    let o = octave(v);
    if o < 2 {
        o
    } else {
        2 * o - 2 + ((v >> (o - 2)) & 1) as usize
    }
}

/// Solves (a + ridge·I)·x = b over the first `n` unknowns by Cholesky, reading only the upper
/// triangle of the symmetric `a`; the rest of `x` is 0. IEEE basic operations in a fixed order,
/// so every machine gets the same `x`. `None` when the matrix is not positive definite.
pub(crate) fn solve_symmetric<const N: usize>(a: &[[f64; N]; N], b: &[f64; N], n: usize, ridge: f64) -> Option<[f64; N]> {
    let mut l = [[0.0f64; N]; N];
    for j in 0..n {
        let mut d = a[j][j] + ridge;
        for k in 0..j {
            d -= l[j][k] * l[j][k];
        }
        if d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        l[j][j] = d;
        for i in j + 1..n {
            let mut s = a[j][i];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = s / d;
        }
    }
    let mut z = [0.0f64; N];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i][k] * z[k];
        }
        z[i] = s / l[i][i];
    }
    let mut x = [0.0f64; N];
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in i + 1..n {
            s -= l[k][i] * x[k];
        }
        x[i] = s / l[i][i];
    }
    Some(x)
}

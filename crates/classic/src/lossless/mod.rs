//! The lossless codecs and what they share: the reversible colour transform chosen per image,
//! and image ↔ integer planes.

pub mod blend;

use tessera_core::color::{ycocg_r_forward, ycocg_r_inverse};
use tessera_core::{Error, Image, Result};

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

    /// Joins the planes back into an image of the given geometry, checking every sample.
    pub fn into_image(mut self, width: u32, height: u32, frames: u32, bit_depth: u8) -> Result<Image> {
        if self.ycocg {
            for i in 0..self.data[0].len() {
                let (r, g, b) = ycocg_r_inverse(self.data[0][i], self.data[1][i], self.data[2][i]);
                self.data[0][i] = r;
                self.data[1][i] = g;
                self.data[2][i] = b;
            }
        }
        let max = if bit_depth == 8 { 255 } else { 65535 };
        let mut planes = Vec::with_capacity(self.data.len());
        for p in self.data {
            if p.iter().any(|&v| !(0..=max).contains(&v)) {
                return Err(Error::corrupt("decoded sample outside the bit depth"));
            }
            planes.push(p.into_iter().map(|v| v as u16).collect());
        }
        Image::from_planes(width, height, frames, bit_depth, &planes)
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

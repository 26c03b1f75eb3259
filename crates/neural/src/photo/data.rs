//! Training and validation photos, decoded once into memory, and random crops from them.

use std::path::{Path, PathBuf};

use tessera_core::{Error, Result};

use crate::rng::Rng;

/// An 8-bit RGB photo.
pub struct Photo {
    pub width: usize,
    pub height: usize,
    /// Interleaved RGB.
    pub rgb: Vec<u8>,
}

/// Reads every PNG under the given folders (sorted by path, so the order is the same on every
/// machine), keeping RGB; gray photos are expanded, alpha dropped.
pub fn load_folders(folders: &[PathBuf], min_side: usize) -> Result<Vec<Photo>> {
    let mut paths = Vec::new();
    for f in folders {
        let entries = std::fs::read_dir(f)
            .map_err(|e| Error::InvalidParam(format!("{}: {e}", f.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")) {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let mut photos = Vec::new();
    for p in &paths {
        let photo = load_photo(p)?;
        if photo.width >= min_side && photo.height >= min_side {
            photos.push(photo);
        }
    }
    if photos.is_empty() {
        return Err(Error::InvalidParam(format!(
            "no PNG photos of at least {min_side}×{min_side} pixels in {folders:?}"
        )));
    }
    Ok(photos)
}

/// Reads one photo as 8-bit RGB.
pub fn load_photo(path: &Path) -> Result<Photo> {
    let img = tessera_core::io::read_image(path)?;
    let (w, h, c) = (
        img.width() as usize,
        img.height() as usize,
        img.channels() as usize,
    );
    let shift = img.bit_depth().saturating_sub(8);
    let s = img.samples();
    let mut rgb = Vec::with_capacity(w * h * 3);
    for px in s.chunks_exact(c) {
        let v = |i: usize| (px[i.min(if c >= 3 { 2 } else { 0 })] >> shift) as u8;
        rgb.extend_from_slice(&[v(0), v(1), v(2)]);
    }
    Ok(Photo {
        width: w,
        height: h,
        rgb,
    })
}

/// A batch of `count` random `size`×`size` crops, randomly flipped, as planar floats in
/// [0, 1] (`[count, 3, size, size]`).
pub fn random_batch(photos: &[Photo], count: usize, size: usize, rng: &mut Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * 3 * size * size);
    for _ in 0..count {
        let p = &photos[rng.below(photos.len())];
        let x0 = rng.below(p.width - size + 1);
        let y0 = rng.below(p.height - size + 1);
        let flip_h = rng.below(2) == 1;
        let flip_v = rng.below(2) == 1;
        for c in 0..3 {
            for y in 0..size {
                let sy = if flip_v { y0 + size - 1 - y } else { y0 + y };
                for x in 0..size {
                    let sx = if flip_h { x0 + size - 1 - x } else { x0 + x };
                    out.push(f32::from(p.rgb[(sy * p.width + sx) * 3 + c]) / 255.0);
                }
            }
        }
    }
    out
}

/// The centre `size`×`size` crop of a photo (clamped to the photo), planar floats.
pub fn centre_crop(p: &Photo, size: usize) -> (Vec<f32>, usize, usize) {
    let w = size.min(p.width) / 64 * 64;
    let h = size.min(p.height) / 64 * 64;
    let (x0, y0) = ((p.width - w) / 2, (p.height - h) / 2);
    let mut out = Vec::with_capacity(3 * w * h);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                out.push(f32::from(p.rgb[((y0 + y) * p.width + x0 + x) * 3 + c]) / 255.0);
            }
        }
    }
    (out, w, h)
}

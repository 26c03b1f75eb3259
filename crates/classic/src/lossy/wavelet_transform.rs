//! The CDF 9/7 wavelet for `wavelet-lossy`: lifting steps with whole-sample symmetric
//! extension, a multi-level 2-D decomposition of any size (odd, 1×N, 1×1), the subband layout
//! and each subband's synthesis basis energy (so that quantiser steps divided by its square
//! root give every subband the same squared error per step).

/// Lifting coefficients of the CDF 9/7 filter pair (Daubechies–Sweldens factorisation).
const ALPHA: f32 = -1.586_134_3;
const BETA: f32 = -0.052_980_118;
const GAMMA: f32 = 0.882_911_1;
const DELTA: f32 = 0.443_506_85;
const KAPPA: f32 = 1.230_174_1;

/// Most decomposition levels.
pub const MAX_LEVELS: usize = 6;

/// Index `j` reflected into `0..n` (whole-sample symmetric extension; `n ≥ 2`, `j ∈ -1..=n`).
#[inline]
fn mirror(j: isize, n: usize) -> usize {
    if j < 0 {
        (-j) as usize
    } else if j as usize >= n {
        2 * (n - 1) - j as usize
    } else {
        j as usize
    }
}

/// One lifting step on the samples of parity `start` (0 even, 1 odd): `x[i] += c·(x[i−1]+x[i+1])`.
#[inline]
fn lift(x: &mut [f32], start: usize, c: f32) {
    let n = x.len();
    let mut i = start;
    while i < n {
        let l = x[mirror(i as isize - 1, n)];
        let r = x[mirror(i as isize + 1, n)];
        x[i] += c * (l + r);
        i += 2;
    }
}

/// Forward 1-D transform of `x` (length ≥ 2), output lowpass first then highpass; `tmp` is
/// scratch of the same length.
pub fn forward_1d(x: &mut [f32], tmp: &mut [f32]) {
    let n = x.len();
    if n < 2 {
        return;
    }
    lift(x, 1, ALPHA);
    lift(x, 0, BETA);
    lift(x, 1, GAMMA);
    lift(x, 0, DELTA);
    let half = n.div_ceil(2);
    for i in 0..n {
        if i % 2 == 0 {
            tmp[i / 2] = x[i] / KAPPA;
        } else {
            tmp[half + i / 2] = x[i] * KAPPA;
        }
    }
    x.copy_from_slice(&tmp[..n]);
}

/// Inverse of [`forward_1d`].
pub fn inverse_1d(x: &mut [f32], tmp: &mut [f32]) {
    let n = x.len();
    if n < 2 {
        return;
    }
    let half = n.div_ceil(2);
    for i in 0..n {
        tmp[i] = if i % 2 == 0 { x[i / 2] * KAPPA } else { x[half + i / 2] / KAPPA };
    }
    x.copy_from_slice(&tmp[..n]);
    lift(x, 0, -DELTA);
    lift(x, 1, -GAMMA);
    lift(x, 0, -BETA);
    lift(x, 1, -ALPHA);
}

/// Vertical lifting step over whole rows of a `w`-wide region with row stride `stride`.
fn lift_rows(d: &mut [f32], stride: usize, w: usize, h: usize, start: usize, c: f32) {
    let mut y = start;
    while y < h {
        let (a, b) = (mirror(y as isize - 1, h), mirror(y as isize + 1, h));
        for x in 0..w {
            let s = d[a * stride + x] + d[b * stride + x];
            d[y * stride + x] += c * s;
        }
        y += 2;
    }
}

/// Region sizes per level: `dims[k]` is the low region transformed at level `k`.
pub fn level_dims(width: usize, height: usize, levels: usize) -> Vec<(usize, usize)> {
    let mut dims = Vec::with_capacity(levels);
    let (mut w, mut h) = (width, height);
    for _ in 0..levels {
        dims.push((w, h));
        w = if w >= 2 { w.div_ceil(2) } else { w };
        h = if h >= 2 { h.div_ceil(2) } else { h };
    }
    dims
}

/// How many levels an image of this size gets: up to [`MAX_LEVELS`], while a side is ≥ 2.
pub fn levels_for(width: usize, height: usize) -> usize {
    let (mut w, mut h, mut l) = (width, height, 0);
    while l < MAX_LEVELS && (w >= 2 || h >= 2) {
        w = if w >= 2 { w.div_ceil(2) } else { w };
        h = if h >= 2 { h.div_ceil(2) } else { h };
        l += 1;
    }
    l
}

/// Forward 2-D transform in place (`data` is `width × height`, row-major).
pub fn forward_2d(data: &mut [f32], width: usize, height: usize, levels: usize) {
    let mut tmp = vec![0f32; width.max(height)];
    let mut col = vec![0f32; width * height];
    for (w, h) in level_dims(width, height, levels) {
        if w >= 2 {
            for y in 0..h {
                forward_1d(&mut data[y * width..y * width + w], &mut tmp);
            }
        }
        if h >= 2 {
            lift_rows(data, width, w, h, 1, ALPHA);
            lift_rows(data, width, w, h, 0, BETA);
            lift_rows(data, width, w, h, 1, GAMMA);
            lift_rows(data, width, w, h, 0, DELTA);
            let half = h.div_ceil(2);
            for y in 0..h {
                let (dst, k) = if y % 2 == 0 { (y / 2, 1.0 / KAPPA) } else { (half + y / 2, KAPPA) };
                for x in 0..w {
                    col[dst * width + x] = data[y * width + x] * k;
                }
            }
            for y in 0..h {
                data[y * width..y * width + w].copy_from_slice(&col[y * width..y * width + w]);
            }
        }
    }
}

/// Inverse of [`forward_2d`].
pub fn inverse_2d(data: &mut [f32], width: usize, height: usize, levels: usize) {
    let mut tmp = vec![0f32; width.max(height)];
    let mut col = vec![0f32; width * height];
    for &(w, h) in level_dims(width, height, levels).iter().rev() {
        if h >= 2 {
            let half = h.div_ceil(2);
            for y in 0..h {
                let (src, k) = if y % 2 == 0 { (y / 2, KAPPA) } else { (half + y / 2, 1.0 / KAPPA) };
                for x in 0..w {
                    col[y * width + x] = data[src * width + x] * k;
                }
            }
            for y in 0..h {
                data[y * width..y * width + w].copy_from_slice(&col[y * width..y * width + w]);
            }
            lift_rows(data, width, w, h, 0, -DELTA);
            lift_rows(data, width, w, h, 1, -GAMMA);
            lift_rows(data, width, w, h, 0, -BETA);
            lift_rows(data, width, w, h, 1, -ALPHA);
        }
        if w >= 2 {
            for y in 0..h {
                inverse_1d(&mut data[y * width..y * width + w], &mut tmp);
            }
        }
    }
}

/// Orientation class of a subband, which picks the significance context table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Lowpass both ways (the coarsest band) or highpass vertically only.
    LowOrVertical,
    /// Highpass horizontally only.
    Horizontal,
    /// Highpass both ways.
    Diagonal,
}

/// A rectangle of coefficients holding one subband.
#[derive(Clone, Copy, Debug)]
pub struct Subband {
    /// Left column.
    pub x0: usize,
    /// Top row.
    pub y0: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
    /// Orientation class.
    pub orient: Orientation,
    /// Synthesis basis energy (squared error in the image per unit squared error here).
    pub energy: f32,
}

/// Energies of the 1-D synthesis basis functions: `(low[k], high[k])` for a lowpass after `k`
/// splits and a highpass of the `k`-th split (`high[0]` unused).
fn energies_1d() -> ([f32; MAX_LEVELS + 1], [f32; MAX_LEVELS + 1]) {
    const N: usize = 1024;
    let mut low = [1f32; MAX_LEVELS + 1];
    let mut high = [1f32; MAX_LEVELS + 1];
    let mut tmp = vec![0f32; N];
    let energy = |pos: usize, levels: usize, tmp: &mut [f32]| {
        let mut x = vec![0f32; N];
        x[pos] = 1.0;
        for k in (0..levels).rev() {
            let n = N >> k;
            inverse_1d(&mut x[..n], &mut tmp[..n]);
        }
        x.iter().map(|v| v * v).sum::<f32>()
    };
    for k in 1..=MAX_LEVELS {
        low[k] = energy((N >> k) / 2, k, &mut tmp);
        high[k] = energy((N >> k) + (N >> (k + 1)), k, &mut tmp);
    }
    (low, high)
}

/// The subbands of a `levels`-level decomposition, coarsest (the lowpass) first, then each
/// level's highpass bands from coarse to fine. Empty bands are left out.
pub fn subbands(width: usize, height: usize, levels: usize) -> Vec<Subband> {
    let (e_low, e_high) = energies_1d();
    let dims = level_dims(width, height, levels);
    // Splits made in each direction up to and including level k.
    let mut splits = Vec::with_capacity(levels);
    let (mut sx, mut sy) = (0usize, 0usize);
    for &(w, h) in &dims {
        sx += usize::from(w >= 2);
        sy += usize::from(h >= 2);
        splits.push((sx, sy));
    }
    let (lw, lh) = match dims.last() {
        Some(&(w, h)) => (if w >= 2 { w.div_ceil(2) } else { w }, if h >= 2 { h.div_ceil(2) } else { h }),
        None => (width, height),
    };
    let mut out = vec![Subband {
        x0: 0,
        y0: 0,
        w: lw,
        h: lh,
        orient: Orientation::LowOrVertical,
        energy: e_low[sx] * e_low[sy],
    }];
    for k in (0..dims.len()).rev() {
        let (w, h) = dims[k];
        let (kx, ky) = splits[k];
        let (hw, hh) = (if w >= 2 { w.div_ceil(2) } else { w }, if h >= 2 { h.div_ceil(2) } else { h });
        let bands = [
            (hw, 0, w - hw, hh, Orientation::Horizontal, e_high[kx] * e_low[ky]),
            (0, hh, hw, h - hh, Orientation::LowOrVertical, e_low[kx] * e_high[ky]),
            (hw, hh, w - hw, h - hh, Orientation::Diagonal, e_high[kx] * e_high[ky]),
        ];
        for (x0, y0, bw, bh, orient, energy) in bands {
            if bw > 0 && bh > 0 {
                out.push(Subband { x0, y0, w: bw, h: bh, orient, energy });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(w: usize, h: usize) {
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 37 % 101) as f32) - 50.0).collect();
        let mut d = src.clone();
        let levels = levels_for(w, h);
        forward_2d(&mut d, w, h, levels);
        inverse_2d(&mut d, w, h, levels);
        for (a, b) in src.iter().zip(&d) {
            assert!((a - b).abs() < 1e-3, "{w}x{h}: {a} vs {b}");
        }
        let area: usize = subbands(w, h, levels).iter().map(|b| b.w * b.h).sum();
        assert_eq!(area, w * h);
    }

    #[test]
    fn perfect_reconstruction_on_any_size() {
        for (w, h) in [(1, 1), (1, 2), (2, 1), (3, 5), (7, 1), (17, 33), (64, 64), (65, 31)] {
            round_trip(w, h);
        }
    }

    #[test]
    fn lowpass_energy_grows_by_levels() {
        let (low, high) = energies_1d();
        assert!(low[1] > 1.0 && low[2] > low[1]);
        assert!(high[1] > 0.5 && high[1] < 2.0);
    }
}

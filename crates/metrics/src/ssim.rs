//! SSIM (Wang et al. 2004) and MS-SSIM (Wang, Simoncelli and Bovik 2003).
//!
//! SSIM: Gaussian window of 11 taps, σ = 1.5, K1 = 0.01, K2 = 0.03, population (not sample)
//! covariances, averaged over the positions where the window fits — the same numbers as
//! scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
//! use_sample_covariance=False)`, whose border pixels it crops.
//!
//! MS-SSIM: five scales with the weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333, contrast–
//! structure terms at the first four and full SSIM at the last, 2×2 average pooling between
//! scales (an odd side padded by one zero in front, as `pytorch_msssim` does), negative terms
//! clamped to zero. Images too small for five scales (the last must be at least 11 pixels) use
//! as many scales as fit, with the weights renormalised; images under 11 pixels a side use one
//! global window. Colour images: the mean over the colour channels.

use tessera_core::Image;

use crate::planes::{check_pair, colour_planes, Plane};
use crate::Result;

const WIN: usize = 11;
const SIGMA: f64 = 1.5;
const WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

fn kernel() -> [f64; WIN] {
    let mut k = [0.0; WIN];
    let r = (WIN / 2) as f64;
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f64 - r;
        *v = (-(x * x) / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Gaussian-filters `data` (w × h) where the window fits: (w − 10) × (h − 10) values.
fn filter_valid(data: &[f64], w: usize, h: usize, k: &[f64; WIN]) -> Vec<f64> {
    let (ow, oh) = (w - WIN + 1, h - WIN + 1);
    let mut horiz = vec![0.0; ow * h];
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        for x in 0..ow {
            horiz[y * ow + x] = row[x..x + WIN].iter().zip(k).map(|(a, b)| a * b).sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for y in 0..oh {
        for (i, kv) in k.iter().enumerate() {
            let src = &horiz[(y + i) * ow..(y + i + 1) * ow];
            for (o, s) in out[y * ow..(y + 1) * ow].iter_mut().zip(src) {
                *o += kv * s;
            }
        }
    }
    out
}

/// Mean SSIM and mean contrast–structure term of two planes.
fn ssim_cs(a: &Plane, b: &Plane, peak: f64) -> (f64, f64) {
    let c1 = (0.01 * peak).powi(2);
    let c2 = (0.03 * peak).powi(2);
    let (w, h) = (a.width, a.height);
    if w < WIN || h < WIN {
        return global_ssim_cs(&a.data, &b.data, c1, c2);
    }
    let k = kernel();
    let prod = |f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> { a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect() };
    let mx = filter_valid(&a.data, w, h, &k);
    let my = filter_valid(&b.data, w, h, &k);
    let mxx = filter_valid(&prod(&|x, _| x * x), w, h, &k);
    let myy = filter_valid(&prod(&|_, y| y * y), w, h, &k);
    let mxy = filter_valid(&prod(&|x, y| x * y), w, h, &k);
    let (mut s_sum, mut cs_sum) = (0.0, 0.0);
    for i in 0..mx.len() {
        let (ux, uy) = (mx[i], my[i]);
        let vx = mxx[i] - ux * ux;
        let vy = myy[i] - uy * uy;
        let cov = mxy[i] - ux * uy;
        let cs = (2.0 * cov + c2) / (vx + vy + c2);
        cs_sum += cs;
        s_sum += (2.0 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs;
    }
    let n = mx.len() as f64;
    (s_sum / n, cs_sum / n)
}

/// One window over the whole (small) image.
fn global_ssim_cs(a: &[f64], b: &[f64], c1: f64, c2: f64) -> (f64, f64) {
    let n = a.len() as f64;
    let (ux, uy) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let vx = a.iter().map(|x| (x - ux).powi(2)).sum::<f64>() / n;
    let vy = b.iter().map(|y| (y - uy).powi(2)).sum::<f64>() / n;
    let cov = a.iter().zip(b).map(|(x, y)| (x - ux) * (y - uy)).sum::<f64>() / n;
    let cs = (2.0 * cov + c2) / (vx + vy + c2);
    ((2.0 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs, cs)
}

/// 2×2 average pooling; an odd side gets one zero in front (counted in the average).
fn pool(p: &Plane) -> Plane {
    let (pw, ph) = (p.width % 2, p.height % 2);
    let (w, h) = ((p.width + pw) / 2, (p.height + ph) / 2);
    let at = |x: isize, y: isize| {
        if x < 0 || y < 0 {
            0.0
        } else {
            p.data[y as usize * p.width + x as usize]
        }
    };
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h as isize {
        for x in 0..w as isize {
            let (x0, y0) = (2 * x - pw as isize, 2 * y - ph as isize);
            data.push((at(x0, y0) + at(x0 + 1, y0) + at(x0, y0 + 1) + at(x0 + 1, y0 + 1)) / 4.0);
        }
    }
    Plane { width: w, height: h, data }
}

/// Mean SSIM over the colour channels.
pub fn ssim(a: &Image, b: &Image) -> Result<f64> {
    check_pair(a, b)?;
    let peak = f64::from(a.max_value());
    let (pa, pb) = (colour_planes(a), colour_planes(b));
    Ok(pa.iter().zip(&pb).map(|(x, y)| ssim_cs(x, y, peak).0).sum::<f64>() / pa.len() as f64)
}

/// MS-SSIM, the mean over the colour channels.
pub fn ms_ssim(a: &Image, b: &Image) -> Result<f64> {
    check_pair(a, b)?;
    let peak = f64::from(a.max_value());
    let side = a.width().min(a.total_height()) as usize;
    // Scales that fit: the last one at least WIN pixels on its short side.
    let mut scales = 1;
    while scales < 5 && side.div_ceil(1 << scales) >= WIN {
        scales += 1;
    }
    let weights = &WEIGHTS[..scales];
    // The standard weights sum to 1.0001 and are used as they are; fewer scales renormalise.
    let norm: f64 = if scales == 5 { 1.0 } else { weights.iter().sum() };
    let mut total = 0.0;
    let (pa, pb) = (colour_planes(a), colour_planes(b));
    for (x, y) in pa.into_iter().zip(pb) {
        let (mut x, mut y) = (x, y);
        let mut value = 1.0;
        for (i, &w) in weights.iter().enumerate() {
            let (s, cs) = ssim_cs(&x, &y, peak);
            let term = if i + 1 == scales { s } else { cs };
            value *= term.max(0.0).powf(w / norm);
            if i + 1 < scales {
                x = pool(&x);
                y = pool(&y);
            }
        }
        total += value;
    }
    Ok(total / f64::from(crate::planes::colour_channels(a)))
}

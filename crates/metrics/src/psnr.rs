//! Mean squared error and PSNR.

use tessera_core::Image;

use crate::planes::{check_pair, colour_planes, luma, Plane};
use crate::Result;

fn plane_se(a: &Plane, b: &Plane) -> f64 {
    a.data.iter().zip(&b.data).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn to_psnr(mse: f64, peak: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

/// Mean squared error over all colour samples.
pub fn mse(a: &Image, b: &Image) -> Result<f64> {
    check_pair(a, b)?;
    let (pa, pb) = (colour_planes(a), colour_planes(b));
    let n: usize = pa.iter().map(|p| p.data.len()).sum();
    let se: f64 = pa.iter().zip(&pb).map(|(x, y)| plane_se(x, y)).sum();
    Ok(se / n as f64)
}

/// PSNR in dB over all colour samples (the "RGB PSNR" of the literature); +∞ for identical
/// images.
pub fn psnr(a: &Image, b: &Image) -> Result<f64> {
    Ok(to_psnr(mse(a, b)?, f64::from(a.max_value())))
}

/// PSNR of each colour channel.
pub fn psnr_channels(a: &Image, b: &Image) -> Result<Vec<f64>> {
    check_pair(a, b)?;
    let peak = f64::from(a.max_value());
    Ok(colour_planes(a)
        .iter()
        .zip(&colour_planes(b))
        .map(|(x, y)| to_psnr(plane_se(x, y) / x.data.len() as f64, peak))
        .collect())
}

/// PSNR of BT.601 luma (Y = 0.299 R + 0.587 G + 0.114 B, unrounded).
pub fn psnr_luma(a: &Image, b: &Image) -> Result<f64> {
    check_pair(a, b)?;
    let (ya, yb) = (luma(a), luma(b));
    Ok(to_psnr(plane_se(&ya, &yb) / ya.data.len() as f64, f64::from(a.max_value())))
}

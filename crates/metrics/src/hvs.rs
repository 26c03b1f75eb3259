//! PSNR-HVS and PSNR-HVS-M (Egiazarian et al. 2006; Ponomarenko et al. 2007).
//!
//! Both compare 8×8 blocks (stepping by 8, whole blocks only) in the orthonormal DCT domain,
//! each coefficient's error weighted by the contrast sensitivity of its basis function;
//! PSNR-HVS-M also lets the larger of the two blocks' masking energies hide part of each
//! error. The tables are the published ones. Colour images are measured on BT.601 luma.

use tessera_core::Image;

use crate::planes::{check_pair, luma, Plane};
use crate::Result;

/// Contrast sensitivity of each DCT basis function, `[row][column]`.
const CSF: [[f64; 8]; 8] = [
    [1.608443, 2.339554, 2.573509, 1.608443, 1.072295, 0.643377, 0.504610, 0.421887],
    [2.144591, 2.144591, 1.838221, 1.354478, 0.989811, 0.443708, 0.428918, 0.467911],
    [1.838221, 1.979622, 1.608443, 1.072295, 0.643377, 0.451493, 0.372972, 0.459555],
    [1.838221, 1.513829, 1.169777, 0.887417, 0.504610, 0.295806, 0.321689, 0.415082],
    [1.429727, 1.169777, 0.695543, 0.459555, 0.378457, 0.236102, 0.249855, 0.334222],
    [1.072295, 0.735288, 0.467911, 0.402111, 0.317717, 0.247453, 0.227744, 0.279729],
    [0.525206, 0.402111, 0.329937, 0.295806, 0.249855, 0.212687, 0.214459, 0.254803],
    [0.357432, 0.279729, 0.270896, 0.262603, 0.229778, 0.257351, 0.249855, 0.259950],
];

/// Masking weight of each DCT basis function, `[row][column]`.
const MASK: [[f64; 8]; 8] = [
    [0.390625, 0.826446, 1.000000, 0.390625, 0.173611, 0.062500, 0.038447, 0.026874],
    [0.694444, 0.694444, 0.510204, 0.277008, 0.147929, 0.029727, 0.027778, 0.033058],
    [0.510204, 0.591716, 0.390625, 0.173611, 0.062500, 0.030779, 0.021004, 0.031888],
    [0.510204, 0.346021, 0.206612, 0.118906, 0.038447, 0.013212, 0.015625, 0.026015],
    [0.308642, 0.206612, 0.073046, 0.031888, 0.021626, 0.008417, 0.009426, 0.016866],
    [0.173611, 0.081633, 0.033058, 0.024414, 0.015242, 0.009246, 0.007831, 0.011815],
    [0.041649, 0.024414, 0.016437, 0.013212, 0.009426, 0.006830, 0.006944, 0.009803],
    [0.019290, 0.011815, 0.011080, 0.010412, 0.007972, 0.010000, 0.009426, 0.010203],
];

/// Orthonormal 8×8 DCT-II (MATLAB's `dct2`).
fn dct8(block: &[[f64; 8]; 8], basis: &[[f64; 8]; 8]) -> [[f64; 8]; 8] {
    let mut tmp = [[0.0; 8]; 8];
    for (k, row) in tmp.iter_mut().enumerate() {
        for (m, v) in row.iter_mut().enumerate() {
            *v = (0..8).map(|n| basis[k][n] * block[n][m]).sum();
        }
    }
    let mut out = [[0.0; 8]; 8];
    for k in 0..8 {
        for l in 0..8 {
            out[k][l] = (0..8).map(|m| tmp[k][m] * basis[l][m]).sum();
        }
    }
    out
}

fn dct_basis() -> [[f64; 8]; 8] {
    let mut t = [[0.0; 8]; 8];
    for (k, row) in t.iter_mut().enumerate() {
        let scale = if k == 0 { (1.0f64 / 8.0).sqrt() } else { (2.0f64 / 8.0).sqrt() };
        for (n, v) in row.iter_mut().enumerate() {
            *v = scale * (std::f64::consts::PI * (2 * n + 1) as f64 * k as f64 / 16.0).cos();
        }
    }
    t
}

/// Sum of squared deviations × n/(n − 1): MATLAB's `var(z(:)) * numel(z)`.
fn vari(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    values.map(|v| (v - mean).powi(2)).sum::<f64>() * n / (n - 1.0)
}

/// The block's masking energy (`maskeff` of the reference).
fn masking(block: &[[f64; 8]; 8], dct: &[[f64; 8]; 8]) -> f64 {
    let mut m = 0.0;
    for k in 0..8 {
        for l in 0..8 {
            if k != 0 || l != 0 {
                m += dct[k][l].powi(2) * MASK[k][l];
            }
        }
    }
    let all = vari(block.iter().flatten().copied());
    let mut pop = all;
    if all != 0.0 {
        let quad = |y0: usize, x0: usize| vari((0..16).map(move |i| block[y0 + i / 4][x0 + i % 4]));
        pop = (quad(0, 0) + quad(0, 4) + quad(4, 4) + quad(4, 0)) / all;
    }
    (m * pop).sqrt() / 32.0
}

/// `(PSNR-HVS-M, PSNR-HVS)` of two planes.
fn hvs_pair(a: &Plane, b: &Plane, peak: f64) -> (f64, f64) {
    let basis = dct_basis();
    let (mut s_m, mut s, mut n) = (0.0, 0.0, 0usize);
    let mut y = 0;
    while y + 8 <= a.height {
        let mut x = 0;
        while x + 8 <= a.width {
            let mut ba = [[0.0; 8]; 8];
            let mut bb = [[0.0; 8]; 8];
            for r in 0..8 {
                for c in 0..8 {
                    ba[r][c] = a.data[(y + r) * a.width + x + c];
                    bb[r][c] = b.data[(y + r) * b.width + x + c];
                }
            }
            let (da, db) = (dct8(&ba, &basis), dct8(&bb, &basis));
            let mask = masking(&ba, &da).max(masking(&bb, &db));
            for k in 0..8 {
                for l in 0..8 {
                    let mut u = (da[k][l] - db[k][l]).abs();
                    s += (u * CSF[k][l]).powi(2);
                    if k != 0 || l != 0 {
                        let t = mask / MASK[k][l];
                        u = if u < t { 0.0 } else { u - t };
                    }
                    s_m += (u * CSF[k][l]).powi(2);
                    n += 1;
                }
            }
            x += 8;
        }
        y += 8;
    }
    // Scale the 0..255 tables' result to the image's peak.
    let to_db = |e: f64| if n == 0 || e == 0.0 { f64::INFINITY } else { 10.0 * (peak * peak / (e / n as f64)).log10() };
    (to_db(s_m), to_db(s))
}

/// PSNR-HVS in dB (on luma for colour images); +∞ for identical images or images under 8×8.
pub fn psnr_hvs(a: &Image, b: &Image) -> Result<f64> {
    check_pair(a, b)?;
    Ok(hvs_pair(&luma(a), &luma(b), f64::from(a.max_value())).1)
}

/// PSNR-HVS-M in dB (on luma for colour images).
pub fn psnr_hvs_m(a: &Image, b: &Image) -> Result<f64> {
    check_pair(a, b)?;
    Ok(hvs_pair(&luma(a), &luma(b), f64::from(a.max_value())).0)
}

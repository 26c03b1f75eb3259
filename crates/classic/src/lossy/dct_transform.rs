//! The orthonormal 8×8 type-II DCT and its inverse, computed separably with a precomputed
//! cosine matrix.

use std::sync::OnceLock;

/// `C[k][n] = a(k) cos((2n+1)kπ/16)`, orthonormal.
fn basis() -> &'static [[f32; 8]; 8] {
    static B: OnceLock<[[f32; 8]; 8]> = OnceLock::new();
    B.get_or_init(|| {
        let mut c = [[0f32; 8]; 8];
        for (k, row) in c.iter_mut().enumerate() {
            let a = if k == 0 { (1.0f64 / 8.0).sqrt() } else { (2.0f64 / 8.0).sqrt() };
            for (n, v) in row.iter_mut().enumerate() {
                *v = (a * ((2 * n + 1) as f64 * k as f64 * std::f64::consts::PI / 16.0).cos()) as f32;
            }
        }
        c
    })
}

/// Forward 2-D DCT of a row-major 8×8 block, in place.
pub fn forward(block: &mut [f32; 64]) {
    let c = basis();
    let mut tmp = [0f32; 64];
    for y in 0..8 {
        for k in 0..8 {
            tmp[y * 8 + k] = (0..8).map(|n| c[k][n] * block[y * 8 + n]).sum();
        }
    }
    for x in 0..8 {
        for k in 0..8 {
            block[k * 8 + x] = (0..8).map(|n| c[k][n] * tmp[n * 8 + x]).sum();
        }
    }
}

/// Inverse 2-D DCT of a row-major 8×8 coefficient block, in place.
pub fn inverse(block: &mut [f32; 64]) {
    let c = basis();
    let mut tmp = [0f32; 64];
    for x in 0..8 {
        for n in 0..8 {
            tmp[n * 8 + x] = (0..8).map(|k| c[k][n] * block[k * 8 + x]).sum();
        }
    }
    for y in 0..8 {
        for n in 0..8 {
            block[y * 8 + n] = (0..8).map(|k| c[k][n] * tmp[y * 8 + k]).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_forward() {
        let mut b = [0f32; 64];
        for (i, v) in b.iter_mut().enumerate() {
            *v = ((i * 37) % 255) as f32 - 128.0;
        }
        let orig = b;
        forward(&mut b);
        // A constant offset would land in DC only; energy is preserved (orthonormal).
        let e0: f32 = orig.iter().map(|v| v * v).sum();
        let e1: f32 = b.iter().map(|v| v * v).sum();
        assert!((e0 - e1).abs() / e0 < 1e-4);
        inverse(&mut b);
        for (a, o) in b.iter().zip(orig.iter()) {
            assert!((a - o).abs() < 1e-2);
        }
    }
}

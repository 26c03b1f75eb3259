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
        psnr_rgb: finite(tessera_metrics::psnr(original, decoded).map_err(|e| e.to_string())?),
        ms_ssim_rgb: ms_ssim(original, decoded),
        psnr_hvs: tessera_metrics::psnr_hvs(original, decoded).ok().and_then(finite),
        psnr_hvs_m: tessera_metrics::psnr_hvs_m(original, decoded).ok().and_then(finite),
    })
}

/// MS-SSIM, or `None` where it is undefined (images too small for five scales).
fn ms_ssim(a: &Image, b: &Image) -> Option<f64> {
    tessera_metrics::ms_ssim(a, b).ok().filter(|v| v.is_finite())
}

/// BD-rate in percent of `test` against `anchor` (points `(bpp, PSNR)`), `None` when the
/// curves do not overlap.
pub fn bd_rate(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Option<f64> {
    tessera_metrics::bd_rate(anchor, test).ok().filter(|v| v.is_finite())
}

//! Every metric for one pair of images, for `tessera compare`.

use serde::Serialize;
use tessera_core::Image;

use crate::Result;

/// The metrics of one image pair. Infinite values (identical images) are `null` in JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Width × height × frames.
    pub pixels: u64,
    /// Mean squared error over colour samples.
    pub mse: f64,
    /// RGB PSNR in dB.
    #[serde(rename = "psnr-rgb")]
    pub psnr_rgb: Option<f64>,
    /// PSNR of each colour channel.
    #[serde(rename = "psnr-channels")]
    pub psnr_channels: Vec<Option<f64>>,
    /// PSNR of BT.601 luma.
    #[serde(rename = "psnr-y")]
    pub psnr_y: Option<f64>,
    /// Mean SSIM over colour channels.
    pub ssim: f64,
    /// MS-SSIM.
    #[serde(rename = "ms-ssim")]
    pub ms_ssim: f64,
    /// MS-SSIM in dB: −10 log10(1 − MS-SSIM).
    #[serde(rename = "ms-ssim-db")]
    pub ms_ssim_db: Option<f64>,
    /// PSNR-HVS on luma.
    #[serde(rename = "psnr-hvs")]
    pub psnr_hvs: Option<f64>,
    /// PSNR-HVS-M on luma.
    #[serde(rename = "psnr-hvs-m")]
    pub psnr_hvs_m: Option<f64>,
    /// Whether the image has a whole 8×8 block, without which PSNR-HVS(-M) measures nothing.
    #[serde(skip)]
    pub hvs_blocks: bool,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Measures `decoded` against `original`.
pub fn compare(original: &Image, decoded: &Image) -> Result<Comparison> {
    let ms = crate::ms_ssim(original, decoded)?;
    Ok(Comparison {
        pixels: original.pixel_count() as u64,
        mse: crate::mse(original, decoded)?,
        psnr_rgb: finite(crate::psnr(original, decoded)?),
        psnr_channels: crate::psnr_channels(original, decoded)?.into_iter().map(finite).collect(),
        psnr_y: finite(crate::psnr_luma(original, decoded)?),
        ssim: crate::ssim(original, decoded)?,
        ms_ssim: ms,
        ms_ssim_db: finite(-10.0 * (1.0 - ms).log10()),
        psnr_hvs: finite(crate::psnr_hvs(original, decoded)?),
        psnr_hvs_m: finite(crate::psnr_hvs_m(original, decoded)?),
        hvs_blocks: original.width() >= 8 && original.height() >= 8,
    })
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let db = |v: Option<f64>| v.map_or("inf (identical)".to_string(), |v| format!("{v:.4} dB"));
        writeln!(f, "pixels      {}", self.pixels)?;
        writeln!(f, "MSE         {:.6}", self.mse)?;
        writeln!(f, "PSNR        {}", db(self.psnr_rgb))?;
        let ch: Vec<String> = self.psnr_channels.iter().map(|&v| db(v)).collect();
        writeln!(f, "PSNR/chan   {}", ch.join(", "))?;
        writeln!(f, "PSNR-Y      {}", db(self.psnr_y))?;
        writeln!(f, "SSIM        {:.6}", self.ssim)?;
        writeln!(f, "MS-SSIM     {:.6} ({})", self.ms_ssim, db(self.ms_ssim_db))?;
        let hvs = |v| if self.hvs_blocks { db(v) } else { "n/a (no whole 8×8 block)".to_string() };
        writeln!(f, "PSNR-HVS    {}", hvs(self.psnr_hvs))?;
        write!(f, "PSNR-HVS-M  {}", hvs(self.psnr_hvs_m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(side: u32, shift: u8) -> Image {
        let data: Vec<u8> = (0..side * side).map(|i| (i * 7 % 200) as u8 + shift).collect();
        Image::from_u8(side, side, 1, &data).unwrap()
    }

    #[test]
    fn psnr_hvs_is_not_available_under_one_block_rather_than_identical() {
        let small = compare(&gray(4, 0), &gray(4, 3)).unwrap().to_string();
        assert!(small.contains("PSNR-HVS    n/a"), "{small}");
        assert!(!small.contains("identical"), "{small}");
        let same = compare(&gray(16, 0), &gray(16, 0)).unwrap().to_string();
        assert!(same.contains("PSNR-HVS    inf (identical)"), "{same}");
        let apart = compare(&gray(16, 0), &gray(16, 3)).unwrap();
        assert!(apart.psnr_hvs.is_some() && apart.to_string().contains("PSNR-HVS    "));
    }
}

//! `tessera-metrics` measures how far a decoded image is from its original and how many bits
//! it took: PSNR (RGB, per channel, luma), SSIM, MS-SSIM, PSNR-HVS and PSNR-HVS-M, bits per
//! pixel and compression ratio, and the Bjøntegaard delta rate and PSNR and the area under a
//! rate–distortion curve.
//!
//! Colour metrics use the colour channels only: an alpha channel is ignored. Images of 16 bits
//! are measured with a peak of 65535. Every metric is checked against a reference
//! implementation (`scripts/golden/make_golden.py`, values in `tests/golden/`).

mod bd;
mod compare;
mod hvs;
mod planes;
mod psnr;
mod rate;
mod ssim;

pub use bd::{auc, bd_psnr, bd_rate, Curve};
pub use compare::{compare, Comparison};
pub use hvs::{psnr_hvs, psnr_hvs_m};
pub use psnr::{mse, psnr, psnr_channels, psnr_luma};
pub use rate::{bits_per_pixel, bits_per_subpixel, compression_ratio};
pub use ssim::{ms_ssim, ssim};

/// Errors: images that cannot be compared, curves that cannot be integrated.
pub type Result<T> = std::result::Result<T, tessera_core::Error>;

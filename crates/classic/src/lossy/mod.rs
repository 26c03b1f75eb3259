//! Lossy classical transform codecs.
//!
//! `dct`: an 8×8 DCT in YCbCr (4:2:0 or 4:4:4) with quality-scaled quantisation tables and
//! coefficients coded by a context-adaptive binary range coder.
//!
//! `wavelet-lossy`: the CDF 9/7 wavelet in YCbCr with an embedded bit-plane stream that can be
//! cut at any byte.

pub mod dct;
mod dct_transform;
pub mod wavelet;
mod wavelet_bitplane;
mod wavelet_transform;

//! Lossy classical transform codecs.
//!
//! `dct`: an 8×8 DCT in YCbCr (4:2:0 or 4:4:4) with quality-scaled quantisation tables and
//! coefficients coded by a context-adaptive binary range coder.

pub mod dct;
mod dct_transform;

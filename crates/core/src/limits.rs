//! Limits checked before anything is allocated from sizes a file declares.

use crate::{Error, Result};

/// Upper bounds on what a file may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most pixels (width × height × frames) in one image: 2^27 by default (134 megapixels),
    /// which keeps what a decoder may allocate for a tiny hostile file within a few GiB.
    pub max_pixels: u64,
    /// Most bytes of payload in one container.
    pub max_payload: u64,
    /// Most bytes of codec parameters.
    pub max_params: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_pixels: 1 << 27, max_payload: 1 << 32, max_params: 1 << 24 }
    }
}

impl Limits {
    /// Checks a pixel count (`width × height × frames`) against [`Limits::max_pixels`].
    pub fn check_pixels(&self, width: u32, height: u32, frames: u32) -> Result<u64> {
        let n = u64::from(width) * u64::from(height) * u64::from(frames);
        if n > self.max_pixels {
            return Err(Error::Limit(format!(
                "{width}x{height}x{frames} = {n} pixels, more than the limit of {}",
                self.max_pixels
            )));
        }
        Ok(n)
    }
}

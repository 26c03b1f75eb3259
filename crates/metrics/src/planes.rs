//! Images as f64 planes of their colour channels, and the checks every metric starts with.

use tessera_core::{Error, Image};

use crate::Result;

/// A plane of samples.
pub(crate) struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f64>,
}

/// Number of colour channels: alpha is not colour.
pub(crate) fn colour_channels(img: &Image) -> u8 {
    match img.channels() {
        2 => 1,
        4 => 3,
        c => c,
    }
}

/// Refuses pairs that differ in geometry or format.
pub(crate) fn check_pair(a: &Image, b: &Image) -> Result<()> {
    let geo = |i: &Image| (i.width(), i.total_height(), i.channels(), i.bit_depth());
    if geo(a) != geo(b) {
        return Err(Error::InvalidParam(format!("cannot compare {a:?} with {b:?}")));
    }
    Ok(())
}

/// The colour planes of an image.
pub(crate) fn colour_planes(img: &Image) -> Vec<Plane> {
    (0..colour_channels(img))
        .map(|c| Plane {
            width: img.width() as usize,
            height: img.total_height() as usize,
            data: img.plane(c).iter().map(|&v| f64::from(v)).collect(),
        })
        .collect()
}

/// BT.601 luma (unrounded) of an RGB image, or the gray plane of a gray one.
pub(crate) fn luma(img: &Image) -> Plane {
    let mut planes = colour_planes(img);
    if planes.len() == 1 {
        return planes.pop().expect("one plane");
    }
    let data = (0..planes[0].data.len())
        .map(|i| 0.299 * planes[0].data[i] + 0.587 * planes[1].data[i] + 0.114 * planes[2].data[i])
        .collect();
    Plane { width: planes[0].width, height: planes[0].height, data }
}

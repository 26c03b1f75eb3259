//! Float planes for the lossy codecs: RGB ↔ YCbCr, 4:2:0 chroma, edge padding, and the way
//! back to an 8- or 16-bit image.

use tessera_core::color::{rgb_to_ycbcr, ycbcr_to_rgb};
use tessera_core::{Error, Header, Image, Result};

/// One channel of samples in 0..=255 (chroma centred on 0), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    /// Width in samples.
    pub width: usize,
    /// Height in samples.
    pub height: usize,
    /// The samples.
    pub data: Vec<f32>,
}

impl Plane {
    /// A plane filled with `value`.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Plane { width, height, data: vec![value; width * height] }
    }

    /// The sample at `(x, y)`, with coordinates clamped to the plane (edge replication).
    #[inline]
    pub fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.data[y * self.width + x]
    }

    /// Half the size in each direction (rounded up), by 2×2 averaging.
    pub fn downsample2(&self) -> Plane {
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h as isize {
            for x in 0..w as isize {
                let s = self.at(2 * x, 2 * y)
                    + self.at(2 * x + 1, 2 * y)
                    + self.at(2 * x, 2 * y + 1)
                    + self.at(2 * x + 1, 2 * y + 1);
                data.push(s * 0.25);
            }
        }
        Plane { width: w, height: h, data }
    }

    /// Back up to `width × height` by bilinear interpolation at the centres of the 2×2 cells.
    pub fn upsample2(&self, width: usize, height: usize) -> Plane {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            let sy = (y as f32 - 0.5) * 0.5;
            let y0 = sy.floor();
            let fy = sy - y0;
            for x in 0..width {
                let sx = (x as f32 - 0.5) * 0.5;
                let x0 = sx.floor();
                let fx = sx - x0;
                let (x0, y0) = (x0 as isize, y0 as isize);
                let top = self.at(x0, y0) * (1.0 - fx) + self.at(x0 + 1, y0) * fx;
                let bottom = self.at(x0, y0 + 1) * (1.0 - fx) + self.at(x0 + 1, y0 + 1) * fx;
                data.push(top * (1.0 - fy) + bottom * fy);
            }
        }
        Plane { width, height, data }
    }

    /// A copy padded by edge replication to `width × height` (each at least the current size).
    pub fn padded(&self, width: usize, height: usize) -> Plane {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height as isize {
            for x in 0..width as isize {
                data.push(self.at(x, y));
            }
        }
        Plane { width, height, data }
    }

    /// The top-left `width × height` part.
    pub fn cropped(&self, width: usize, height: usize) -> Plane {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            data.extend_from_slice(&self.data[y * self.width..y * self.width + width]);
        }
        Plane { width, height, data }
    }
}

/// Splits an 8- or 16-bit gray or colour image into Y (and Cb, Cr) planes on a 0..=255 scale.
/// Images with alpha are refused: the lossy codecs code colour only.
pub fn to_ycbcr(image: &Image) -> Result<Vec<Plane>> {
    if image.has_alpha() {
        return Err(Error::Unsupported("lossy codecs do not code alpha; drop it or use a lossless codec".into()));
    }
    let (w, h) = (image.width() as usize, image.total_height() as usize);
    let scale = 255.0 / f32::from(image.max_value());
    let s = image.samples();
    if image.channels() == 1 {
        let data = s.iter().map(|&v| f32::from(v) * scale).collect();
        return Ok(vec![Plane { width: w, height: h, data }]);
    }
    let mut planes = [Vec::with_capacity(w * h), Vec::with_capacity(w * h), Vec::with_capacity(w * h)];
    for px in s.chunks_exact(3) {
        let (y, cb, cr) = rgb_to_ycbcr(
            f32::from(px[0]) * scale,
            f32::from(px[1]) * scale,
            f32::from(px[2]) * scale,
        );
        planes[0].push(y);
        planes[1].push(cb);
        planes[2].push(cr);
    }
    Ok(planes.into_iter().map(|data| Plane { width: w, height: h, data }).collect())
}

/// Joins Y (and Cb, Cr) planes of the image's full size back into an image of the given
/// geometry, rounding and clamping.
pub fn from_ycbcr(planes: &[Plane], width: u32, height: u32, frames: u32, bit_depth: u8) -> Result<Image> {
    let max = if bit_depth == 8 { 255.0 } else { 65535.0 };
    let scale = max / 255.0;
    let q = |v: f32| (v * scale).round().clamp(0.0, max) as u16;
    let n = width as usize * height as usize * frames as usize;
    if planes.iter().any(|p| p.data.len() != n) {
        return Err(Error::corrupt("plane sizes differ from the image"));
    }
    let samples: Vec<u16> = match planes {
        [y] => y.data.iter().map(|&v| q(v)).collect(),
        [y, cb, cr] => (0..n)
            .flat_map(|i| {
                let (r, g, b) = ycbcr_to_rgb(y.data[i], cb.data[i], cr.data[i]);
                [q(r), q(g), q(b)]
            })
            .collect(),
        _ => return Err(Error::corrupt("one or three planes expected")),
    };
    Image::with_frames(width, height, frames, if planes.len() == 1 { 1 } else { 3 }, bit_depth, samples)
}

/// The planes a 4:2:0 lossy codec codes: Y at full size and, for colour, Cb and Cr at half
/// size.
pub fn to_ycbcr420(image: &Image) -> Result<Vec<Plane>> {
    let mut planes = to_ycbcr(image)?;
    for p in planes.iter_mut().skip(1) {
        *p = p.downsample2();
    }
    Ok(planes)
}

/// The sizes of the planes [`to_ycbcr420`] makes for the image a container describes; an
/// error for geometry a 4:2:0 codec never writes (alpha).
pub fn sizes_420(header: &Header) -> Result<Vec<(usize, usize)>> {
    let (w, h) = (header.width as usize, header.pixel_count() as usize / header.width as usize);
    match header.channels {
        1 => Ok(vec![(w, h)]),
        3 => Ok(vec![(w, h), (w.div_ceil(2), h.div_ceil(2)), (w.div_ceil(2), h.div_ceil(2))]),
        _ => Err(Error::corrupt("a lossy colour stream with alpha")),
    }
}

/// The image back from [`to_ycbcr420`]'s planes (chroma upsampled bilinearly).
pub fn from_ycbcr420(mut planes: Vec<Plane>, header: &Header) -> Result<Image> {
    let (w, h) = (header.width as usize, header.pixel_count() as usize / header.width as usize);
    for p in planes.iter_mut().skip(1) {
        *p = p.upsample2(w, h);
    }
    from_ycbcr(&planes, header.width, header.height, header.frames, header.bit_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ycbcr_round_trip_is_within_rounding() {
        let img = Image::from_u8(5, 3, 3, &(0..45).map(|i| (i * 53 % 256) as u8).collect::<Vec<_>>()).unwrap();
        let back = from_ycbcr(&to_ycbcr(&img).unwrap(), 5, 3, 1, 8).unwrap();
        for (a, b) in img.samples().iter().zip(back.samples()) {
            assert!(a.abs_diff(*b) <= 1);
        }
    }

    #[test]
    fn resampling_keeps_flat_planes_flat_and_sizes_right() {
        let p = Plane::filled(7, 5, 3.0);
        let d = p.downsample2();
        assert_eq!((d.width, d.height), (4, 3));
        let u = d.upsample2(7, 5);
        assert!(u.data.iter().all(|&v| (v - 3.0).abs() < 1e-6));
        assert_eq!(p.padded(8, 8).cropped(7, 5), p);
    }
}

//! The in-memory image every codec takes and returns.

use crate::{Error, Limits, Result};

/// An image of 8- or 16-bit samples with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)
/// interleaved channels.
///
/// A set of equally sized images (an IDX file of digits, for example) is one `Image` with
/// `frames > 1`: the frames are stacked top to bottom, so `height` is the height of one frame and
/// the sample buffer holds `width × height × frames × channels` values. Codecs that do not care
/// treat it as one tall image.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    frames: u32,
    channels: u8,
    bit_depth: u8,
    samples: Vec<u16>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Image({}x{}x{}, {} channels, {} bit)",
            self.width, self.height, self.frames, self.channels, self.bit_depth
        )
    }
}

impl Image {
    /// Builds an image from interleaved samples, checking that the geometry is valid and that
    /// every sample fits the bit depth.
    pub fn new(
        width: u32,
        height: u32,
        channels: u8,
        bit_depth: u8,
        samples: Vec<u16>,
    ) -> Result<Self> {
        Self::with_frames(width, height, 1, channels, bit_depth, samples)
    }

    /// Like [`Image::new`] for a stack of `frames` images of `width × height` each.
    pub fn with_frames(
        width: u32,
        height: u32,
        frames: u32,
        channels: u8,
        bit_depth: u8,
        samples: Vec<u16>,
    ) -> Result<Self> {
        check_geometry(width, height, frames, channels, bit_depth, &Limits::default())?;
        let n = sample_count(width, height, frames, channels);
        if samples.len() as u64 != n {
            return Err(Error::InvalidParam(format!(
                "{} samples given, {width}x{height}x{frames}x{channels} needs {n}",
                samples.len()
            )));
        }
        // An OR over all samples rather than `any`, which stops early and so runs a sample at a
        // time: this vectorises.
        if bit_depth == 8 && samples.iter().fold(0, |acc, &s| acc | s) > 255 {
            return Err(Error::InvalidParam("an 8-bit image holds a sample above 255".into()));
        }
        Ok(Image { width, height, frames, channels, bit_depth, samples })
    }

    /// Builds an 8-bit image from bytes.
    pub fn from_u8(width: u32, height: u32, channels: u8, data: &[u8]) -> Result<Self> {
        Self::new(width, height, channels, 8, data.iter().map(|&b| u16::from(b)).collect())
    }

    /// A zero-filled image.
    pub fn zeroed(width: u32, height: u32, channels: u8, bit_depth: u8) -> Result<Self> {
        check_geometry(width, height, 1, channels, bit_depth, &Limits::default())?;
        let n = sample_count(width, height, 1, channels) as usize;
        Ok(Image { width, height, frames: 1, channels, bit_depth, samples: vec![0; n] })
    }

    /// Builds an image from planes (one `Vec` per channel, each `width × height × frames` long).
    pub fn from_planes(
        width: u32,
        height: u32,
        frames: u32,
        bit_depth: u8,
        planes: &[Vec<u16>],
    ) -> Result<Self> {
        let channels = u8::try_from(planes.len())
            .map_err(|_| Error::InvalidParam("too many planes".into()))?;
        check_geometry(width, height, frames, channels, bit_depth, &Limits::default())?;
        let pixels = sample_count(width, height, frames, 1) as usize;
        if planes.iter().any(|p| p.len() != pixels) {
            return Err(Error::InvalidParam("planes differ from the image size".into()));
        }
        let mut samples = Vec::with_capacity(pixels * planes.len());
        for i in 0..pixels {
            samples.extend(planes.iter().map(|p| p[i]));
        }
        Self::with_frames(width, height, frames, channels, bit_depth, samples)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height of one frame in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Number of frames stacked top to bottom (1 for an ordinary image).
    pub fn frames(&self) -> u32 {
        self.frames
    }
    /// Height of all frames together: the height of the image seen as one tall picture.
    pub fn total_height(&self) -> u32 {
        self.height * self.frames
    }
    /// Channels per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    pub fn channels(&self) -> u8 {
        self.channels
    }
    /// Bits per sample: 8 or 16.
    pub fn bit_depth(&self) -> u8 {
        self.bit_depth
    }
    /// Largest sample value: 255 or 65535.
    pub fn max_value(&self) -> u16 {
        if self.bit_depth == 8 {
            255
        } else {
            u16::MAX
        }
    }
    /// Pixels in all frames.
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.total_height() as usize
    }
    /// Whether the image has an alpha channel.
    pub fn has_alpha(&self) -> bool {
        self.channels == 2 || self.channels == 4
    }
    /// Interleaved samples, row by row.
    pub fn samples(&self) -> &[u16] {
        &self.samples
    }
    /// Consumes the image, returning its samples.
    pub fn into_samples(self) -> Vec<u16> {
        self.samples
    }
    /// Samples as bytes; `None` for a 16-bit image.
    pub fn to_u8(&self) -> Option<Vec<u8>> {
        (self.bit_depth == 8).then(|| self.samples.iter().map(|&s| s as u8).collect())
    }
    /// One channel as a plane of `width × total_height` samples.
    pub fn plane(&self, channel: u8) -> Vec<u16> {
        let c = usize::from(self.channels);
        self.samples.iter().skip(usize::from(channel)).step_by(c).copied().collect()
    }
    /// All channels as planes.
    pub fn planes(&self) -> Vec<Vec<u16>> {
        (0..self.channels).map(|c| self.plane(c)).collect()
    }
    /// The sample at `(x, y)` of channel `c` (`y` counts over all frames).
    pub fn get(&self, x: u32, y: u32, c: u8) -> u16 {
        self.samples[(y as usize * self.width as usize + x as usize) * usize::from(self.channels)
            + usize::from(c)]
    }
    /// Frame `i` as an image of its own.
    pub fn frame(&self, i: u32) -> Result<Image> {
        if i >= self.frames {
            return Err(Error::InvalidParam(format!("frame {i} of {}", self.frames)));
        }
        let len = sample_count(self.width, self.height, 1, self.channels) as usize;
        let start = i as usize * len;
        Image::new(
            self.width,
            self.height,
            self.channels,
            self.bit_depth,
            self.samples[start..start + len].to_vec(),
        )
    }
    /// Stacks equally sized images into one image with several frames.
    pub fn stack(frames: &[Image]) -> Result<Image> {
        let first = frames.first().ok_or_else(|| Error::InvalidParam("no frames".into()))?;
        let mut samples = Vec::with_capacity(first.samples.len() * frames.len());
        for f in frames {
            if (f.width, f.height, f.channels, f.bit_depth, f.frames)
                != (first.width, first.height, first.channels, first.bit_depth, 1)
            {
                return Err(Error::InvalidParam("frames differ in size or format".into()));
            }
            samples.extend_from_slice(&f.samples);
        }
        let n = u32::try_from(frames.len()).map_err(|_| Error::Limit("too many frames".into()))?;
        Image::with_frames(first.width, first.height, n, first.channels, first.bit_depth, samples)
    }
}

/// Checks that a geometry is one Tessera can hold, within `limits`.
pub fn check_geometry(
    width: u32,
    height: u32,
    frames: u32,
    channels: u8,
    bit_depth: u8,
    limits: &Limits,
) -> Result<()> {
    if width == 0 || height == 0 || frames == 0 {
        return Err(Error::InvalidParam(format!("empty image {width}x{height}x{frames}")));
    }
    if !(1..=4).contains(&channels) {
        return Err(Error::InvalidParam(format!("{channels} channels (1 to 4 allowed)")));
    }
    if bit_depth != 8 && bit_depth != 16 {
        return Err(Error::InvalidParam(format!("bit depth {bit_depth} (8 or 16 allowed)")));
    }
    limits.check_pixels(width, height, frames)?;
    Ok(())
}

fn sample_count(width: u32, height: u32, frames: u32, channels: u8) -> u64 {
    u64::from(width) * u64::from(height) * u64::from(frames) * u64::from(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_round_trip() {
        let img = Image::from_u8(2, 1, 3, &[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(img.plane(1), vec![2, 5]);
        let back = Image::from_planes(2, 1, 1, 8, &img.planes()).unwrap();
        assert_eq!(back, img);
    }

    #[test]
    fn rejects_bad_geometry() {
        assert!(Image::from_u8(0, 1, 1, &[]).is_err());
        assert!(Image::from_u8(1, 1, 5, &[0; 5]).is_err());
        assert!(Image::from_u8(2, 2, 1, &[0; 3]).is_err());
        assert!(Image::new(1, 1, 1, 8, vec![256]).is_err());
    }

    #[test]
    fn frames_stack_and_split() {
        let a = Image::from_u8(2, 2, 1, &[1, 2, 3, 4]).unwrap();
        let b = Image::from_u8(2, 2, 1, &[5, 6, 7, 8]).unwrap();
        let s = Image::stack(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(s.total_height(), 4);
        assert_eq!(s.frame(1).unwrap(), b);
        assert_eq!(s.frame(0).unwrap(), a);
    }
}

//! References linked in as libraries rather than run from PATH (behind cargo features, since
//! they build C code): the rate is still the size of the file the library wrote.

use tessera_core::Image;

/// Encoder and decoder of an in-process reference. The encoder gets an 8-bit gray or RGB
/// image and the knob value; the decoder gets the file and the channel count wanted.
#[derive(Clone, Copy, Debug)]
pub struct Library {
    pub encode: fn(&Image, f64) -> Result<Vec<u8>, String>,
    pub decode: fn(&[u8], u8) -> Result<Image, String>,
}

/// mozjpeg through its crate: its default profile (trellis quantisation, progressive scans
/// with optimised splits, 4:2:0 for colour), `-q` like its `cjpeg`.
#[cfg(feature = "mozjpeg")]
pub mod mozjpeg_lib {
    use super::*;

    pub fn encode(image: &Image, quality: f64) -> Result<Vec<u8>, String> {
        let gray = image.channels() == 1;
        let space = if gray { mozjpeg::ColorSpace::JCS_GRAYSCALE } else { mozjpeg::ColorSpace::JCS_RGB };
        let pixels = image.to_u8().ok_or("mozjpeg takes 8-bit images")?;
        let run = || -> std::io::Result<Vec<u8>> {
            let mut c = mozjpeg::Compress::new(space);
            c.set_size(image.width() as usize, image.height() as usize);
            c.set_quality(quality as f32);
            let mut s = c.start_compress(Vec::new())?;
            s.write_scanlines(&pixels)?;
            s.finish()
        };
        std::panic::catch_unwind(run).map_err(|_| "mozjpeg failed".to_string())?.map_err(|e| e.to_string())
    }

    pub fn decode(bytes: &[u8], channels: u8) -> Result<Image, String> {
        let run = || -> std::io::Result<(usize, usize, Vec<u8>)> {
            let d = mozjpeg::Decompress::new_mem(bytes)?;
            let mut started = if channels == 1 { d.grayscale()? } else { d.rgb()? };
            let (w, h) = (started.width(), started.height());
            let px: Vec<u8> = started.read_scanlines()?;
            started.finish()?;
            Ok((w, h, px))
        };
        let (w, h, px) =
            std::panic::catch_unwind(run).map_err(|_| "mozjpeg failed".to_string())?.map_err(|e| e.to_string())?;
        Image::from_u8(w as u32, h as u32, channels, &px).map_err(|e| e.to_string())
    }
}

#[cfg(all(test, feature = "mozjpeg"))]
mod tests {
    use super::mozjpeg_lib::{decode, encode};
    use tessera_core::Image;

    #[test]
    fn mozjpeg_writes_jpeg_files_that_decode_close_to_the_input() {
        let px: Vec<u8> = (0..64 * 48 * 3).map(|i: usize| ((i % 192) / 3 + (i / 192) * 2 + (i * 2_654_435_761 >> 28) % 24) as u8).collect();
        let img = Image::from_u8(64, 48, 3, &px).unwrap();
        let (small, large) = (encode(&img, 20.0).unwrap(), encode(&img, 90.0).unwrap());
        assert!(small.starts_with(&[0xff, 0xd8]), "{:?}", &small[..4.min(small.len())]);
        assert!(small.len() < large.len(), "{} {}", small.len(), large.len());
        let back = decode(&large, 3).unwrap();
        assert_eq!((back.width(), back.height(), back.channels()), (64, 48, 3));
        let psnr = tessera_metrics::psnr(&img, &back).unwrap();
        assert!(psnr > 28.0, "{psnr}");
        let gray = Image::from_u8(64, 48, 1, &px[..64 * 48]).unwrap();
        assert_eq!(decode(&encode(&gray, 75.0).unwrap(), 1).unwrap().channels(), 1);
        assert!(decode(b"not a jpeg", 3).is_err());
    }
}

//! Reading and writing image files: PNG, PPM/PGM and whatever else the `image` crate reads;
//! IDX (the MNIST format) for sets of images; atomic writes that never leave half a file.

use std::io::Write;
use std::path::Path;

use crate::{Error, Image, Result};

/// Formats Tessera writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG (8 or 16 bit, with alpha).
    Png,
    /// Binary PPM / PGM (P6 / P5), 8 or 16 bit, no alpha.
    Pnm,
    /// IDX3 unsigned bytes: a set of gray frames.
    Idx,
}

impl Format {
    /// The format a file name asks for: `.ppm`/`.pgm`/`.pnm` → PNM, `.idx`/`*-ubyte` → IDX,
    /// anything else PNG.
    pub fn from_path(path: &Path) -> Format {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
        if name.ends_with(".ppm") || name.ends_with(".pgm") || name.ends_with(".pnm") {
            Format::Pnm
        } else if name.ends_with(".idx") || name.ends_with("-ubyte") || name.contains("-idx3-") {
            Format::Idx
        } else {
            Format::Png
        }
    }
}

/// Most bytes a gzip-compressed input may expand to.
const MAX_GUNZIPPED: u64 = 1 << 30;

/// Decodes an image file's bytes. IDX3 files (and gzip-compressed IDX3, as MNIST ships) become
/// one image with a frame per item; everything else goes through the `image` crate.
pub fn decode_image(bytes: &[u8]) -> Result<Image> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return decode_image(&gunzip(bytes)?);
    }
    if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08 && bytes[3] == 3 {
        return read_idx(bytes);
    }
    let img = image::load_from_memory(bytes)
        .map_err(|e| Error::Unsupported(format!("cannot read image: {e}")))?;
    from_dynamic(img)
}

/// Reads an image file.
pub fn read_image(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path)?;
    decode_image(&bytes)
}

/// Converts an `image` crate image, keeping 16-bit depth and alpha.
pub fn from_dynamic(img: image::DynamicImage) -> Result<Image> {
    use image::DynamicImage as D;
    let (w, h) = (img.width(), img.height());
    match img {
        D::ImageLuma8(b) => Image::from_u8(w, h, 1, b.as_raw()),
        D::ImageLumaA8(b) => Image::from_u8(w, h, 2, b.as_raw()),
        D::ImageRgb8(b) => Image::from_u8(w, h, 3, b.as_raw()),
        D::ImageRgba8(b) => Image::from_u8(w, h, 4, b.as_raw()),
        D::ImageLuma16(b) => Image::new(w, h, 1, 16, b.into_raw()),
        D::ImageLumaA16(b) => Image::new(w, h, 2, 16, b.into_raw()),
        D::ImageRgb16(b) => Image::new(w, h, 3, 16, b.into_raw()),
        D::ImageRgba16(b) => Image::new(w, h, 4, 16, b.into_raw()),
        other if other.color().has_alpha() => Image::new(w, h, 4, 16, other.into_rgba16().into_raw()),
        other => Image::new(w, h, 3, 16, other.into_rgb16().into_raw()),
    }
}

/// Converts to an `image` crate image (frames stacked into one tall picture).
pub fn to_dynamic(img: &Image) -> Result<image::DynamicImage> {
    use image::{DynamicImage as D, ImageBuffer};
    let (w, h) = (img.width(), img.total_height());
    let bad = || Error::InvalidParam("image buffer size".into());
    Ok(match (img.bit_depth(), img.channels()) {
        (8, c) => {
            let raw = img.to_u8().expect("8-bit");
            match c {
                1 => D::ImageLuma8(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
                2 => D::ImageLumaA8(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
                3 => D::ImageRgb8(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
                _ => D::ImageRgba8(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
            }
        }
        (_, c) => {
            let raw = img.samples().to_vec();
            match c {
                1 => D::ImageLuma16(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
                2 => D::ImageLumaA16(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
                3 => D::ImageRgb16(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
                _ => D::ImageRgba16(ImageBuffer::from_raw(w, h, raw).ok_or_else(bad)?),
            }
        }
    })
}

/// Encodes an image in `format`.
pub fn encode_image(img: &Image, format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Idx => write_idx(img),
        Format::Pnm => {
            if img.has_alpha() {
                return Err(Error::Unsupported("PPM/PGM cannot hold alpha; write PNG".into()));
            }
            let magic = if img.channels() == 1 { "P5" } else { "P6" };
            let mut out =
                format!("{magic}\n{} {}\n{}\n", img.width(), img.total_height(), img.max_value())
                    .into_bytes();
            if img.bit_depth() == 8 {
                out.extend(img.samples().iter().map(|&s| s as u8));
            } else {
                out.extend(img.samples().iter().flat_map(|s| s.to_be_bytes()));
            }
            Ok(out)
        }
        Format::Png => {
            let mut out = std::io::Cursor::new(Vec::new());
            to_dynamic(img)?
                .write_to(&mut out, image::ImageFormat::Png)
                .map_err(|e| Error::Io(std::io::Error::other(e)))?;
            Ok(out.into_inner())
        }
    }
}

/// Decompresses gzip data, refusing more than [`MAX_GUNZIPPED`] bytes of output.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_GUNZIPPED + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Corrupt(format!("gzip: {e}")))?;
    if out.len() as u64 > MAX_GUNZIPPED {
        return Err(Error::Limit("gzip data expands beyond 1 GiB".into()));
    }
    Ok(out)
}

/// Parses an IDX3 unsigned-byte file (`00 00 08 03`, count, rows, columns, pixels).
pub fn read_idx(bytes: &[u8]) -> Result<Image> {
    if bytes.len() < 16 || bytes[..4] != [0, 0, 8, 3] {
        return Err(Error::Unsupported("not an IDX3 unsigned-byte file".into()));
    }
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let (n, rows, cols) = (word(4), word(8), word(12));
    crate::image::check_geometry(cols, rows, n, 1, 8, &crate::Limits::default())?;
    let len = n as usize * rows as usize * cols as usize;
    if bytes.len() != 16 + len {
        return Err(Error::Truncated(format!(
            "IDX header says {n}x{rows}x{cols} ({len} bytes), file has {}",
            bytes.len() - 16
        )));
    }
    let samples = bytes[16..].iter().map(|&b| u16::from(b)).collect();
    Image::with_frames(cols, rows, n, 1, 8, samples)
}

/// Writes an 8-bit gray image as IDX3, one item per frame.
pub fn write_idx(img: &Image) -> Result<Vec<u8>> {
    if img.channels() != 1 || img.bit_depth() != 8 {
        return Err(Error::Unsupported("IDX holds 8-bit gray images only".into()));
    }
    let mut out = vec![0, 0, 8, 3];
    for v in [img.frames(), img.height(), img.width()] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend(img.samples().iter().map(|&s| s as u8));
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename. Refuses to
/// replace an existing file unless `force`.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if !force && path.exists() {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists (use --force to overwrite)", path.display()),
        )));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_pnm_round_trip_16_bit_and_alpha() {
        let img = Image::new(3, 2, 4, 16, (0..24).map(|i| i * 2700).collect()).unwrap();
        let png = encode_image(&img, Format::Png).unwrap();
        assert_eq!(decode_image(&png).unwrap(), img);
        let gray = Image::new(3, 2, 1, 16, (0..6).map(|i| i * 9000).collect()).unwrap();
        let pgm = encode_image(&gray, Format::Pnm).unwrap();
        assert_eq!(decode_image(&pgm).unwrap(), gray);
    }

    #[test]
    fn idx_round_trips_and_rejects_bad_sizes() {
        let img = Image::with_frames(2, 2, 3, 1, 8, (0..12).collect()).unwrap();
        let idx = write_idx(&img).unwrap();
        assert_eq!(decode_image(&idx).unwrap(), img);
        assert!(read_idx(&idx[..idx.len() - 1]).is_err());
        let mut huge = idx.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(read_idx(&huge).is_err());
    }

    #[test]
    fn reads_the_embedded_mnist_test_set() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist/t10k-images-idx3-ubyte.gz");
        let img = read_image(Path::new(path)).unwrap();
        assert_eq!((img.width(), img.height(), img.frames()), (28, 28, 10_000));
        assert!(gunzip(b"\x1f\x8bnot gzip").is_err());
    }

    #[test]
    fn atomic_write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomic(&p, b"one", false).unwrap();
        assert!(write_atomic(&p, b"two", false).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
    }
}

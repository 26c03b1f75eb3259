//! MNIST in its own IDX format, read directly from the gzip files: images as one [`Image`] with
//! a frame per digit, labels as bytes.

use std::io::Read;
use std::path::Path;

use tessera_core::Image;

use crate::{Error, Result};

/// Images and labels of one MNIST split.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// One 28×28 gray frame per digit.
    pub images: Image,
    /// The digit (0–9) of each frame.
    pub labels: Vec<u8>,
}

/// The most a gzip member may expand to (the training images are 47 MB).
const MAX_GUNZIPPED: u64 = 256 << 20;

/// Reads `PREFIXimages-idx3-ubyte.gz` and `PREFIXlabels-idx1-ubyte.gz` under `root`
/// (prefix `mnist/t10k-` or `mnist/train-`), checking that the counts agree.
pub fn load(root: &Path, prefix: &str) -> Result<Mnist> {
    let images = root.join(format!("{prefix}images-idx3-ubyte.gz"));
    let labels = root.join(format!("{prefix}labels-idx1-ubyte.gz"));
    let images = tessera_core::io::read_idx(&gunzip_file(&images)?)?;
    let labels = read_labels(&gunzip_file(&labels)?)?;
    if labels.len() != images.frames() as usize {
        return Err(Error::Dataset(format!(
            "MNIST: {} images but {} labels",
            images.frames(),
            labels.len()
        )));
    }
    Ok(Mnist { images, labels })
}

/// Decompresses a gzip file, refusing output beyond a bound.
pub fn gunzip_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .take(MAX_GUNZIPPED + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Dataset(format!("{}: gzip: {e}", path.display())))?;
    if out.len() as u64 > MAX_GUNZIPPED {
        return Err(Error::Dataset(format!("{}: expands beyond 256 MiB", path.display())));
    }
    Ok(out)
}

/// Parses an IDX1 unsigned-byte file (`00 00 08 01`, count, bytes): MNIST's labels.
pub fn read_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.len() < 8 || bytes[..4] != [0, 0, 8, 1] {
        return Err(Error::Dataset("not an IDX1 unsigned-byte file".into()));
    }
    let n = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if bytes.len() - 8 != n {
        return Err(Error::Dataset(format!("IDX1 header says {n} labels, file has {}", bytes.len() - 8)));
    }
    Ok(bytes[8..].to_vec())
}

/// The first `n` frames of a stack (all of them when `n` is larger).
pub fn first(stack: &Image, n: usize) -> Result<Image> {
    let n = n.clamp(1, stack.frames() as usize);
    if n == stack.frames() as usize {
        return Ok(stack.clone());
    }
    let per = (stack.width() * stack.height()) as usize * usize::from(stack.channels());
    Ok(Image::with_frames(
        stack.width(),
        stack.height(),
        n as u32,
        stack.channels(),
        stack.bit_depth(),
        stack.samples()[..n * per].to_vec(),
    )?)
}

/// Lays the frames of a stack out as one picture, row by row in a grid ⌈√n⌉ frames wide, the
/// unused cells black. A single-frame image comes back as it is. External codecs and the
/// metrics see a stack of digits this way (10,000 MNIST digits become 2800×2800).
pub fn tile(stack: &Image) -> Result<Image> {
    let n = stack.frames() as usize;
    if n <= 1 {
        return Ok(stack.clone());
    }
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (fw, fh, ch) = (stack.width() as usize, stack.height() as usize, usize::from(stack.channels()));
    let (w, h) = (cols * fw, rows * fh);
    let mut out = vec![0u16; w * h * ch];
    let src = stack.samples();
    for f in 0..n {
        let (gx, gy) = ((f % cols) * fw, (f / cols) * fh);
        for y in 0..fh {
            let s = (f * fh + y) * fw * ch;
            let d = ((gy + y) * w + gx) * ch;
            out[d..d + fw * ch].copy_from_slice(&src[s..s + fw * ch]);
        }
    }
    Ok(Image::new(w as u32, h as u32, stack.channels(), stack.bit_depth(), out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_embedded_test_set_with_labels() {
        let root = crate::dataset::embedded_root().unwrap();
        let m = load(&root, "mnist/t10k-").unwrap();
        assert_eq!((m.images.width(), m.images.height(), m.images.frames()), (28, 28, 10_000));
        assert_eq!(m.labels.len(), 10_000);
        // The first test digits are 7, 2, 1, 0, 4 and every label is a digit.
        assert_eq!(&m.labels[..5], &[7, 2, 1, 0, 4]);
        assert!(m.labels.iter().all(|&l| l < 10));
        let mut counts = [0usize; 10];
        m.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts[1], 1135);
    }

    #[test]
    fn labels_reject_bad_headers_and_sizes() {
        assert_eq!(read_labels(&[0, 0, 8, 1, 0, 0, 0, 2, 3, 9]).unwrap(), vec![3, 9]);
        assert!(read_labels(&[0, 0, 8, 1, 0, 0, 0, 3, 3, 9]).is_err());
        assert!(read_labels(&[0, 0, 8, 3, 0, 0, 0, 0]).is_err());
        assert!(read_labels(&[0, 0]).is_err());
    }

    #[test]
    fn tiles_frames_into_a_grid() {
        let stack = Image::with_frames(2, 1, 3, 1, 8, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let t = tile(&stack).unwrap();
        assert_eq!((t.width(), t.height()), (4, 2));
        assert_eq!(t.samples(), &[1, 2, 3, 4, 5, 6, 0, 0]);
        assert_eq!(first(&stack, 2).unwrap().frames(), 2);
    }
}

//! MNIST-like digit sets from IDX files (plain or gzip-compressed, as MNIST ships), and the
//! batches training draws from them.

use std::path::{Path, PathBuf};

use tessera_core::{Error, Image, Result};

use crate::rng::Rng;

/// The side of a digit.
pub const SIDE: usize = 28;
/// Pixels in a digit.
pub const PIXELS: usize = SIDE * SIDE;

/// A set of 28×28 8-bit digits, with their labels when known.
#[derive(Clone)]
pub struct Digits {
    /// Pixels, digit after digit, row by row.
    pub pixels: Vec<u8>,
    /// One label (0–9) per digit, when the set came with a label file.
    pub labels: Option<Vec<u8>>,
}

impl Digits {
    /// How many digits the set holds.
    pub fn len(&self) -> usize {
        self.pixels.len() / PIXELS
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// Digit `i`'s pixels.
    pub fn digit(&self, i: usize) -> &[u8] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The digits of an image: a stack of 28×28 8-bit gray frames (an IDX set) or one digit.
    pub fn from_image(image: &Image) -> Result<Digits> {
        Self::check(image)?;
        Ok(Digits { pixels: image.samples().iter().map(|&s| s as u8).collect(), labels: None })
    }

    /// Whether `image` is a digit or a stack of them: an `Unsupported` error saying why not.
    pub fn check(image: &Image) -> Result<()> {
        if image.width() as usize != SIDE
            || image.height() as usize != SIDE
            || image.channels() != 1
            || image.bit_depth() != 8
        {
            return Err(Error::Unsupported(format!(
                "digit codecs take 28×28 8-bit gray images (or IDX sets of them), not {}×{} with {} channel(s) at {} bits",
                image.width(),
                image.height(),
                image.channels(),
                image.bit_depth()
            )));
        }
        Ok(())
    }

    /// The set as an image with one frame per digit.
    pub fn to_image(&self) -> Result<Image> {
        let n = u32::try_from(self.len()).map_err(|_| Error::Limit("too many digits".into()))?;
        let samples = self.pixels.iter().map(|&p| u16::from(p)).collect();
        Image::with_frames(SIDE as u32, SIDE as u32, n, 1, 8, samples)
    }

    /// The first `n` digits (all of them when the set is smaller).
    pub fn take(&self, n: usize) -> Digits {
        let n = n.min(self.len());
        Digits {
            pixels: self.pixels[..n * PIXELS].to_vec(),
            labels: self.labels.as_ref().map(|l| l[..n].to_vec()),
        }
    }

    /// Digits `indices` as planar floats in [0, 1] (`[indices.len(), 1, 28, 28]`).
    pub fn batch(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            out.extend(self.digit(i).iter().map(|&p| f32::from(p) / 255.0));
        }
        out
    }

    /// `count` digit indices drawn at random.
    pub fn random_indices(&self, count: usize, rng: &mut Rng) -> Vec<usize> {
        (0..count).map(|_| rng.below(self.len())).collect()
    }
}

/// Reads an IDX3 image file (gzip-compressed or not) and, when `labels` is given, its IDX1
/// label file.
pub fn load(images: &Path, labels: Option<&Path>) -> Result<Digits> {
    let bytes = read_maybe_gz(images)?;
    let image = tessera_core::io::read_idx(&bytes)
        .map_err(|e| Error::InvalidParam(format!("{}: {e}", images.display())))?;
    let mut digits = Digits::from_image(&image)?;
    if let Some(path) = labels {
        let l = read_labels(&read_maybe_gz(path)?)?;
        if l.len() != digits.len() {
            return Err(Error::InvalidParam(format!(
                "{} holds {} labels for {} digits",
                path.display(),
                l.len(),
                digits.len()
            )));
        }
        digits.labels = Some(l);
    }
    Ok(digits)
}

/// Loads a split (`train` or `t10k`) with labels from a folder holding MNIST's files
/// (`{split}-images-idx3-ubyte[.gz]`, `{split}-labels-idx1-ubyte[.gz]`).
pub fn load_split(folder: &Path, split: &str) -> Result<Digits> {
    let images = find(folder, &format!("{split}-images-idx3-ubyte"))?;
    let labels = find(folder, &format!("{split}-labels-idx1-ubyte")).ok();
    load(&images, labels.as_deref())
}

/// The MNIST test set embedded in the repository.
pub fn embedded_test_set() -> Result<Digits> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    let root = if root.is_dir() { root } else { PathBuf::from("data/mnist") };
    load_split(&root, "t10k")
}

fn find(folder: &Path, stem: &str) -> Result<PathBuf> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = folder.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::InvalidParam(format!("no {stem}[.gz] in {}", folder.display())))
}

fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::InvalidParam(format!("{}: {e}", path.display())))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        tessera_core::io::gunzip(&bytes)
    } else {
        Ok(bytes)
    }
}

/// Parses an IDX1 unsigned-byte label file.
fn read_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.len() < 8 || bytes[..4] != [0, 0, 8, 1] {
        return Err(Error::InvalidParam("not an IDX1 unsigned-byte label file".into()));
    }
    let n = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if bytes.len() - 8 != n {
        return Err(Error::InvalidParam(format!(
            "IDX1 header says {n} labels, file has {}",
            bytes.len() - 8
        )));
    }
    Ok(bytes[8..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_embedded_test_set_with_labels() {
        let d = embedded_test_set().unwrap();
        assert_eq!(d.len(), 10_000);
        let labels = d.labels.as_ref().unwrap();
        assert_eq!(labels.len(), 10_000);
        assert!(labels.iter().all(|&l| l < 10));
        // The first test digit of MNIST is a 7.
        assert_eq!(labels[0], 7);
        let back = Digits::from_image(&d.take(3).to_image().unwrap()).unwrap();
        assert_eq!(back.pixels, d.pixels[..3 * PIXELS]);
    }

    #[test]
    fn refuses_other_shapes() {
        let img = Image::zeroed(27, 28, 1, 8).unwrap();
        assert!(Digits::from_image(&img).is_err());
    }
}

/// SHA-256 of the training images file in `folder`, for model cards (a note when it is absent).
pub fn train_images_digest(folder: &Path) -> String {
    use sha2::Digest;
    std::fs::read(folder.join("train-images-idx3-ubyte.gz"))
        .map(|b| tessera_core::hex(&sha2::Sha256::digest(&b)))
        .unwrap_or_else(|_| "(file not present when this card was written)".into())
}

//! `huffman`: canonical Huffman codes of median-edge-detector residuals, per plane.
//!
//! Each plane (after YCoCg-R when it helps) is predicted with LOCO-I's median edge detector;
//! residuals are zigzag-mapped and split into four classes by the local gradient activity
//! (|W − NW| + |N − NW| + |NE − N|), so flat and busy areas get their own code. Small values
//! (below 240) are Huffman symbols themselves; larger ones — rare, but 16-bit and chroma planes
//! have them — are an escape symbol per bit length followed by the bits below the leading one.
//! Every class gets a length-limited (15-bit) canonical Huffman code built from the plane's
//! counts; the code lengths are sent before the plane's codes. Two passes, static codes: the
//! classical technique.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::bits::{BitReader, BitWriter};
use tessera_entropy::huffman::{HuffmanCode, MAX_CODE_LENGTH};

use super::{
    choose_transform, med, mid_value, parse_transform, plane_geometry, plane_range,
    transform_params, unzigzag, zigzag, Neighbours, Planes,
};

const VERSION: u8 = 1;
const DIRECT: u32 = 240;
/// Direct symbols, then escapes for bit lengths 8 to 32.
const SYMBOLS: usize = DIRECT as usize + 25;
const CLASSES: usize = 4;

/// The `huffman` codec.
#[derive(Debug, Default)]
pub struct Huffman;

/// Prediction and activity class of a sample.
#[inline]
fn predict(plane: &[i32], w: usize, x: usize, y: usize, mid: i32, shift: u32) -> (i32, usize) {
    let nb = Neighbours::at(plane, w, x, y, mid);
    let act = ((nb.w - nb.nw).unsigned_abs()
        + (nb.n - nb.nw).unsigned_abs()
        + (nb.ne - nb.n).unsigned_abs())
        >> shift;
    let class = match act {
        0..=2 => 0,
        3..=10 => 1,
        11..=40 => 2,
        _ => 3,
    };
    (med(nb.w, nb.n, nb.nw), class)
}

/// Symbol and extra bits `(value, count)` of a zigzagged residual.
#[inline]
fn symbol(z: u32) -> (usize, u32, u32) {
    if z < DIRECT {
        (z as usize, 0, 0)
    } else {
        let bits = 32 - z.leading_zeros();
        (
            DIRECT as usize + bits as usize - 8,
            z & ((1u32 << (bits - 1)) - 1),
            bits - 1,
        )
    }
}

impl Codec for Huffman {
    fn name(&self) -> &'static str {
        "huffman"
    }
    fn summary(&self) -> &'static str {
        "canonical Huffman codes of MED residuals, four activity classes per plane"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let ycocg = choose_transform(image, params)?;
        let planes = Planes::from_image(image, ycocg);
        let (w, h) = (planes.width, planes.height);
        let shift = u32::from(image.bit_depth()) - 8;
        let mut out = BitWriter::new();
        for (c, plane) in planes.data.iter().enumerate() {
            let mid = mid_value(image.bit_depth(), ycocg, c);
            let mut coded = Vec::with_capacity(plane.len());
            let mut counts = vec![vec![0u64; SYMBOLS]; CLASSES];
            for y in 0..h {
                for x in 0..w {
                    let (pred, class) = predict(plane, w, x, y, mid, shift);
                    let (s, extra, n) = symbol(zigzag(plane[y * w + x] - pred));
                    counts[class][s] += 1;
                    coded.push((class as u8, s as u16, extra, n as u8));
                }
            }
            let mut codes = Vec::with_capacity(CLASSES);
            for class_counts in &counts {
                let used = class_counts.iter().any(|&n| n > 0);
                out.write_bit(used);
                if used {
                    let code = HuffmanCode::from_counts(class_counts, MAX_CODE_LENGTH)?;
                    code.write_lengths(&mut out);
                    codes.push(Some(code));
                } else {
                    codes.push(None);
                }
            }
            for &(class, s, extra, n) in &coded {
                let code = codes[usize::from(class)]
                    .as_ref()
                    .ok_or_else(|| Error::corrupt("unused class"))?;
                code.encode(&mut out, usize::from(s))?;
                out.write_bits(extra, u32::from(n));
            }
        }
        Ok(Encoded {
            params: transform_params(VERSION, ycocg),
            payload: out.finish(),
            model: None,
        })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let ycocg = parse_transform(params, header, VERSION)?;
        let (w, h) = plane_geometry(header);
        let shift = u32::from(header.bit_depth) - 8;
        let mut r = BitReader::new(payload);
        let mut data = Vec::with_capacity(usize::from(header.channels));
        for c in 0..usize::from(header.channels) {
            let mid = mid_value(header.bit_depth, ycocg, c);
            let (lo, hi) = plane_range(header.bit_depth, ycocg, c);
            let mut codes = Vec::with_capacity(CLASSES);
            for _ in 0..CLASSES {
                codes.push(if r.read_bit()? {
                    Some(HuffmanCode::read_lengths(&mut r, SYMBOLS)?)
                } else {
                    None
                });
            }
            let mut plane = vec![0i32; w * h];
            for y in 0..h {
                for x in 0..w {
                    let (pred, class) = predict(&plane, w, x, y, mid, shift);
                    let code = codes[class]
                        .as_ref()
                        .ok_or_else(|| Error::corrupt("huffman class without a code"))?;
                    let s = code.decode(&mut r)? as u32;
                    let z = if s < DIRECT {
                        s
                    } else {
                        let bits = s - DIRECT + 8;
                        if bits > 19 {
                            return Err(Error::corrupt("huffman residual too long"));
                        }
                        (1 << (bits - 1)) | r.read_bits(bits - 1)?
                    };
                    let v = pred + unzigzag(z);
                    if v < lo || v > hi {
                        return Err(Error::corrupt("huffman sample out of range"));
                    }
                    plane[y * w + x] = v;
                }
            }
            data.push(plane);
        }
        Planes {
            width: w,
            height: h,
            data,
            ycocg,
        }
        .into_image(header.width, header.height, header.frames, header.bit_depth)
    }
}

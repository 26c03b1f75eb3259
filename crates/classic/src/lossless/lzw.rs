//! `lzw`: Lempel–Ziv–Welch over the bytes of left-prediction residuals.
//!
//! Samples are turned into bytes a dictionary coder can use: colour images optionally get the
//! modular "subtract green" transform (R − G and B − G modulo 2^depth, reversible without
//! growing the sample), then every plane becomes residuals against the west neighbour (the north
//! one in the first column) modulo 2^depth, written as one byte per 8-bit sample or two
//! (high, low) per 16-bit sample, plane after plane. LZW codes that byte string: codes 0–255
//! are the bytes, 256 clears the dictionary, 257… are learned strings. Code widths grow from 9
//! to 16 bits; the dictionary is cleared when its 65,536 codes are used. Codes are written MSB
//! first with [`BitWriter`].
//!
//! Width rule: the k-th code after a clear is written with the bits needed for 256 + k, the
//! largest code the encoder can have at that point; the decoder, which learns each string one
//! code later, computes the same width from the same count.

use tessera_core::{Codec, EncodeParams, Encoded, Error, Header, Image, Result};
use tessera_entropy::bits::{BitReader, BitWriter};

use super::{choose_transform, parse_transform, plane_geometry, transform_params};

const VERSION: u8 = 1;
const CLEAR: u32 = 256;
const FIRST_FREE: u32 = 257;
const MAX_CODES: u32 = 1 << 16;
/// Slots of the encoder's open-addressed (prefix, byte) → code table (a power of two, > 2 × codes).
const HASH_SLOTS: usize = 1 << 18;

/// The `lzw` codec.
#[derive(Debug, Default)]
pub struct Lzw;

/// Bits of the k-th code after a clear.
#[inline]
fn width(k: u32) -> u32 {
    (32 - (256 + k).leading_zeros()).clamp(9, 16)
}

impl Codec for Lzw {
    fn name(&self) -> &'static str {
        "lzw"
    }
    fn summary(&self) -> &'static str {
        "LZW over left-prediction residual bytes, 9 to 16-bit codes, clear when full"
    }
    fn is_lossless(&self) -> bool {
        true
    }

    fn encode(&self, image: &Image, params: &EncodeParams) -> Result<Encoded> {
        let subtract_green = choose_transform(image, params)?;
        let bytes = residual_bytes(image, subtract_green);
        Ok(Encoded {
            params: transform_params(VERSION, subtract_green),
            payload: lzw_encode(&bytes),
            model: None,
        })
    }

    fn decode(&self, header: &Header, params: &[u8], payload: &[u8]) -> Result<Image> {
        let subtract_green = parse_transform(params, header, VERSION)?;
        let (w, h) = plane_geometry(header);
        let per_sample = usize::from(header.bit_depth / 8);
        let channels = usize::from(header.channels);
        let bytes = lzw_decode(payload, w * h * channels * per_sample)?;
        let mask = (1u32 << header.bit_depth) - 1;
        let mut planes: Vec<Vec<u32>> = Vec::with_capacity(channels);
        for c in 0..channels {
            let chunk = &bytes[c * w * h * per_sample..(c + 1) * w * h * per_sample];
            let mut plane = vec![0u32; w * h];
            for i in 0..w * h {
                let r = if per_sample == 1 {
                    u32::from(chunk[i])
                } else {
                    u32::from(chunk[2 * i]) << 8 | u32::from(chunk[2 * i + 1])
                };
                let pred = prediction(&plane, w, i, mask);
                plane[i] = (pred + r) & mask;
            }
            planes.push(plane);
        }
        if subtract_green {
            let (rg, b) = planes.split_at_mut(2);
            let (r, g) = rg.split_at_mut(1);
            for ((r, &g), b) in r[0].iter_mut().zip(&g[0]).zip(b[0].iter_mut()) {
                *r = (*r + g) & mask;
                *b = (*b + g) & mask;
            }
        }
        let planes: Vec<Vec<u16>> = planes
            .into_iter()
            .map(|p| p.into_iter().map(|v| v as u16).collect())
            .collect();
        Image::from_planes(
            header.width,
            header.height,
            header.frames,
            header.bit_depth,
            &planes,
        )
    }
}

/// The west neighbour, the north one in the first column, mid-grey at the start.
/// (`is_multiple_of` is newer than the workspace's minimum Rust.)
#[allow(clippy::manual_is_multiple_of)]
#[inline]
fn prediction(plane: &[u32], width: usize, i: usize, mask: u32) -> u32 {
    if i % width > 0 {
        plane[i - 1]
    } else if i >= width {
        plane[i - width]
    } else {
        mask / 2 + 1
    }
}

/// The byte string LZW codes: modular residuals of every plane, plane after plane.
fn residual_bytes(image: &Image, subtract_green: bool) -> Vec<u8> {
    let mask = u32::from(image.max_value());
    let mut planes: Vec<Vec<u32>> = image
        .planes()
        .into_iter()
        .map(|p| p.into_iter().map(u32::from).collect())
        .collect();
    if subtract_green && planes.len() >= 3 {
        for i in 0..planes[0].len() {
            let g = planes[1][i];
            planes[0][i] = planes[0][i].wrapping_sub(g) & mask;
            planes[2][i] = planes[2][i].wrapping_sub(g) & mask;
        }
    }
    let width = image.width() as usize;
    let mut out = Vec::with_capacity(image.samples().len() * usize::from(image.bit_depth() / 8));
    for plane in &planes {
        for i in 0..plane.len() {
            let r = plane[i].wrapping_sub(prediction(plane, width, i, mask)) & mask;
            if image.bit_depth() == 8 {
                out.push(r as u8);
            } else {
                out.extend_from_slice(&[(r >> 8) as u8, r as u8]);
            }
        }
    }
    out
}

/// LZW-codes a byte string.
pub fn lzw_encode(data: &[u8]) -> Vec<u8> {
    let mut out = BitWriter::new();
    // Slot: key (prefix << 8 | byte) + 1, 0 when empty; value: the code.
    let mut keys = vec![0u32; HASH_SLOTS];
    let mut codes = vec![0u16; HASH_SLOTS];
    let mut next = FIRST_FREE;
    let mut k = 0u32;
    let Some((&first, rest)) = data.split_first() else {
        return out.finish();
    };
    let mut current = u32::from(first);
    for &byte in rest {
        let key = (current << 8 | u32::from(byte)) + 1;
        let mut slot = (key.wrapping_mul(0x9E37_79B1) >> 14) as usize & (HASH_SLOTS - 1);
        while keys[slot] != 0 && keys[slot] != key {
            slot = (slot + 1) & (HASH_SLOTS - 1);
        }
        if keys[slot] == key {
            current = u32::from(codes[slot]);
            continue;
        }
        out.write_bits(current, width(k));
        k += 1;
        keys[slot] = key;
        codes[slot] = next as u16;
        next += 1;
        if next == MAX_CODES {
            out.write_bits(CLEAR, width(k));
            keys.fill(0);
            next = FIRST_FREE;
            k = 0;
        }
        current = u32::from(byte);
    }
    out.write_bits(current, width(k));
    out.finish()
}

/// Decodes exactly `len` bytes of an LZW code stream.
pub fn lzw_decode(data: &[u8], len: usize) -> Result<Vec<u8>> {
    let mut r = BitReader::new(data);
    let mut out: Vec<u8> = Vec::with_capacity(len.min(data.len().saturating_mul(8 * 256)));
    // For every learned code: the code of its prefix, its last byte, its first byte, its length.
    let mut prefix = vec![0u32; MAX_CODES as usize];
    let mut last = vec![0u8; MAX_CODES as usize];
    let mut first = vec![0u8; MAX_CODES as usize];
    let mut length = vec![0u32; MAX_CODES as usize];
    for b in 0..256 {
        last[b] = b as u8;
        first[b] = b as u8;
        length[b] = 1;
    }
    let mut next = FIRST_FREE;
    let mut k = 0u32;
    let mut previous: Option<u32> = None;
    while out.len() < len {
        let code = r.read_bits(width(k))?;
        if code == CLEAR {
            if k == 0 {
                return Err(Error::corrupt(
                    "lzw clear code at the start of a dictionary",
                ));
            }
            next = FIRST_FREE;
            k = 0;
            previous = None;
            continue;
        }
        k += 1;
        let (string_code, first_byte) = if code < 256 || (code >= FIRST_FREE && code < next) {
            (code, first[code as usize])
        } else if code == next && previous.is_some() {
            // The string being learned: previous + first byte of previous.
            let p = previous.unwrap_or(0);
            (code, first[p as usize])
        } else {
            return Err(Error::corrupt("lzw code not in the dictionary"));
        };
        if let Some(p) = previous {
            if next >= MAX_CODES {
                return Err(Error::corrupt(
                    "lzw dictionary overflow without a clear code",
                ));
            }
            let n = next as usize;
            prefix[n] = p;
            last[n] = first_byte;
            first[n] = first[p as usize];
            length[n] = length[p as usize] + 1;
            next += 1;
        }
        let l = length[string_code as usize] as usize;
        if l > len - out.len() {
            return Err(Error::corrupt("lzw string runs past the declared size"));
        }
        let start = out.len();
        out.resize(start + l, 0);
        let mut c = string_code as usize;
        for pos in (start..start + l).rev() {
            out[pos] = last[c];
            c = prefix[c] as usize;
        }
        previous = Some(code);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_byte_strings_across_dictionary_clears() {
        let mut seed = 7u32;
        let mut data = Vec::new();
        for i in 0..400_000u32 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            data.push(if i % 3 == 0 {
                (seed >> 24) as u8
            } else {
                (i / 7 % 5) as u8
            });
        }
        for len in [0, 1, 2, 3, 10, 1000, data.len()] {
            let coded = lzw_encode(&data[..len]);
            assert_eq!(lzw_decode(&coded, len).unwrap(), &data[..len]);
        }
        // A KwKwK string: the decoder meets a code it is about to learn.
        let aaa = vec![b'a'; 100];
        assert_eq!(lzw_decode(&lzw_encode(&aaa), 100).unwrap(), aaa);
    }
}

//! General-purpose file compression with the context-mixing byte model.
//!
//! ```text
//! magic     4 bytes  "TSRP"
//! version   u8       1
//! order     u8       highest context order mixed (0..=6), or 255: the fast order-1 coder
//! tables    u8       log2 of the hash table size per order
//! length    u64 LE   bytes of the original
//! crc32     u32 LE   CRC-32 of the original
//! hcrc      u32 LE   CRC-32 of the 19 header bytes before it
//! stream             the range coder's output
//! ```
//!
//! Time is linear in the input. The decoder checks the header before it allocates anything,
//! never allocates more than it has decoded (plus a bounded start), and checks the original's
//! CRC at the end: a corrupt, truncated or foreign input is an [`Error`], never a wrong output.

use crate::model::{AdaptiveFrequency, ContextModel, Model};
use crate::range::{RangeDecoder, RangeEncoder};
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"TSRP";
const VERSION: u8 = 1;
const HEADER: usize = 23;
/// Largest original `decompress` accepts by default.
pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 34;
const MAX_ORDER: u8 = 6;
/// The `order` byte of the fast mode: an adaptive order-1 frequency model per previous byte.
const FAST: u8 = 255;

/// How hard [`compress_with`] works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Level {
    /// Order-1 adaptive frequencies, multi-symbol range coding: tens of MB/s.
    Fast,
    /// Context mixing of orders 0–6 and a match model: about 1 MB/s, much smaller files.
    #[default]
    Max,
}

/// Hash table bits for an input of `len` bytes: bigger inputs get bigger tables.
fn table_bits(len: usize) -> u8 {
    let log = usize::BITS - len.max(1).leading_zeros();
    (log + 2).clamp(12, 22) as u8
}

/// Compresses `data` at the default level.
pub fn compress(data: &[u8]) -> Vec<u8> {
    compress_with(data, Level::default())
}

/// Compresses `data` at `level`.
pub fn compress_with(data: &[u8], level: Level) -> Vec<u8> {
    let bits = table_bits(data.len());
    let order = if level == Level::Fast { FAST } else { MAX_ORDER };
    let mut out = Vec::with_capacity(HEADER + data.len() / 3);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, order, bits]);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    let hcrc = crc32fast::hash(&out);
    out.extend_from_slice(&hcrc.to_le_bytes());
    let mut enc = RangeEncoder::new();
    match level {
        Level::Max => {
            let mut model = ContextModel::new(usize::from(MAX_ORDER), u32::from(bits));
            for &b in data {
                model.encode(&mut enc, b);
            }
        }
        Level::Fast => {
            let mut models = order1_models();
            let mut prev = 0usize;
            for &b in data {
                let m = &mut models[prev];
                enc.encode(m, usize::from(b)).expect("every byte is codable");
                m.update(usize::from(b));
                prev = usize::from(b);
            }
        }
    }
    out.extend_from_slice(&enc.finish());
    out
}

fn order1_models() -> Vec<AdaptiveFrequency> {
    (0..256).map(|_| AdaptiveFrequency::with_params(256, 32, 1 << 16).expect("valid parameters")).collect()
}

/// Decompresses what [`compress`] wrote, refusing originals over [`DEFAULT_MAX_OUTPUT`].
pub fn decompress(packed: &[u8]) -> Result<Vec<u8>> {
    decompress_with_limit(packed, DEFAULT_MAX_OUTPUT)
}

/// Decompresses, refusing originals over `max_output` bytes.
pub fn decompress_with_limit(packed: &[u8], max_output: u64) -> Result<Vec<u8>> {
    if packed.len() < HEADER {
        return Err(if packed.starts_with(MAGIC) || MAGIC.starts_with(packed) {
            Error::Truncated
        } else {
            Error::Corrupt("not a Tessera pack file")
        });
    }
    if &packed[..4] != MAGIC {
        return Err(Error::Corrupt("not a Tessera pack file"));
    }
    let hcrc = u32::from_le_bytes(packed[19..23].try_into().expect("4 bytes"));
    if crc32fast::hash(&packed[..19]) != hcrc {
        return Err(Error::Corrupt("pack header checksum mismatch"));
    }
    let (version, order, bits) = (packed[4], packed[5], packed[6]);
    if version != VERSION || (order > MAX_ORDER && order != FAST) || !(12..=22).contains(&bits) {
        return Err(Error::Corrupt("unsupported pack parameters"));
    }
    let len = u64::from_le_bytes(packed[7..15].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(packed[15..19].try_into().expect("4 bytes"));
    if len > max_output {
        return Err(Error::InvalidModel(format!("original of {len} bytes is over the limit of {max_output}")));
    }
    let len = usize::try_from(len).map_err(|_| Error::Corrupt("length"))?;
    let mut dec = RangeDecoder::new(&packed[HEADER..]);
    let mut out = Vec::with_capacity(len.min(1 << 24));
    let mut next: Box<dyn FnMut(&mut RangeDecoder) -> Result<u8>> = if order == FAST {
        let mut models = order1_models();
        let mut prev = 0usize;
        Box::new(move |dec| {
            let m = &mut models[prev];
            let b = dec.decode(m)?;
            m.update(b);
            prev = b;
            Ok(b as u8)
        })
    } else {
        let mut model = ContextModel::new(usize::from(order), u32::from(bits));
        Box::new(move |dec| Ok(model.decode(dec)))
    };
    for i in 0..len {
        out.push(next(&mut dec)?);
        // A stream that runs dry long before the end is cut short or not ours.
        if i % 4096 == 0 {
            dec.check_end()?;
        }
    }
    dec.check_end()?;
    if crc32fast::hash(&out) != crc {
        return Err(Error::Corrupt("checksum mismatch: the data is corrupt"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_compresses_text() {
        let text: Vec<u8> = include_str!("range.rs").bytes().collect();
        let packed = compress(&text);
        assert!(packed.len() * 3 < text.len(), "{} of {}", packed.len(), text.len());
        assert_eq!(decompress(&packed).unwrap(), text);
        assert_eq!(decompress(&compress(b"")).unwrap(), b"");
        assert_eq!(decompress(&compress(b"x")).unwrap(), b"x");
        let fast = compress_with(&text, Level::Fast);
        assert!(fast.len() > packed.len() && fast.len() * 3 < text.len() * 2);
        assert_eq!(decompress(&fast).unwrap(), text);
    }

    #[test]
    fn corruption_is_an_error() {
        let text: Vec<u8> = include_str!("huffman.rs").bytes().take(3000).collect();
        let packed = compress(&text);
        for cut in [0, 3, 10, 22, packed.len() / 2, packed.len() - 1] {
            assert!(decompress(&packed[..cut]).is_err(), "cut at {cut}");
        }
        let mut seed = 9u64;
        for _ in 0..300 {
            let mut p = packed.clone();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let i = (seed >> 33) as usize % p.len();
            p[i] ^= 1 << (seed % 8);
            assert!(decompress(&p).is_err(), "flip at {i}");
        }
        assert!(decompress(b"PK\x03\x04 some zip file, not ours at all").is_err());
    }
}

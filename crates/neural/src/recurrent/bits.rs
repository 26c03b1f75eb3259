//! Entropy coding of the binary codes with adaptive binary contexts (the role of the paper's
//! BinaryRNN): each bit is coded with a probability state chosen by the already decoded bits
//! around it — left, up, up-left, up-right in its own map, the same position in the previous
//! map, and the same bit in the previous iteration — and by its map index. The states keep
//! adapting across iterations, so later iterations are coded with what earlier ones taught.

use tessera_core::{Error, Result};
use tessera_entropy::binary::BitModel;
use tessera_entropy::range::{RangeDecoder, RangeEncoder};

use super::model::BITS;

const NEIGHBOUR_CONTEXTS: usize = 1 << 7;

/// The probability states of one file.
pub struct BitCoder {
    models: Vec<BitModel>,
    /// The previous iteration's bits (`None` before the first).
    previous: Option<Vec<u8>>,
    height: usize,
    width: usize,
}

impl BitCoder {
    /// A coder for maps of `height`×`width` bits (`BITS` maps per iteration).
    pub fn new(height: usize, width: usize) -> Self {
        Self {
            models: vec![BitModel::new(); NEIGHBOUR_CONTEXTS * BITS],
            previous: None,
            height,
            width,
        }
    }

    fn context(&self, bits: &[u8], c: usize, y: usize, x: usize) -> usize {
        let (h, w) = (self.height, self.width);
        let at = |c: usize, y: usize, x: usize| usize::from(bits[(c * h + y) * w + x]);
        let left = if x > 0 { at(c, y, x - 1) } else { 0 };
        let up = if y > 0 { at(c, y - 1, x) } else { 0 };
        let up_left = if x > 0 && y > 0 {
            at(c, y - 1, x - 1)
        } else {
            0
        };
        let up_right = if y > 0 && x + 1 < w {
            at(c, y - 1, x + 1)
        } else {
            0
        };
        let prev_map = if c > 0 { at(c - 1, y, x) } else { 0 };
        let (prev_iter, first) = match &self.previous {
            Some(p) => (usize::from(p[(c * h + y) * w + x]), 0),
            None => (0, 1),
        };
        let n = left
            | up << 1
            | up_left << 2
            | up_right << 3
            | prev_map << 4
            | prev_iter << 5
            | first << 6;
        c * NEIGHBOUR_CONTEXTS + n
    }

    /// Codes one iteration's bits (`BITS` maps of 0/1, map-major) into its own stream.
    pub fn encode(&mut self, bits: &[u8]) -> Vec<u8> {
        let mut enc = RangeEncoder::new();
        for c in 0..BITS {
            for y in 0..self.height {
                for x in 0..self.width {
                    let b = bits[(c * self.height + y) * self.width + x];
                    let ctx = self.context(bits, c, y, x);
                    enc.encode_bit(&mut self.models[ctx], b == 1);
                }
            }
        }
        self.previous = Some(bits.to_vec());
        enc.finish()
    }

    /// Decodes one iteration's stream.
    pub fn decode(&mut self, stream: &[u8]) -> Result<Vec<u8>> {
        let mut dec = RangeDecoder::new(stream);
        let mut bits = vec![0u8; BITS * self.height * self.width];
        for c in 0..BITS {
            for y in 0..self.height {
                for x in 0..self.width {
                    let ctx = self.context(&bits, c, y, x);
                    bits[(c * self.height + y) * self.width + x] =
                        u8::from(dec.decode_bit(&mut self.models[ctx]));
                }
            }
        }
        dec.check_end()
            .map_err(|_| Error::corrupt("iteration stream does not end where it should"))?;
        self.previous = Some(bits.clone());
        Ok(bits)
    }
}

/// Splits a payload into its streams (iterations, or chunks of digits; each preceded by its length as a LEB128
/// varint), refusing lengths that run past the end.
pub fn split(payload: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&b, r) = rest
                .split_first()
                .ok_or(Error::corrupt("stream length"))?;
            rest = r;
            if shift > 28 {
                return Err(Error::corrupt("stream length"));
            }
            len |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if len > rest.len() {
            return Err(Error::corrupt("a stream runs past the payload"));
        }
        let (s, r) = rest.split_at(len);
        out.push(s);
        rest = r;
    }
    Ok(out)
}

/// Appends one stream with its length.
pub fn push(payload: &mut Vec<u8>, stream: &[u8]) {
    let mut n = stream.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            payload.push(b);
            break;
        }
        payload.push(b | 0x80);
    }
    payload.extend_from_slice(stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_streams_split() {
        let (h, w) = (3, 5);
        let mut seed = 1u64;
        let mut coder = BitCoder::new(h, w);
        let mut payload = Vec::new();
        let mut all = Vec::new();
        for _ in 0..3 {
            let bits: Vec<u8> = (0..BITS * h * w)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 62) as u8 & 1
                })
                .collect();
            push(&mut payload, &coder.encode(&bits));
            all.push(bits);
        }
        let streams = split(&payload).unwrap();
        assert_eq!(streams.len(), 3);
        let mut dec = BitCoder::new(h, w);
        for (s, want) in streams.iter().zip(&all) {
            assert_eq!(&dec.decode(s).unwrap(), want);
        }
        assert!(split(&[0x85, 1]).is_err());
        assert!(split(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }
}

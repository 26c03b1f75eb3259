//! Adaptive binarisations of integers for the range coder's binary contexts: a bit tree for
//! symbols of a fixed bit width (LZMA's scheme), and an adaptive Exp-Golomb code for
//! unbounded signed or unsigned values (context-adaptive like CABAC's UEG binarisation).

use crate::binary::BitModel;
use crate::range::{RangeDecoder, RangeEncoder};
use crate::{Error, Result};

/// Codes symbols of `bits` bits, most significant first, each bit in the context of the bits
/// above it: `2^bits - 1` adaptive contexts learn any distribution over the `2^bits` symbols.
#[derive(Clone, Debug)]
pub struct BitTree {
    bits: u32,
    nodes: Vec<BitModel>,
}

impl BitTree {
    /// A tree for symbols `0..2^bits` (`bits` in 1..=16).
    pub fn new(bits: u32) -> Result<Self> {
        if !(1..=16).contains(&bits) {
            return Err(Error::InvalidModel(format!("bit tree of {bits} bits")));
        }
        Ok(BitTree { bits, nodes: vec![BitModel::new(); 1 << bits] })
    }

    /// Encodes `symbol` (only its low `bits` bits are used).
    pub fn encode(&mut self, enc: &mut RangeEncoder, symbol: u32) {
        let mut node = 1usize;
        for i in (0..self.bits).rev() {
            let bit = (symbol >> i) & 1 == 1;
            enc.encode_bit(&mut self.nodes[node], bit);
            node = (node << 1) | usize::from(bit);
        }
    }

    /// Decodes a symbol.
    pub fn decode(&mut self, dec: &mut RangeDecoder) -> u32 {
        let mut node = 1usize;
        for _ in 0..self.bits {
            let bit = dec.decode_bit(&mut self.nodes[node]);
            node = (node << 1) | usize::from(bit);
        }
        (node - (1 << self.bits)) as u32
    }
}

/// Largest Exp-Golomb class: values up to 2^MAX_CLASS.
const MAX_CLASS: usize = 32;

/// Adaptive Exp-Golomb: a value `v ≥ 0` is coded as its class `c = bit length of v + 1`
/// in unary (each unary bit its own context), then the `c - 1` bits below the leading one,
/// the top few in contexts of their class and the rest equiprobable. Signed values add a
/// zero flag and a sign context.
#[derive(Clone, Debug)]
pub struct AdaptiveGolomb {
    zero: BitModel,
    sign: BitModel,
    class: [BitModel; MAX_CLASS + 1],
    mantissa: [[BitModel; 2]; MAX_CLASS + 1],
}

impl Default for AdaptiveGolomb {
    fn default() -> Self {
        Self::new()
    }
}

impl AdaptiveGolomb {
    /// Fresh contexts.
    pub fn new() -> Self {
        AdaptiveGolomb {
            zero: BitModel::new(),
            sign: BitModel::new(),
            class: [BitModel::new(); MAX_CLASS + 1],
            mantissa: [[BitModel::new(); 2]; MAX_CLASS + 1],
        }
    }

    /// Encodes an unsigned value.
    pub fn encode_unsigned(&mut self, enc: &mut RangeEncoder, v: u32) {
        let x = u64::from(v) + 1;
        let c = 64 - x.leading_zeros() as usize; // 1..=33
        for k in 1..c {
            enc.encode_bit(&mut self.class[k - 1], true);
        }
        if c <= MAX_CLASS {
            enc.encode_bit(&mut self.class[c - 1], false);
        }
        // The bits below the leading one: the top one or two adaptive, the rest raw.
        let rest = c - 1;
        for i in (0..rest).rev() {
            let bit = (x >> i) & 1 == 1;
            let depth = rest - 1 - i;
            if depth < 2 {
                enc.encode_bit(&mut self.mantissa[c - 1][depth], bit);
            } else {
                enc.encode_raw(u32::from(bit), 1);
            }
        }
    }

    /// Decodes an unsigned value; an error when the stream asks for a value over `u32::MAX`.
    pub fn decode_unsigned(&mut self, dec: &mut RangeDecoder) -> Result<u32> {
        let mut c = 1usize;
        while c <= MAX_CLASS && dec.decode_bit(&mut self.class[c - 1]) {
            c += 1;
        }
        if c > MAX_CLASS + 1 {
            return Err(Error::Corrupt("integer class out of range"));
        }
        let rest = c - 1;
        let mut x = 1u64;
        for depth in 0..rest {
            let bit = if depth < 2 {
                dec.decode_bit(&mut self.mantissa[c - 1][depth])
            } else {
                dec.decode_raw(1) == 1
            };
            x = (x << 1) | u64::from(bit);
        }
        u32::try_from(x - 1).map_err(|_| Error::Corrupt("integer out of range"))
    }

    /// Encodes a signed value.
    pub fn encode_signed(&mut self, enc: &mut RangeEncoder, v: i32) {
        enc.encode_bit(&mut self.zero, v == 0);
        if v != 0 {
            enc.encode_bit(&mut self.sign, v < 0);
            self.encode_unsigned(enc, v.unsigned_abs() - 1);
        }
    }

    /// Decodes a signed value.
    pub fn decode_signed(&mut self, dec: &mut RangeDecoder) -> Result<i32> {
        if dec.decode_bit(&mut self.zero) {
            return Ok(0);
        }
        let neg = dec.decode_bit(&mut self.sign);
        let m = self.decode_unsigned(dec)?;
        let mag = i64::from(m) + 1;
        let v = if neg { -mag } else { mag };
        i32::try_from(v).map_err(|_| Error::Corrupt("integer out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_including_extremes() {
        let values = [0i32, 1, -1, 2, -2, 3, 100, -100, 65_535, i32::MAX, i32::MIN + 1, 7, 0, 0];
        let unsigned = [0u32, 1, 2, 1000, u32::MAX, 5];
        let mut enc = RangeEncoder::new();
        let (mut a, mut b) = (AdaptiveGolomb::new(), AdaptiveGolomb::new());
        let mut tree = BitTree::new(10).unwrap();
        for &v in &values {
            a.encode_signed(&mut enc, v);
        }
        for &v in &unsigned {
            b.encode_unsigned(&mut enc, v);
        }
        for s in 0..1024 {
            tree.encode(&mut enc, (s * 7) % 1024);
        }
        let bytes = enc.finish();
        let mut dec = RangeDecoder::new(&bytes);
        let (mut a, mut b) = (AdaptiveGolomb::new(), AdaptiveGolomb::new());
        let mut tree = BitTree::new(10).unwrap();
        for &v in &values {
            assert_eq!(a.decode_signed(&mut dec).unwrap(), v);
        }
        for &v in &unsigned {
            assert_eq!(b.decode_unsigned(&mut dec).unwrap(), v);
        }
        for s in 0..1024 {
            assert_eq!(tree.decode(&mut dec), (s * 7) % 1024);
        }
    }

    #[test]
    fn garbage_decodes_to_errors_or_values_never_panics() {
        let mut seed = 1u64;
        for _ in 0..500 {
            let data: Vec<u8> = (0..24)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 56) as u8
                })
                .collect();
            let mut dec = RangeDecoder::new(&data);
            let mut a = AdaptiveGolomb::new();
            for _ in 0..20 {
                let _ = a.decode_signed(&mut dec);
            }
        }
    }
}

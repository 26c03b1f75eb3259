//! Bit-level writing and reading, most significant bit first.

use crate::{Error, Result};

/// Appends bits to a byte vector, most significant bit first.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    used: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the low `n` bits of `value` (`n` ≤ 32).
    #[inline]
    pub fn write_bits(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        self.acc = (self.acc << n) | (u64::from(value) & ((1u64 << n) - 1));
        self.used += n;
        while self.used >= 8 {
            self.used -= 8;
            self.out.push((self.acc >> self.used) as u8);
        }
    }

    /// Writes one bit.
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u32::from(bit), 1);
    }

    /// Bits written so far.
    pub fn bit_len(&self) -> u64 {
        self.out.len() as u64 * 8 + u64::from(self.used)
    }

    /// Pads with zero bits to a byte boundary and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push((self.acc << (8 - self.used)) as u8);
        }
        self.out
    }
}

/// Reads bits written by [`BitWriter`].
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits.
    pos: u64,
}

impl<'a> BitReader<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// The next `n` bits (`n` ≤ 32) without consuming them; bits past the end read as zeros.
    #[inline]
    pub fn peek(&self, n: u32) -> u32 {
        let mut v = 0u64;
        let byte = (self.pos / 8) as usize;
        for i in 0..5 {
            v = (v << 8) | u64::from(self.data.get(byte + i).copied().unwrap_or(0));
        }
        let shift = 40 - (self.pos % 8) as u32 - n;
        ((v >> shift) & ((1u64 << n) - 1)) as u32
    }

    /// Consumes `n` bits; an error when that goes past the end.
    #[inline]
    pub fn skip(&mut self, n: u32) -> Result<()> {
        self.pos += u64::from(n);
        if self.pos > self.data.len() as u64 * 8 {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Reads `n` bits (`n` ≤ 32).
    pub fn read_bits(&mut self, n: u32) -> Result<u32> {
        let v = self.peek(n);
        self.skip(n)?;
        Ok(v)
    }

    /// Reads one bit.
    pub fn read_bit(&mut self) -> Result<bool> {
        Ok(self.read_bits(1)? == 1)
    }

    /// Skips to the next byte boundary.
    pub fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }

    /// Bits left.
    pub fn remaining(&self) -> u64 {
        (self.data.len() as u64 * 8).saturating_sub(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_end_is_an_error() {
        let mut w = BitWriter::new();
        let items: Vec<(u32, u32)> = (0..1000u32).map(|i| (i.wrapping_mul(2654435761u32) >> (i % 32), 1 + i % 32)).collect();
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        let bits = w.bit_len();
        let bytes = w.finish();
        assert_eq!(bytes.len() as u64, bits.div_ceil(8));
        let mut r = BitReader::new(&bytes);
        for &(v, n) in &items {
            let mask = if n == 32 { u32::MAX } else { (1 << n) - 1 };
            assert_eq!(r.read_bits(n).unwrap(), v & mask);
        }
        assert!(r.read_bits(16).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bit_fields_round_trip(items in proptest::collection::vec((proptest::prelude::any::<u32>(), 0u32..=32), 0..200)) {
            let mut w = BitWriter::new();
            for &(v, n) in &items {
                w.write_bits(v, n);
            }
            let bytes = w.finish();
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &items {
                let mask = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
                proptest::prop_assert_eq!(r.read_bits(n).unwrap(), v & mask);
            }
            proptest::prop_assert!(r.remaining() < 8);
            r.align();
            proptest::prop_assert!(r.read_bit().is_err());
        }
    }
}

//! The range coder: integer arithmetic coding with renormalisation.
//!
//! State: `low` (64 bits plus a carry bit) and `range` (kept in `[2^32, 2^64)`). Coding a symbol
//! with frequency `f` of a total `T` narrows `range` to `(range / T) · f`; whenever `range` falls
//! below 2^32 the top 32-bit word of `low` is shifted out, big-endian. A carry out of `low` is
//! propagated into the words already written through a one-word cache and a count of pending
//! all-ones words (the scheme of Subbotin and LZMA, by words), so there is no precision limit and
//! no end-of-stream ambiguity. Word-wise renormalisation happens once every few symbols.
//!
//! Because `range ≥ 2^32` and `T ≤ 2^24`, the truncation in `range / T` costs less than 2^-8 of
//! the interval in the worst case and far less on average: the output stays within about a
//! millionth of the information content (see BENCHMARKS.md). The remainder of the division goes
//! to the last symbol of the alphabet, so no code space is lost.
//!
//! Termination: [`RangeEncoder::finish`] writes the shortest tail that pins a value inside the
//! final interval; the decoder reads zeros past the end of its input. A message's length must
//! be known to the decoder (stored by the caller), or coded with an end symbol.

use crate::binary::{BitModel, PROB_BITS};
use crate::model::{Model, MAX_TOTAL};
use crate::{Error, Result};


/// `range / total`, by a shift when the total is a power of two (the common case for
/// fixed-point models), by a division otherwise.
#[inline(always)]
fn share(range: u64, total: u32) -> u64 {
    if total.is_power_of_two() {
        range >> total.trailing_zeros()
    } else {
        range / u64::from(total)
    }
}
/// `range` is renormalised when it falls below this.
const TOP: u64 = 1 << 32;
/// Trailing zero bytes [`RangeEncoder::finish`] may drop; the decoder makes up zeros.
const MAX_TRIM: usize = 7;
/// Bytes a decoder may read past the end of a valid stream: its 8-byte window plus the trim.
const MAX_OVERRUN: usize = 8 + MAX_TRIM;

/// Encodes symbols and bits into bytes.
#[derive(Clone, Debug)]
pub struct RangeEncoder {
    low: u128,
    range: u64,
    cache: u32,
    /// The cache word plus the all-ones words pending behind it.
    pending: u64,
    /// The very first cache word is a placeholder that is never written.
    started: bool,
    out: Vec<u8>,
}

impl Default for RangeEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        RangeEncoder { low: 0, range: u64::MAX, cache: 0, pending: 1, started: false, out: Vec::new() }
    }

    /// Encodes `symbol` with `model`. Does not update the model: call [`Model::update`] after, in
    /// the same order as the decoder.
    #[inline]
    pub fn encode<M: Model + ?Sized>(&mut self, model: &M, symbol: usize) -> Result<()> {
        let (cum, freq) = model.interval(symbol)?;
        // A model's intervals are valid by construction: no need to check them again.
        self.narrow(cum, freq, model.total());
        Ok(())
    }

    /// Encodes the interval `[cum, cum + freq)` of `0..total` directly.
    #[inline]
    pub fn encode_interval(&mut self, cum: u32, freq: u32, total: u32) -> Result<()> {
        if freq == 0 || total > MAX_TOTAL || u64::from(cum) + u64::from(freq) > u64::from(total) {
            return Err(Error::InvalidModel(format!("interval {cum}+{freq} of {total}")));
        }
        self.narrow(cum, freq, total);
        Ok(())
    }

    #[inline(always)]
    fn narrow(&mut self, cum: u32, freq: u32, total: u32) {
        let r = share(self.range, total);
        self.low += u128::from(r * u64::from(cum));
        self.range = if cum + freq == total {
            self.range - r * u64::from(cum)
        } else {
            r * u64::from(freq)
        };
        self.normalize();
    }

    /// Encodes one bit with an adaptive context, then updates the context.
    #[inline]
    pub fn encode_bit(&mut self, model: &mut BitModel, bit: bool) {
        self.encode_bit_p(model.p1(), bit);
        model.update(bit);
    }

    /// Encodes one bit with P(bit = 1) = `p1` / 65536 (`p1` in 1..=65535), for models that
    /// compute their own probabilities (context mixing).
    #[inline]
    pub fn encode_bit_p(&mut self, p1: u32, bit: bool) {
        debug_assert!((1..1 << PROB_BITS).contains(&p1));
        let bound = (self.range >> PROB_BITS) * u64::from(p1);
        if bit {
            self.range = bound;
        } else {
            self.low += u128::from(bound);
            self.range -= bound;
        }
        self.normalize();
    }

    /// Encodes the low `bits` bits of `value` (at most 32) with probability 1/2 each. The
    /// decoder must read them back with [`RangeDecoder::decode_raw`] of the same width.
    pub fn encode_raw(&mut self, value: u32, bits: u32) {
        debug_assert!(bits <= 32);
        let mut left = bits;
        while left > 0 {
            let n = left.min(16);
            left -= n;
            let chunk = u64::from((value >> left) & ((1 << n) - 1));
            self.range >>= n;
            self.low += u128::from(self.range * chunk);
            self.normalize();
        }
    }

    #[inline]
    fn normalize(&mut self) {
        while self.range < TOP {
            self.shift_low();
            self.range <<= 32;
        }
    }

    fn shift_low(&mut self) {
        let carry = (self.low >> 64) as u32;
        let top = (self.low >> 32) as u32;
        if top != u32::MAX || carry != 0 {
            if self.started {
                self.out.extend_from_slice(&self.cache.wrapping_add(carry).to_be_bytes());
            }
            self.started = true;
            for _ in 1..self.pending {
                self.out.extend_from_slice(&u32::MAX.wrapping_add(carry).to_be_bytes());
            }
            self.pending = 0;
            self.cache = top;
        }
        self.pending += 1;
        self.low = (self.low & 0xFFFF_FFFF) << 32;
    }

    /// Bytes written so far (the final size is known only after [`RangeEncoder::finish`]).
    pub fn bytes_so_far(&self) -> usize {
        self.out.len() + 4 * self.pending as usize
    }

    /// Ends the stream and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        // Pick the value in [low, low + range) with the most trailing zero bytes and write only
        // the bytes above them: the decoder reads zeros past the end. (Zero bytes that are data
        // are always written, so a decoder never reads more than 7 made-up bytes.)
        let end = self.low + u128::from(self.range);
        let mut keep = 8;
        for k in 0..=8u32 {
            let mask = (1u128 << (64 - 8 * k)) - 1;
            let v = (self.low + mask) & !mask;
            if v < end {
                self.low = v;
                keep = k;
                break;
            }
        }
        // Shift out the words holding the `keep` bytes; the last shift leaves the first
        // all-zero word in the cache, unwritten, and the zero bytes after the kept ones go.
        for _ in 0..keep.div_ceil(4) + 1 {
            self.shift_low();
        }
        let mut trim = 0;
        while trim < MAX_TRIM && self.out.last() == Some(&0) {
            self.out.pop();
            trim += 1;
        }
        self.out
    }
}

/// Decodes what a [`RangeEncoder`] wrote.
#[derive(Clone, Debug)]
pub struct RangeDecoder<'a> {
    code: u64,
    range: u64,
    /// `range / total` of the last [`RangeDecoder::decode_target`], reused by `consume`.
    share: u64,
    data: &'a [u8],
    pos: usize,
}

impl<'a> RangeDecoder<'a> {
    /// Starts decoding `data`.
    pub fn new(data: &'a [u8]) -> Self {
        let mut d = RangeDecoder { code: 0, range: u64::MAX, share: 0, data, pos: 0 };
        d.code = (u64::from(d.next_word()) << 32) | u64::from(d.next_word());
        // A valid stream always starts below the range; only foreign data can reach it, and
        // `code < range` must hold for the arithmetic below to stay in bounds.
        d.code = d.code.min(d.range - 1);
        d
    }

    #[inline]
    fn next_word(&mut self) -> u32 {
        let w = match self.data.get(self.pos..self.pos + 4) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => {
                let mut b = [0u8; 4];
                for (i, v) in b.iter_mut().enumerate() {
                    *v = self.data.get(self.pos + i).copied().unwrap_or(0);
                }
                u32::from_be_bytes(b)
            }
        };
        self.pos += 4;
        w
    }

    #[inline]
    fn normalize(&mut self) {
        while self.range < TOP {
            self.code = (self.code << 32) | u64::from(self.next_word());
            self.range <<= 32;
        }
    }

    /// Decodes one symbol with `model` (does not update it).
    #[inline]
    pub fn decode<M: Model + ?Sized>(&mut self, model: &M) -> Result<usize> {
        let total = model.total();
        let target = self.decode_target(total)?;
        let (s, cum, freq) = model.find(target);
        self.consume(cum, freq, total);
        Ok(s)
    }

    /// The first half of decoding an interval directly: the target in `0..total`. Follow it with
    /// [`RangeDecoder::consume`] of the interval that holds it.
    #[inline]
    pub fn decode_target(&mut self, total: u32) -> Result<u32> {
        if total == 0 || total > MAX_TOTAL {
            return Err(Error::InvalidModel(format!("total {total}")));
        }
        self.share = share(self.range, total);
        // `code < range` always holds; values in the division's remainder belong to the last
        // symbol.
        Ok((self.code / self.share).min(u64::from(total) - 1) as u32)
    }

    /// Removes the interval `[cum, cum + freq)` of `0..total` that holds the last target
    /// (`total` as given to that [`RangeDecoder::decode_target`]).
    #[inline]
    pub fn consume(&mut self, cum: u32, freq: u32, total: u32) {
        let r = self.share;
        self.code -= r * u64::from(cum);
        self.range = if cum + freq == total {
            self.range - r * u64::from(cum)
        } else {
            r * u64::from(freq)
        };
        self.normalize();
    }

    /// Decodes one bit with an adaptive context, then updates the context.
    #[inline]
    pub fn decode_bit(&mut self, model: &mut BitModel) -> bool {
        let bit = self.decode_bit_p(model.p1());
        model.update(bit);
        bit
    }

    /// Decodes one bit coded by [`RangeEncoder::encode_bit_p`] with the same `p1`.
    #[inline]
    pub fn decode_bit_p(&mut self, p1: u32) -> bool {
        let bound = (self.range >> PROB_BITS) * u64::from(p1.clamp(1, (1 << PROB_BITS) - 1));
        let bit = self.code < bound;
        if bit {
            self.range = bound;
        } else {
            self.code -= bound;
            self.range -= bound;
        }
        self.normalize();
        bit
    }

    /// Decodes `bits` (at most 32) equiprobable bits.
    pub fn decode_raw(&mut self, bits: u32) -> u32 {
        let mut value = 0u32;
        let mut left = bits;
        while left > 0 {
            let n = left.min(16);
            left -= n;
            self.range >>= n;
            let chunk = (self.code / self.range).min((1 << n) - 1);
            self.code -= chunk * self.range;
            value = (value << n) | chunk as u32;
            self.normalize();
        }
        value
    }

    /// Bytes read past the end of the input (zeros the decoder made up). A valid stream never
    /// needs more than 15; more means the data was cut short or is not this coder's.
    pub fn overrun(&self) -> usize {
        self.pos.saturating_sub(self.data.len())
    }

    /// Checks that decoding stayed within the data (see [`RangeDecoder::overrun`]).
    pub fn check_end(&self) -> Result<()> {
        if self.overrun() > MAX_OVERRUN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FrequencyTable;

    fn lcg(seed: &mut u64) -> u32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 33) as u32
    }

    #[test]
    fn symbols_bits_and_raw_values_interleave() {
        let model = FrequencyTable::from_counts(&[5, 1, 30, 2, 0, 9]).unwrap();
        let mut seed = 1;
        let mut ctx = [BitModel::new(); 4];
        let mut script = Vec::new();
        let mut enc = RangeEncoder::new();
        for i in 0..20_000 {
            let s = [0, 1, 2, 3, 5][lcg(&mut seed) as usize % 5];
            let bit = lcg(&mut seed) % 7 == 0;
            let raw = lcg(&mut seed) & 0x3FFFF;
            enc.encode(&model, s).unwrap();
            enc.encode_bit(&mut ctx[i % 4], bit);
            enc.encode_raw(raw, 18);
            script.push((s, bit, raw));
        }
        let bytes = enc.finish();
        let mut ctx = [BitModel::new(); 4];
        let mut dec = RangeDecoder::new(&bytes);
        for (i, &(s, bit, raw)) in script.iter().enumerate() {
            assert_eq!(dec.decode(&model).unwrap(), s);
            assert_eq!(dec.decode_bit(&mut ctx[i % 4]), bit);
            assert_eq!(dec.decode_raw(18), raw);
        }
        dec.check_end().unwrap();
    }

    #[test]
    fn size_is_close_to_the_information_content() {
        let counts = [1u32, 2, 3, 50, 7, 1000, 13, 1];
        let model = FrequencyTable::from_counts(&counts).unwrap();
        let total: u32 = counts.iter().sum();
        let mut seed = 7;
        let mut enc = RangeEncoder::new();
        let mut ideal = 0f64;
        for _ in 0..200_000 {
            let (s, _, f) = model.find(lcg(&mut seed) % total);
            ideal -= (f64::from(f) / f64::from(total)).log2();
            enc.encode(&model, s).unwrap();
        }
        let bits = enc.finish().len() as f64 * 8.0;
        assert!(bits < ideal * 1.0001 + 64.0, "{bits} vs {ideal}");
    }

    #[test]
    fn empty_message_is_empty() {
        assert!(RangeEncoder::new().finish().is_empty());
    }

    #[test]
    fn random_bytes_never_panic() {
        let model = FrequencyTable::from_counts(&[1, 2, 3, 4]).unwrap();
        let mut seed = 3;
        for _ in 0..2000 {
            let n = lcg(&mut seed) as usize % 40;
            let data: Vec<u8> = (0..n).map(|_| lcg(&mut seed) as u8).collect();
            let mut dec = RangeDecoder::new(&data);
            let mut ctx = BitModel::new();
            for _ in 0..50 {
                dec.decode(&model).unwrap();
                dec.decode_bit(&mut ctx);
                dec.decode_raw(20);
            }
        }
    }
}

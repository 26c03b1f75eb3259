//! rANS (range asymmetric numeral systems) with static models, two states interleaved.
//!
//! The coder is last in, first out: [`RansEncoder`] collects `(start, frequency)` pairs and
//! codes them in reverse on [`RansEncoder::finish`], so that [`RansDecoder`] reads symbols in
//! the original order. Each state is a 32-bit integer kept in `[2^16, 2^32)` and renormalised by
//! 16-bit words; symbols alternate between the two states, so a decoder's two dependency
//! chains overlap in the CPU. Decoding a symbol is one table lookup, one multiply and one add.
//!
//! Models have a power-of-two total `2^bits` (`bits` ≤ 16), built from counts by
//! [`RansModel::from_counts`]; a model may change from symbol to symbol (the learned codecs
//! pick a table per latent), as long as encoder and decoder use the same sequence.
//!
//! Stream: the two final states (little-endian `u32`), then the words (little-endian `u16`).
//! A valid stream leaves both decoder states back at their start value with every word read;
//! [`RansDecoder::finish`] checks that, so corruption is detected at the end.

use crate::model::scale_counts;
use crate::{Error, Result};

const LOW: u32 = 1 << 16;
/// Largest model precision in bits.
pub const MAX_BITS: u32 = 16;

/// A static model for rANS: frequencies summing to `2^bits`, with a slot table for decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RansModel {
    bits: u32,
    /// Each symbol's start and frequency.
    ranges: Vec<(u32, u32)>,
    /// The symbol of each of the `2^bits` slots.
    slots: Vec<u16>,
}

impl RansModel {
    /// Scales `counts` to a total of `2^bits` (every non-zero count keeps frequency ≥ 1).
    pub fn from_counts(counts: &[u64], bits: u32) -> Result<Self> {
        let mut model = RansModel { bits, ranges: Vec::new(), slots: Vec::new() };
        model.refit(counts)?;
        Ok(model)
    }

    /// Replaces the frequencies with `counts` scaled to this model's precision, reusing its
    /// tables (for adaptive coders that rebuild their models often).
    pub fn refit(&mut self, counts: &[u64]) -> Result<()> {
        if !(1..=MAX_BITS).contains(&self.bits) || counts.len() > 1 << 16 {
            return Err(Error::InvalidModel(format!("rANS precision {} bits, {} symbols", self.bits, counts.len())));
        }
        let freq = scale_counts(counts, 1 << self.bits)?;
        self.fill(&freq);
        Ok(())
    }

    /// A model whose frequencies already sum to `2^bits`.
    pub fn from_frequencies(freq: Vec<u32>, bits: u32) -> Result<Self> {
        if !(1..=MAX_BITS).contains(&bits) || freq.is_empty() || freq.len() > 1 << 16 {
            return Err(Error::InvalidModel("rANS model size".into()));
        }
        if freq.iter().map(|&f| u64::from(f)).sum::<u64>() != 1 << bits {
            return Err(Error::InvalidModel(format!("frequencies must sum to 2^{bits}")));
        }
        let mut model = RansModel { bits, ranges: Vec::new(), slots: Vec::new() };
        model.fill(&freq);
        Ok(model)
    }

    /// Sets the tables from frequencies that sum to `2^bits`.
    fn fill(&mut self, freq: &[u32]) {
        self.ranges.clear();
        self.slots.clear();
        let mut acc = 0;
        for (s, &f) in freq.iter().enumerate() {
            self.ranges.push((acc, f));
            acc += f;
            self.slots.extend(std::iter::repeat_n(s as u16, f as usize));
        }
    }

    /// Number of symbols.
    pub fn num_symbols(&self) -> usize {
        self.ranges.len()
    }

    /// Precision in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The frequency of `symbol` (out of `2^bits`).
    pub fn frequency(&self, symbol: usize) -> Option<u32> {
        self.ranges.get(symbol).map(|&(_, f)| f)
    }
}

/// Collects symbols, then writes them in reverse.
#[derive(Clone, Debug, Default)]
pub struct RansEncoder {
    pending: Vec<(u32, u32, u32)>,
}

impl RansEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `symbol` under `model`; an error for a symbol outside it or of frequency zero.
    #[inline]
    pub fn encode(&mut self, model: &RansModel, symbol: usize) -> Result<()> {
        match model.ranges.get(symbol) {
            Some(&(start, f)) if f > 0 => {
                self.pending.push((start, f, model.bits));
                Ok(())
            }
            _ => Err(Error::BadSymbol(symbol)),
        }
    }

    /// Queues the `bits` low bits of `value` as equiprobable (`bits` ≤ 16): a symbol of
    /// frequency 1 out of `2^bits`, so raw bits need no model and interleave with the symbols.
    #[inline]
    pub fn encode_bits(&mut self, value: u32, bits: u32) {
        debug_assert!(bits <= MAX_BITS && value >> bits == 0);
        if bits > 0 {
            self.pending.push((value, 1, bits));
        }
    }

    /// Codes everything queued and returns the stream.
    pub fn finish(self) -> Vec<u8> {
        let mut state = [LOW, LOW];
        let mut words: Vec<u16> = Vec::with_capacity(self.pending.len() / 2 + 4);
        for (i, &(start, freq, bits)) in self.pending.iter().enumerate().rev() {
            let x = &mut state[i & 1];
            // 64-bit: a symbol of probability 1 would overflow 32 bits here.
            let x_max = (u64::from(LOW >> bits) << 16) * u64::from(freq);
            if u64::from(*x) >= x_max {
                words.push(*x as u16);
                *x >>= 16;
            }
            *x = ((*x / freq) << bits) + (*x % freq) + start;
        }
        let mut out = Vec::with_capacity(8 + 2 * words.len());
        // The decoder starts from the last states and reads the words in reverse order of writing.
        out.extend_from_slice(&state[0].to_le_bytes());
        out.extend_from_slice(&state[1].to_le_bytes());
        for w in words.iter().rev() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// Reads symbols in the order they were given to the encoder.
#[derive(Clone, Debug)]
pub struct RansDecoder<'a> {
    /// The state the next symbol is read from, then the other one: the two alternate.
    state: [u32; 2],
    data: &'a [u8],
    pos: usize,
}

impl<'a> RansDecoder<'a> {
    /// Starts decoding; an error when the stream is too short to hold the states.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        if data.len() < 8 || (data.len() - 8) % 2 != 0 {
            return Err(Error::Truncated);
        }
        let word = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"));
        let state = [word(0), word(4)];
        if state.iter().any(|&x| x < LOW) {
            return Err(Error::Corrupt("rANS state below its range"));
        }
        Ok(RansDecoder { state, data, pos: 8 })
    }

    /// Decodes one symbol under `model`.
    #[inline]
    pub fn decode(&mut self, model: &RansModel) -> Result<usize> {
        let x = self.state[0];
        let mask = (1u32 << model.bits) - 1;
        let slot = x & mask;
        let s = usize::from(model.slots[slot as usize]);
        let (start, freq) = model.ranges[s];
        self.advance(freq * (x >> model.bits) + slot - start)?;
        Ok(s)
    }

    /// Reads `bits` equiprobable bits written by [`RansEncoder::encode_bits`].
    #[inline]
    pub fn decode_bits(&mut self, bits: u32) -> Result<u32> {
        if bits == 0 {
            return Ok(0);
        }
        let x = self.state[0];
        self.advance(x >> bits)?;
        Ok(x & ((1u32 << bits) - 1))
    }

    /// Refills the state just used to `x` and passes to the other one.
    #[inline]
    fn advance(&mut self, mut x: u32) -> Result<()> {
        if x < LOW {
            let Some(w) = self.data.get(self.pos..self.pos + 2) else {
                return Err(Error::Truncated);
            };
            x = (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            self.pos += 2;
        }
        self.state = [self.state[1], x];
        Ok(())
    }

    /// Checks that the stream ended exactly: both states back at the start, every word read.
    pub fn finish(&self) -> Result<()> {
        if self.state == [LOW, LOW] && self.pos == self.data.len() {
            Ok(())
        } else {
            Err(Error::Corrupt("rANS stream does not end where it should"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_changing_models() {
        let a = RansModel::from_counts(&[10, 1, 0, 300, 5], 12).unwrap();
        let b = RansModel::from_counts(&[1, 1], 16).unwrap();
        let msg: Vec<(bool, usize)> =
            (0..10_001).map(|i| if i % 3 == 0 { (true, i % 2) } else { (false, [0, 1, 3, 4][i % 4]) }).collect();
        let mut enc = RansEncoder::new();
        for &(use_b, s) in &msg {
            enc.encode(if use_b { &b } else { &a }, s).unwrap();
        }
        let bytes = enc.finish();
        let mut dec = RansDecoder::new(&bytes).unwrap();
        for &(use_b, s) in &msg {
            assert_eq!(dec.decode(if use_b { &b } else { &a }).unwrap(), s);
        }
        dec.finish().unwrap();
    }

    #[test]
    fn raw_bits_interleave_with_symbols() {
        let m = RansModel::from_counts(&[5, 1, 2], 12).unwrap();
        let msg: Vec<(u32, u32)> = (0..5000u32)
            .map(|i| (i % 17, i.wrapping_mul(2_654_435_761).checked_shr(32 - i % 17).unwrap_or(0)))
            .collect();
        let mut enc = RansEncoder::new();
        for &(bits, v) in &msg {
            enc.encode(&m, (bits % 3) as usize).unwrap();
            enc.encode_bits(v, bits);
        }
        let bytes = enc.finish();
        let mut dec = RansDecoder::new(&bytes).unwrap();
        for &(bits, v) in &msg {
            assert_eq!(dec.decode(&m).unwrap(), (bits % 3) as usize);
            assert_eq!(dec.decode_bits(bits).unwrap(), v);
        }
        dec.finish().unwrap();
    }

    #[test]
    fn one_symbol_alphabet_costs_nothing() {
        let m = RansModel::from_counts(&[5], 16).unwrap();
        let mut enc = RansEncoder::new();
        for _ in 0..1000 {
            enc.encode(&m, 0).unwrap();
        }
        let bytes = enc.finish();
        assert_eq!(bytes.len(), 8);
        let mut dec = RansDecoder::new(&bytes).unwrap();
        for _ in 0..1000 {
            assert_eq!(dec.decode(&m).unwrap(), 0);
        }
        dec.finish().unwrap();
    }

    #[test]
    fn empty_and_bad_input() {
        let bytes = RansEncoder::new().finish();
        assert_eq!(bytes.len(), 8);
        RansDecoder::new(&bytes).unwrap().finish().unwrap();
        assert!(RansDecoder::new(&[1, 2, 3]).is_err());
        let m = RansModel::from_counts(&[1, 0, 1], 8).unwrap();
        assert!(RansEncoder::new().encode(&m, 1).is_err());
        assert!(RansModel::from_frequencies(vec![1, 2], 4).is_err());
    }
}

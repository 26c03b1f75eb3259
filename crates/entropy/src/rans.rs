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
//! pick a table per latent), as long as encoder and decoder use the same sequence. Two kinds
//! implement [`RansTable`], with the same frequencies from the same counts and so the same
//! streams: [`RansModel`] finds a slot's symbol in a table of all `2^bits` slots (one load,
//! for any alphabet), [`SearchModel`] by comparing the slot with each symbol's start (256
//! bytes in all, for adaptive coders with many small models that must stay in the cache).
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

/// What the coder needs of a model: its precision, a symbol's slots, and a slot's symbol.
pub trait RansTable {
    /// Precision in bits: the frequencies sum to `2^bits`.
    fn bits(&self) -> u32;
    /// The first slot and the number of slots of `symbol`, if it is in the alphabet.
    fn range(&self, symbol: usize) -> Option<(u32, u32)>;
    /// The symbol owning `slot` (below `2^bits`), with its first slot and number of slots.
    fn find(&self, slot: u32) -> (usize, u32, u32);
}

impl RansTable for RansModel {
    #[inline]
    fn bits(&self) -> u32 {
        self.bits
    }

    #[inline]
    fn range(&self, symbol: usize) -> Option<(u32, u32)> {
        self.ranges.get(symbol).copied()
    }

    #[inline]
    fn find(&self, slot: u32) -> (usize, u32, u32) {
        let s = usize::from(self.slots[slot as usize]);
        let (start, freq) = self.ranges[s];
        (s, start, freq)
    }
}

/// Most symbols of a [`SearchModel`].
pub const SEARCH_SYMBOLS: usize = 64;
/// Highest precision of a [`SearchModel`]: its starts and slots compare as `i16`.
pub const SEARCH_MAX_BITS: u32 = 14;

/// A model of at most [`SEARCH_SYMBOLS`] symbols that finds a slot's symbol by counting the
/// symbols that start at or below it instead of reading a slot table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchModel {
    bits: u32,
    symbols: usize,
    /// Each symbol's first slot; past the alphabet, `i16::MAX`, above every slot.
    starts: [i16; SEARCH_SYMBOLS],
    freqs: [u16; SEARCH_SYMBOLS],
}

impl SearchModel {
    /// Scales `counts` to a total of `2^bits`, as [`RansModel::from_counts`] does.
    pub fn from_counts(counts: &[u64], bits: u32) -> Result<Self> {
        if !(1..=SEARCH_MAX_BITS).contains(&bits) || counts.is_empty() || counts.len() > SEARCH_SYMBOLS {
            return Err(Error::InvalidModel(format!(
                "search model of {} symbols at {bits} bits (at most {SEARCH_SYMBOLS} symbols, {SEARCH_MAX_BITS} bits)",
                counts.len()
            )));
        }
        let mut model =
            SearchModel { bits, symbols: counts.len(), starts: [i16::MAX; SEARCH_SYMBOLS], freqs: [0; SEARCH_SYMBOLS] };
        model.refit(counts)?;
        Ok(model)
    }

    /// Replaces the frequencies with `counts` (as many as before) scaled to this precision.
    pub fn refit(&mut self, counts: &[u64]) -> Result<()> {
        if counts.len() != self.symbols {
            return Err(Error::InvalidModel(format!("{} counts for {} symbols", counts.len(), self.symbols)));
        }
        let freq = scale_counts(counts, 1 << self.bits)?;
        let mut acc = 0u32;
        for ((start, f), &count) in self.starts.iter_mut().zip(&mut self.freqs).zip(&freq) {
            // Both fit: the frequencies sum to 2^bits ≤ 2^14.
            *start = acc as i16;
            *f = count as u16;
            acc += count;
        }
        Ok(())
    }

    /// Number of symbols.
    pub fn num_symbols(&self) -> usize {
        self.symbols
    }

    /// The frequency of `symbol` (out of `2^bits`).
    pub fn frequency(&self, symbol: usize) -> Option<u32> {
        (symbol < self.symbols).then(|| u32::from(self.freqs[symbol]))
    }
}

impl RansTable for SearchModel {
    #[inline]
    fn bits(&self) -> u32 {
        self.bits
    }

    #[inline]
    fn range(&self, symbol: usize) -> Option<(u32, u32)> {
        (symbol < self.symbols).then(|| (self.starts[symbol] as u32, u32::from(self.freqs[symbol])))
    }

    #[inline(always)]
    fn find(&self, slot: u32) -> (usize, u32, u32) {
        // The owner is the last symbol starting at or below the slot: a symbol of frequency
        // zero shares its start with the next one. The first symbol starts at 0, so at least
        // one is counted. A fixed length, so the comparisons unroll into vector instructions.
        let slot = slot as i16;
        let count: i16 = self.starts.iter().map(|&start| i16::from(start <= slot)).sum();
        let s = (count - 1) as usize % SEARCH_SYMBOLS;
        (s, self.starts[s] as u32, u32::from(self.freqs[s]))
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
    pub fn encode(&mut self, model: &impl RansTable, symbol: usize) -> Result<()> {
        match model.range(symbol) {
            Some((start, f)) if f > 0 => {
                self.pending.push((start, f, model.bits()));
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
    #[inline(always)]
    pub fn decode(&mut self, model: &impl RansTable) -> Result<usize> {
        let x = self.state[0];
        let bits = model.bits();
        let slot = x & ((1u32 << bits) - 1);
        let (s, start, freq) = model.find(slot);
        self.advance(freq * (x >> bits) + slot - start)?;
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
    fn search_and_slot_tables_agree_on_every_slot() {
        // Zero counts inside and at the end, one symbol, and alphabets of 32, 33 and 64 symbols.
        let cases: [&[u64]; 5] =
            [&[10, 0, 0, 300, 5, 0], &[7], &[1; 32], &[3; 33], &[1, 900, 0, 2, 0, 0, 44, 1, 1, 1, 1, 1, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9]];
        for counts in cases {
            for bits in [6, 12, 14] {
                let (slots, search) = (RansModel::from_counts(counts, bits), SearchModel::from_counts(counts, bits));
                assert_eq!(slots.is_ok(), search.is_ok(), "{counts:?} at {bits} bits");
                let (Ok(slots), Ok(search)) = (slots, search) else { continue };
                for slot in 0..1u32 << bits {
                    assert_eq!(search.find(slot), slots.find(slot), "slot {slot} of {counts:?} at {bits} bits");
                }
                for s in 0..counts.len() {
                    assert_eq!(search.range(s), slots.range(s));
                }
                assert_eq!(search.range(counts.len()), None);
            }
        }
        assert!(SearchModel::from_counts(&[1; 65], 12).is_err());
        assert!(SearchModel::from_counts(&[1, 2], 15).is_err());
        assert!(SearchModel::from_counts(&[1, 2], 12).unwrap().refit(&[1, 2, 3]).is_err());
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

//! Adaptive probability states for binary context coding.
//!
//! A [`BitModel`] is one context: the probability that the next bit is 1, in 1/65536, kept as
//! the mean of a fast and a slow estimate (the two-rate estimator of VVC's CABAC). Each update is
//! two shifts and two adds; there is no division anywhere. Code bits through
//! [`RangeEncoder::encode_bit`](crate::range::RangeEncoder::encode_bit) and
//! [`RangeDecoder::decode_bit`](crate::range::RangeDecoder::decode_bit).

/// Probability resolution: probabilities are in units of 2^-16.
pub const PROB_BITS: u32 = 16;
const ONE: u32 = 1 << PROB_BITS;

/// An adaptive estimate of P(bit = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitModel {
    fast: u16,
    slow: u16,
    fast_rate: u8,
    slow_rate: u8,
}

impl Default for BitModel {
    fn default() -> Self {
        Self::new()
    }
}

impl BitModel {
    /// A context at p = 1/2 adapting with rates 2^-4 and 2^-7.
    pub const fn new() -> Self {
        Self::with_rates(4, 7)
    }

    /// A context at p = 1/2 with the given adaptation shifts (1..=15; larger is slower).
    pub const fn with_rates(fast_rate: u8, slow_rate: u8) -> Self {
        let half = (ONE / 2) as u16;
        BitModel { fast: half, slow: half, fast_rate, slow_rate }
    }

    /// A context starting at `p1` (in 1/65536, clamped to 1..=65535).
    pub fn with_probability(p1: u32) -> Self {
        let p = p1.clamp(1, ONE - 1) as u16;
        BitModel { fast: p, slow: p, ..Self::new() }
    }

    /// P(bit = 1) in 1/65536, always in 1..=65535.
    #[inline]
    pub fn p1(&self) -> u32 {
        (u32::from(self.fast) + u32::from(self.slow) + 1) >> 1
    }

    /// Moves the estimate towards `bit`.
    #[inline]
    pub fn update(&mut self, bit: bool) {
        self.fast = step(self.fast, bit, self.fast_rate);
        self.slow = step(self.slow, bit, self.slow_rate);
    }

    /// The cost of coding `bit` in this state, in bits (for rate estimates in encoders).
    pub fn cost(&self, bit: bool) -> f64 {
        let p = if bit { self.p1() } else { ONE - self.p1() };
        -(f64::from(p) / f64::from(ONE)).log2()
    }
}

#[inline]
fn step(p: u16, bit: bool, rate: u8) -> u16 {
    let p = u32::from(p);
    // Stays within 1..=65535: the step towards 0 is p >> rate < p for p >= 1, and the step
    // towards 65536 leaves at least (65536 - p) - ((65536 - p) >> rate) >= 1.
    let next = if bit { p + ((ONE - p) >> rate) } else { p - (p >> rate) };
    next.clamp(1, ONE - 1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapts_towards_observed_bits_and_stays_in_range() {
        let mut m = BitModel::new();
        for _ in 0..10_000 {
            m.update(true);
        }
        assert!(m.p1() > 65_000 && m.p1() < ONE);
        for _ in 0..10_000 {
            m.update(false);
        }
        assert!(m.p1() < 500 && m.p1() >= 1);
    }
}

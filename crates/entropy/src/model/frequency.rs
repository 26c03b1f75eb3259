//! A static frequency table: the tutorial's "symbol → frequency" made into a coder model.

use super::{Model, MAX_TOTAL};
use crate::{Error, Result};

/// A fixed model built from symbol counts. Symbols may have frequency zero (they then cannot be
/// coded); decoding looks the symbol up in O(1) through a slot table when the total is small and
/// by binary search otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrequencyTable {
    /// `cum[s]` is the sum of the frequencies of the symbols before `s`; `cum[n]` the total.
    cum: Vec<u32>,
    /// Symbol of each slot `0..total`, built when the total is at most 2^16.
    slots: Vec<u16>,
    /// For larger power-of-two totals: the symbol at the start of each of 4096 equal buckets,
    /// from which a short forward scan finds the symbol.
    buckets: Vec<u32>,
    bucket_shift: u32,
}

impl FrequencyTable {
    /// Builds a model whose frequencies are exactly `counts`.
    pub fn from_counts(counts: &[u32]) -> Result<Self> {
        if counts.is_empty() {
            return Err(Error::InvalidModel("no symbols".into()));
        }
        let mut cum = Vec::with_capacity(counts.len() + 1);
        let mut total = 0u64;
        cum.push(0);
        for &c in counts {
            total += u64::from(c);
            if total > u64::from(MAX_TOTAL) {
                return Err(Error::InvalidModel(format!("total frequency over {MAX_TOTAL}")));
            }
            cum.push(total as u32);
        }
        if total == 0 {
            return Err(Error::InvalidModel("all frequencies are zero".into()));
        }
        let slots = if total <= 1 << 16 && counts.len() <= 1 << 16 {
            let mut slots = Vec::with_capacity(total as usize);
            for (s, &c) in counts.iter().enumerate() {
                slots.extend(std::iter::repeat_n(s as u16, c as usize));
            }
            slots
        } else {
            Vec::new()
        };
        let (mut buckets, mut bucket_shift) = (Vec::new(), 0);
        if slots.is_empty() && total.is_power_of_two() {
            bucket_shift = total.trailing_zeros() - 12;
            let mut s = 0usize;
            for b in 0..1u64 << 12 {
                let start = (b << bucket_shift) as u32;
                while cum[s + 1] <= start {
                    s += 1;
                }
                buckets.push(s as u32);
            }
        }
        Ok(FrequencyTable { cum, slots, buckets, bucket_shift })
    }

    /// Builds a model from counts scaled to sum to `2^precision_bits`, keeping every symbol
    /// with a non-zero count codable (frequency at least 1). Use it to turn measured
    /// histograms into a model with a fixed total.
    pub fn from_counts_scaled(counts: &[u64], precision_bits: u32) -> Result<Self> {
        let target = 1u64 << precision_bits.min(24);
        let freqs = scale_counts(counts, target)?;
        Self::from_counts(&freqs)
    }

    /// The frequency of each symbol.
    pub fn frequencies(&self) -> Vec<u32> {
        self.cum.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// Scales `counts` to frequencies summing exactly to `target`, every non-zero count getting at
/// least 1. Errors when there are more non-zero symbols than `target`, or no count at all.
pub fn scale_counts(counts: &[u64], target: u64) -> Result<Vec<u32>> {
    let sum: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    let nonzero = counts.iter().filter(|&&c| c > 0).count() as u64;
    if sum == 0 {
        return Err(Error::InvalidModel("all counts are zero".into()));
    }
    if nonzero > target {
        return Err(Error::InvalidModel("more symbols than the precision allows".into()));
    }
    // The same quotients in 64 bits when the products fit, as they do for adaptive tables
    // rebuilt many times per image.
    let narrow = u64::try_from(sum).ok().filter(|&s| s.checked_mul(target).is_some());
    let mut freqs: Vec<u32> = counts
        .iter()
        .map(|&c| {
            let f = match narrow {
                Some(sum) => c * target / sum,
                None => (u128::from(c) * u128::from(target) / sum) as u64,
            };
            if c == 0 { 0 } else { f.max(1) as u32 }
        })
        .collect();
    // Fix the rounding: give or take from the symbols with the largest frequencies, where a
    // unit costs the least.
    let mut total: i64 = freqs.iter().map(|&f| i64::from(f)).sum();
    let mut order: Vec<usize> = (0..freqs.len()).filter(|&i| freqs[i] > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(freqs[i]));
    let mut k = 0;
    while total != target as i64 {
        let i = order[k % order.len()];
        if total < target as i64 {
            freqs[i] += 1;
            total += 1;
        } else if freqs[i] > 1 {
            freqs[i] -= 1;
            total -= 1;
        }
        k += 1;
    }
    Ok(freqs)
}

impl Model for FrequencyTable {
    fn total(&self) -> u32 {
        *self.cum.last().expect("at least one symbol")
    }
    fn num_symbols(&self) -> usize {
        self.cum.len() - 1
    }
    fn interval(&self, symbol: usize) -> Result<(u32, u32)> {
        if symbol + 1 >= self.cum.len() {
            return Err(Error::BadSymbol(symbol));
        }
        let (lo, hi) = (self.cum[symbol], self.cum[symbol + 1]);
        if hi == lo {
            return Err(Error::BadSymbol(symbol));
        }
        Ok((lo, hi - lo))
    }
    #[inline]
    fn find(&self, target: u32) -> (usize, u32, u32) {
        let s = if !self.slots.is_empty() {
            usize::from(self.slots[target as usize])
        } else if !self.buckets.is_empty() {
            let mut s = self.buckets[(target >> self.bucket_shift) as usize] as usize;
            while self.cum[s + 1] <= target {
                s += 1;
            }
            s
        } else {
            // The last s with cum[s] <= target.
            self.cum.partition_point(|&c| c <= target) - 1
        };
        (s, self.cum[s], self.cum[s + 1] - self.cum[s])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_lookup_agree() {
        let m = FrequencyTable::from_counts(&[2, 0, 7, 1]).unwrap();
        assert_eq!(m.total(), 10);
        assert_eq!(m.interval(0).unwrap(), (0, 2));
        assert!(m.interval(1).is_err());
        assert_eq!(m.interval(2).unwrap(), (2, 7));
        assert!(m.interval(4).is_err());
        for t in 0..10 {
            let (s, c, f) = m.find(t);
            assert!(c <= t && t < c + f);
            assert_eq!(m.interval(s).unwrap(), (c, f));
        }
    }

    #[test]
    fn bucket_lookup_agrees_with_the_intervals() {
        let counts: Vec<u32> = (0..300).map(|i| 1 + (i * 7919 % 1000)).collect();
        let freqs = scale_counts(&counts.iter().map(|&c| u64::from(c)).collect::<Vec<_>>(), 1 << 24).unwrap();
        let m = FrequencyTable::from_counts(&freqs).unwrap();
        assert!(!m.buckets.is_empty());
        for t in (0..1u32 << 24).step_by(997) {
            let (s, c, f) = m.find(t);
            assert!(c <= t && t < c + f);
            assert_eq!(m.interval(s).unwrap(), (c, f));
        }
    }

    #[test]
    fn scaling_keeps_every_symbol() {
        let f = scale_counts(&[1, 1_000_000, 0, 3], 1 << 12).unwrap();
        assert_eq!(f.iter().sum::<u32>(), 1 << 12);
        assert!(f[0] >= 1 && f[2] == 0 && f[3] >= 1);
    }

    #[test]
    fn bad_tables_are_errors() {
        assert!(FrequencyTable::from_counts(&[]).is_err());
        assert!(FrequencyTable::from_counts(&[0, 0]).is_err());
        assert!(FrequencyTable::from_counts(&[MAX_TOTAL, 1]).is_err());
    }
}

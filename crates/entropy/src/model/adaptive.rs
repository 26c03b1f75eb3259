//! An adaptive frequency model: counts that follow the data, kept in a Fenwick tree.

use super::{Model, MAX_TOTAL};
use crate::{Error, Result};

/// Counts per symbol, incremented after each coded symbol and halved when their total passes
/// a limit (so the model tracks changing statistics). A Fenwick (binary indexed) tree keeps
/// cumulative counts, so coding, decoding and updating cost O(log n) for alphabets of up to
/// 65,536 symbols. Every symbol keeps a count of at least 1, so any symbol can be coded.
#[derive(Clone, Debug)]
pub struct AdaptiveFrequency {
    counts: Vec<u32>,
    tree: Vec<u32>,
    total: u32,
    increment: u32,
    limit: u32,
}

impl AdaptiveFrequency {
    /// A uniform start over `symbols` symbols, increment 24 and a total limit of 2^16.
    pub fn new(symbols: usize) -> Result<Self> {
        Self::with_params(symbols, 24, 1 << 16)
    }

    /// A uniform start with the given increment per coded symbol and total limit.
    pub fn with_params(symbols: usize, increment: u32, limit: u32) -> Result<Self> {
        if symbols == 0 || symbols > 1 << 16 {
            return Err(Error::InvalidModel(format!("{symbols} symbols (1 to 65536 allowed)")));
        }
        if increment == 0 || limit > MAX_TOTAL || (limit as usize) < 2 * symbols + increment as usize {
            return Err(Error::InvalidModel("increment or limit out of range".into()));
        }
        let mut m = AdaptiveFrequency {
            counts: vec![1; symbols],
            tree: vec![0; symbols + 1],
            total: 0,
            increment,
            limit,
        };
        m.rebuild();
        Ok(m)
    }

    fn rebuild(&mut self) {
        // Linear-time Fenwick construction: each node passes its sum to its parent.
        let n = self.counts.len();
        self.tree[0] = 0;
        self.tree[1..].copy_from_slice(&self.counts);
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                self.tree[parent] += self.tree[i];
            }
        }
        self.total = self.counts.iter().sum();
    }

    fn add(&mut self, symbol: usize, delta: u32) {
        let mut i = symbol + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    /// Sum of the counts of the symbols before `symbol`.
    fn prefix(&self, symbol: usize) -> u32 {
        let mut i = symbol;
        let mut sum = 0;
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }
}

impl Model for AdaptiveFrequency {
    fn total(&self) -> u32 {
        self.total
    }
    fn num_symbols(&self) -> usize {
        self.counts.len()
    }
    fn interval(&self, symbol: usize) -> Result<(u32, u32)> {
        match self.counts.get(symbol) {
            Some(&c) => Ok((self.prefix(symbol), c)),
            None => Err(Error::BadSymbol(symbol)),
        }
    }
    fn find(&self, target: u32) -> (usize, u32, u32) {
        // Descend the Fenwick tree for the last position whose prefix sum is <= target.
        let n = self.counts.len();
        let mut pos = 0usize;
        let mut rest = target;
        let mut step = (n + 1).next_power_of_two() >> 1;
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= rest {
                pos = next;
                rest -= self.tree[next];
            }
            step >>= 1;
        }
        let s = pos.min(n - 1);
        (s, target - rest, self.counts[s])
    }
    fn update(&mut self, symbol: usize) {
        if symbol >= self.counts.len() {
            return;
        }
        self.counts[symbol] += self.increment;
        self.add(symbol, self.increment);
        self.total += self.increment;
        if self.total > self.limit {
            self.counts.iter_mut().for_each(|c| *c = (*c + 1) / 2);
            self.rebuild();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::{RangeDecoder, RangeEncoder};

    #[test]
    fn fenwick_lookup_matches_a_linear_scan() {
        let mut m = AdaptiveFrequency::with_params(37, 5, 4000).unwrap();
        for i in 0..3000 {
            m.update((i * i) % 37);
        }
        for t in 0..m.total() {
            let (s, c, f) = m.find(t);
            assert!(c <= t && t < c + f, "target {t} -> {s} [{c}, {})", c + f);
            assert_eq!(m.interval(s).unwrap(), (c, f));
        }
    }

    #[test]
    fn learns_a_skewed_source_and_round_trips() {
        let msg: Vec<usize> = (0..50_000).map(|i| if i % 10 == 0 { i % 300 } else { 7 }).collect();
        let mut m = AdaptiveFrequency::new(300).unwrap();
        let mut enc = RangeEncoder::new();
        for &s in &msg {
            enc.encode(&m, s).unwrap();
            m.update(s);
        }
        let bytes = enc.finish();
        assert!(bytes.len() < msg.len() / 8, "{} bytes", bytes.len());
        let mut m = AdaptiveFrequency::new(300).unwrap();
        let mut dec = RangeDecoder::new(&bytes);
        for &s in &msg {
            let got = dec.decode(&m).unwrap();
            assert_eq!(got, s);
            m.update(got);
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(AdaptiveFrequency::new(0).is_err());
        assert!(AdaptiveFrequency::new(70_000).is_err());
        assert!(AdaptiveFrequency::with_params(10, 0, 100).is_err());
        assert!(AdaptiveFrequency::new(3).unwrap().interval(3).is_err());
    }
}

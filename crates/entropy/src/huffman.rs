//! Canonical Huffman codes: length-limited construction by package-merge, compact code-length
//! headers, and table-driven decoding.

use crate::bits::{BitReader, BitWriter};
use crate::{Error, Result};

/// Longest code length allowed.
pub const MAX_CODE_LENGTH: u32 = 15;

/// A canonical prefix code over symbols `0..n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HuffmanCode {
    lengths: Vec<u8>,
    codes: Vec<u32>,
    max_len: u32,
    /// For every `max_len`-bit prefix: `(symbol, length)`, length 0 for prefixes of no code.
    table: Vec<(u16, u8)>,
}

impl HuffmanCode {
    /// The optimal code with no length over `max_len` for the given symbol counts (package-merge).
    /// Symbols with count zero get no code.
    pub fn from_counts(counts: &[u64], max_len: u32) -> Result<Self> {
        if counts.is_empty() || counts.len() > 1 << 16 {
            return Err(Error::InvalidModel(format!("{} symbols (1 to 65536 allowed)", counts.len())));
        }
        if !(1..=MAX_CODE_LENGTH).contains(&max_len) {
            return Err(Error::InvalidModel(format!("code length limit {max_len}")));
        }
        let used: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
        let mut lengths = vec![0u8; counts.len()];
        match used.len() {
            0 => return Err(Error::InvalidModel("all counts are zero".into())),
            1 => lengths[used[0]] = 1,
            n if n > 1 << max_len => {
                return Err(Error::InvalidModel(format!("{n} symbols do not fit {max_len}-bit codes")))
            }
            _ => {
                for (s, l) in package_merge(counts, &used, max_len) {
                    lengths[s] = l;
                }
            }
        }
        Self::from_lengths(lengths)
    }

    /// The canonical code with the given lengths (0 = no code). The lengths must satisfy
    /// Kraft's equality, or describe a single one-bit code.
    pub fn from_lengths(lengths: Vec<u8>) -> Result<Self> {
        let max_len = u32::from(*lengths.iter().max().unwrap_or(&0));
        if max_len == 0 || max_len > MAX_CODE_LENGTH || lengths.len() > 1 << 16 {
            return Err(Error::InvalidModel("code lengths out of range".into()));
        }
        let kraft: u64 = lengths.iter().filter(|&&l| l > 0).map(|&l| 1u64 << (max_len - u32::from(l))).sum();
        let used = lengths.iter().filter(|&&l| l > 0).count();
        let full = 1u64 << max_len;
        if kraft > full || (kraft < full && !(used == 1 && max_len == 1)) {
            return Err(Error::InvalidModel("code lengths do not form a complete prefix code".into()));
        }
        // Canonical assignment: by length, then by symbol.
        let mut codes = vec![0u32; lengths.len()];
        let mut order: Vec<usize> = (0..lengths.len()).filter(|&i| lengths[i] > 0).collect();
        order.sort_by_key(|&i| (lengths[i], i));
        let mut code = 0u32;
        let mut prev_len = u32::from(lengths[order[0]]);
        let mut table = vec![(0u16, 0u8); 1 << max_len];
        for &s in &order {
            let len = u32::from(lengths[s]);
            code <<= len - prev_len;
            prev_len = len;
            codes[s] = code;
            let first = (code << (max_len - len)) as usize;
            for entry in &mut table[first..first + (1 << (max_len - len))] {
                *entry = (s as u16, len as u8);
            }
            code += 1;
        }
        Ok(HuffmanCode { lengths, codes, max_len, table })
    }

    /// The code length of every symbol (0 = no code).
    pub fn lengths(&self) -> &[u8] {
        &self.lengths
    }

    /// Writes `symbol`'s code.
    #[inline]
    pub fn encode(&self, w: &mut BitWriter, symbol: usize) -> Result<()> {
        match self.lengths.get(symbol) {
            Some(&l) if l > 0 => {
                w.write_bits(self.codes[symbol], u32::from(l));
                Ok(())
            }
            _ => Err(Error::BadSymbol(symbol)),
        }
    }

    /// Reads one symbol with a single table lookup.
    #[inline]
    pub fn decode(&self, r: &mut BitReader) -> Result<usize> {
        let (s, len) = self.table[r.peek(self.max_len) as usize];
        if len == 0 {
            return Err(Error::Corrupt("bits that are no Huffman code"));
        }
        r.skip(u32::from(len))?;
        Ok(usize::from(s))
    }

    /// Writes the code lengths: the symbol count (16 bits, minus one), then per symbol 4 bits of
    /// length, a zero length followed by 4 bits of how many more zeros follow.
    pub fn write_lengths(&self, w: &mut BitWriter) {
        w.write_bits((self.lengths.len() - 1) as u32, 16);
        let mut i = 0;
        while i < self.lengths.len() {
            let l = self.lengths[i];
            w.write_bits(u32::from(l), 4);
            i += 1;
            if l == 0 {
                let run = self.lengths[i..].iter().take(15).take_while(|&&x| x == 0).count();
                w.write_bits(run as u32, 4);
                i += run;
            }
        }
    }

    /// Reads what [`HuffmanCode::write_lengths`] wrote, refusing more than `max_symbols`.
    pub fn read_lengths(r: &mut BitReader, max_symbols: usize) -> Result<Self> {
        let n = r.read_bits(16)? as usize + 1;
        if n > max_symbols {
            return Err(Error::Corrupt("more Huffman symbols than allowed"));
        }
        let mut lengths = Vec::with_capacity(n);
        while lengths.len() < n {
            let l = r.read_bits(4)? as u8;
            lengths.push(l);
            if l == 0 {
                let run = r.read_bits(4)? as usize;
                if lengths.len() + run > n {
                    return Err(Error::Corrupt("Huffman zero run past the end"));
                }
                lengths.extend(std::iter::repeat_n(0, run));
            }
        }
        Self::from_lengths(lengths).map_err(|_| Error::Corrupt("invalid Huffman code lengths"))
    }
}

/// Package-merge (Larmore and Hirschberg): optimal lengths ≤ `max_len` for the `used` symbols.
fn package_merge(counts: &[u64], used: &[usize], max_len: u32) -> Vec<(usize, u8)> {
    #[derive(Clone, Copy)]
    enum Item {
        Leaf(usize),
        Package(usize, usize),
    }
    let mut leaves: Vec<(u64, Item)> = used.iter().map(|&s| (counts[s], Item::Leaf(s))).collect();
    leaves.sort_by_key(|&(w, it)| (w, if let Item::Leaf(s) = it { s } else { 0 }));
    let mut levels: Vec<Vec<(u64, Item)>> = vec![leaves.clone()];
    for _ in 1..max_len {
        let prev = levels.last().expect("a level");
        let packages: Vec<(u64, Item)> =
            prev.chunks_exact(2).enumerate().map(|(k, p)| (p[0].0 + p[1].0, Item::Package(2 * k, 2 * k + 1))).collect();
        // Merge, leaves first on ties (so lengths stay short for equal weights).
        let mut merged = Vec::with_capacity(leaves.len() + packages.len());
        let (mut a, mut b) = (0, 0);
        while a < leaves.len() || b < packages.len() {
            if b >= packages.len() || (a < leaves.len() && leaves[a].0 <= packages[b].0) {
                merged.push(leaves[a]);
                a += 1;
            } else {
                merged.push(packages[b]);
                b += 1;
            }
        }
        levels.push(merged);
    }
    let mut len = vec![0u8; counts.len()];
    // Take the 2n − 2 cheapest items of the last level; each leaf inside adds one to its length.
    let mut stack: Vec<(usize, usize)> = (0..2 * used.len() - 2).map(|i| (levels.len() - 1, i)).collect();
    while let Some((level, i)) = stack.pop() {
        match levels[level][i].1 {
            Item::Leaf(s) => len[s] += 1,
            Item::Package(a, b) => {
                stack.push((level - 1, a));
                stack.push((level - 1, b));
            }
        }
    }
    used.iter().map(|&s| (s, len[s])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unlimited Huffman code cost, for comparison.
    fn optimal_cost(counts: &[u64]) -> u64 {
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<u64>> =
            counts.iter().filter(|&&c| c > 0).map(|&c| std::cmp::Reverse(c)).collect();
        let mut cost = 0;
        while heap.len() > 1 {
            let a = heap.pop().unwrap().0;
            let b = heap.pop().unwrap().0;
            cost += a + b;
            heap.push(std::cmp::Reverse(a + b));
        }
        cost
    }

    fn cost(code: &HuffmanCode, counts: &[u64]) -> u64 {
        counts.iter().zip(code.lengths()).map(|(&c, &l)| c * u64::from(l)).sum()
    }

    #[test]
    fn matches_unlimited_huffman_when_the_limit_does_not_bind() {
        let counts = [5u64, 9, 12, 13, 16, 45, 0, 1];
        let code = HuffmanCode::from_counts(&counts, 15).unwrap();
        assert_eq!(cost(&code, &counts), optimal_cost(&counts));
    }

    #[test]
    fn respects_the_length_limit_and_stays_decodable() {
        let counts: Vec<u64> = (0..40).map(|i| 1u64 << (i % 30)).collect();
        let code = HuffmanCode::from_counts(&counts, 9).unwrap();
        assert!(code.lengths().iter().all(|&l| l <= 9 && l > 0));
        assert!(cost(&code, &counts) >= optimal_cost(&counts));
        let mut w = BitWriter::new();
        code.write_lengths(&mut w);
        for s in 0..40 {
            code.encode(&mut w, s).unwrap();
        }
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        let back = HuffmanCode::read_lengths(&mut r, 1000).unwrap();
        assert_eq!(back, code);
        for s in 0..40 {
            assert_eq!(back.decode(&mut r).unwrap(), s);
        }
    }

    #[test]
    fn single_symbol_and_bad_input() {
        let code = HuffmanCode::from_counts(&[0, 7, 0], 15).unwrap();
        assert_eq!(code.lengths(), &[0, 1, 0]);
        assert!(code.encode(&mut BitWriter::new(), 0).is_err());
        // Reading the unused code '1' is an error, not a wrong symbol.
        let mut r = BitReader::new(&[0xFF]);
        assert!(code.decode(&mut r).is_err());
        assert!(HuffmanCode::from_lengths(vec![1, 1, 1]).is_err());
        assert!(HuffmanCode::from_lengths(vec![2, 2, 2]).is_err());
        assert!(HuffmanCode::from_counts(&[1; 300], 8).is_err());
    }

    proptest::proptest! {
        /// With at most 12 symbols of counts below 1,000 the optimal code is shorter than 15
        /// bits, so package-merge must match Huffman's cost exactly; with a binding limit it
        /// must respect it, cost no less, and still decode every symbol.
        #[test]
        fn optimal_unless_limited_and_always_decodable(
            counts in proptest::collection::vec(0u64..1000, 2..12),
            limit in 4u32..=15,
        ) {
            let used = counts.iter().filter(|&&c| c > 0).count();
            proptest::prop_assume!(used >= 2);
            let best = optimal_cost(&counts);
            let code = HuffmanCode::from_counts(&counts, 15).unwrap();
            proptest::prop_assert_eq!(cost(&code, &counts), best);
            let limited = HuffmanCode::from_counts(&counts, limit).unwrap();
            proptest::prop_assert!(limited.lengths().iter().all(|&l| u32::from(l) <= limit));
            proptest::prop_assert!(cost(&limited, &counts) >= best);
            let mut w = BitWriter::new();
            limited.write_lengths(&mut w);
            let symbols: Vec<usize> = (0..counts.len()).filter(|&s| counts[s] > 0).cycle().take(50).collect();
            for &s in &symbols {
                limited.encode(&mut w, s).unwrap();
            }
            let bytes = w.finish();
            let mut r = BitReader::new(&bytes);
            let back = HuffmanCode::read_lengths(&mut r, 64).unwrap();
            proptest::prop_assert_eq!(&back, &limited);
            for &s in &symbols {
                proptest::prop_assert_eq!(back.decode(&mut r).unwrap(), s);
            }
        }
    }
}

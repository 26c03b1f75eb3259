//! The textbook arithmetic coder, made exact: every interval is a rational number, so the
//! trace reproduces the tutorial's worked examples digit for digit, at any message length.
//!
//! The tutorial codes a message by shrinking `[0, 1)`: at each stage the current interval is
//! split in proportion to the symbol frequencies (in table order) and the sub-interval of the
//! next symbol is kept. The final interval's midpoint is "the" code value; the shortest binary
//! fraction inside the interval is the code a real coder could send. Decoding runs the same
//! splits, picking at each stage the sub-interval that holds the value.
//!
//! [`explain`] records all of that with exact rationals, and codes the same message with the
//! integer [`RangeEncoder`] to show what a real coder writes beside the ideal −Σ log2 p.

use std::fmt;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::model::FrequencyTable;
use crate::range::RangeEncoder;
use crate::{Error, Result};

/// Longest message `explain` accepts: the trace prints every stage, and the exact intervals'
/// denominators grow with the message.
pub const MAX_MESSAGE: usize = 10_000;

/// One stage of coding: the interval before, every symbol's sub-interval, and the one kept.
#[derive(Clone, Debug)]
pub struct Stage {
    /// The interval before this symbol.
    pub low: BigRational,
    /// Upper end (exclusive) of the interval before this symbol.
    pub high: BigRational,
    /// `(low, high)` of each symbol's sub-interval, in table order.
    pub splits: Vec<(BigRational, BigRational)>,
    /// The symbol coded at this stage.
    pub symbol: usize,
}

/// Everything the trace shows.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// Symbol names, in table order.
    pub symbols: Vec<String>,
    /// Their frequencies.
    pub freqs: Vec<u64>,
    /// The message as symbol indices.
    pub message: Vec<usize>,
    /// One entry per coded symbol.
    pub stages: Vec<Stage>,
    /// Final interval `[low, high)`.
    pub low: BigRational,
    /// Upper end (exclusive) of the final interval.
    pub high: BigRational,
    /// The tutorial's code value: the midpoint of the final interval.
    pub value: BigRational,
    /// The shortest binary fraction `0.b1b2…bk` inside the final interval, as its bits.
    pub shortest_bits: String,
    /// The symbols decoded back from `value`, stage by stage, with the interval each came from.
    pub decoded: Vec<(usize, BigRational, BigRational)>,
    /// −Σ log2 p(symbol) in bits.
    pub ideal_bits: f64,
    /// Bytes the integer range coder writes for the message (its length known to the decoder).
    pub range_coder_bytes: usize,
}

/// Traces the exact arithmetic coding of `message` (indices into `freqs`).
pub fn explain(symbols: &[String], freqs: &[u64], message: &[usize]) -> Result<Explanation> {
    if symbols.len() != freqs.len() || symbols.is_empty() {
        return Err(Error::InvalidModel("one frequency per symbol, at least one symbol".into()));
    }
    if message.len() > MAX_MESSAGE {
        return Err(Error::InvalidModel(format!("message longer than {MAX_MESSAGE} symbols")));
    }
    let total: u64 = freqs.iter().sum();
    if total == 0 {
        return Err(Error::InvalidModel("all frequencies are zero".into()));
    }
    for &s in message {
        if s >= freqs.len() || freqs[s] == 0 {
            return Err(Error::BadSymbol(s));
        }
    }
    // Cumulative frequencies as fractions of the total: symbol s owns [cum[s], cum[s+1]).
    let frac = |n: u64| BigRational::new(BigInt::from(n), BigInt::from(total));
    let mut cum = vec![BigRational::zero()];
    let mut acc = 0u64;
    for &f in freqs {
        acc += f;
        cum.push(frac(acc));
    }
    let split = |low: &BigRational, high: &BigRational| -> Vec<(BigRational, BigRational)> {
        let width = high - low;
        cum.windows(2).map(|w| (low + &width * &w[0], low + &width * &w[1])).collect()
    };

    let (mut low, mut high) = (BigRational::zero(), BigRational::one());
    let mut stages = Vec::with_capacity(message.len());
    for &s in message {
        let splits = split(&low, &high);
        let (l, h) = splits[s].clone();
        stages.push(Stage { low: low.clone(), high: high.clone(), splits, symbol: s });
        low = l;
        high = h;
    }
    let value = (&low + &high) / BigRational::from_integer(BigInt::from(2));

    let mut decoded = Vec::with_capacity(message.len());
    let (mut dl, mut dh) = (BigRational::zero(), BigRational::one());
    for _ in 0..message.len() {
        let splits = split(&dl, &dh);
        let s = splits
            .iter()
            .position(|(l, h)| *l <= value && value < *h)
            .ok_or(Error::Corrupt("value outside every sub-interval"))?;
        let (l, h) = splits[s].clone();
        decoded.push((s, l.clone(), h.clone()));
        dl = l;
        dh = h;
    }

    let ideal_bits: f64 =
        message.iter().map(|&s| -(freqs[s] as f64 / total as f64).log2()).sum();
    let range_coder_bytes = range_coder_size(freqs, message)?;
    Ok(Explanation {
        symbols: symbols.to_vec(),
        freqs: freqs.to_vec(),
        message: message.to_vec(),
        stages,
        shortest_bits: shortest_binary(&low, &high),
        low,
        high,
        value,
        decoded,
        ideal_bits,
        range_coder_bytes,
    })
}

fn range_coder_size(freqs: &[u64], message: &[usize]) -> Result<usize> {
    let counts: Vec<u64> = freqs.to_vec();
    let total: u64 = counts.iter().sum();
    let model = if total <= u64::from(crate::model::MAX_TOTAL) {
        FrequencyTable::from_counts(&counts.iter().map(|&c| c as u32).collect::<Vec<_>>())?
    } else {
        FrequencyTable::from_counts_scaled(&counts, 24)?
    };
    let mut enc = RangeEncoder::new();
    for &s in message {
        enc.encode(&model, s)?;
    }
    Ok(enc.finish().len())
}

/// The bits of the shortest binary fraction `m / 2^k` with `low <= m / 2^k < high`.
fn shortest_binary(low: &BigRational, high: &BigRational) -> String {
    if low.is_zero() {
        return String::new();
    }
    let mut k = 0u32;
    let mut scale = BigInt::one();
    loop {
        k += 1;
        scale <<= 1;
        let scaled = low * BigRational::from_integer(scale.clone());
        let m = scaled.ceil().to_integer();
        if BigRational::new(m.clone(), scale.clone()) < *high {
            let bits = m.to_str_radix(2);
            return format!("{}{bits}", "0".repeat(k as usize - bits.len()));
        }
    }
}

/// Writes a rational exactly as a decimal when it has a finite expansion, else as a fraction
/// with a 20-digit approximation.
pub fn decimal(r: &BigRational) -> String {
    let (mut n, d) = (r.numer().clone(), r.denom().clone());
    // A finite decimal exists iff the reduced denominator has only the factors 2 and 5.
    let mut rest = d.clone();
    let (two, five) = (BigInt::from(2), BigInt::from(5));
    let mut digits = 0usize;
    let (mut twos, mut fives) = (0usize, 0usize);
    while (&rest % &two).is_zero() {
        rest /= &two;
        twos += 1;
    }
    while (&rest % &five).is_zero() {
        rest /= &five;
        fives += 1;
    }
    let finite = rest.is_one();
    if finite {
        digits = twos.max(fives);
    }
    let neg = n.is_negative();
    n = n.abs();
    let shown = if finite { digits } else { 20 };
    let scaled = &n * BigInt::from(10).pow(shown as u32) / &d;
    let s = scaled.to_str_radix(10);
    let s = format!("{}{s}", "0".repeat((shown + 1).saturating_sub(s.len())));
    let (int, frac) = s.split_at(s.len() - shown);
    let mut out = if neg { "-".to_string() } else { String::new() };
    out.push_str(int);
    if shown > 0 {
        out.push('.');
        out.push_str(frac);
    }
    if !finite {
        out = format!("{out}… (= {}/{})", r.numer(), r.denom());
    }
    out
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.freqs.iter().sum();
        let name = |s: usize| self.symbols[s].as_str();
        writeln!(f, "Frequency table (total {total}):")?;
        let cum = self.freqs.iter().scan(0u64, |a, &x| {
            *a += x;
            Some(*a - x)
        });
        for (s, (fr, c)) in self.freqs.iter().zip(cum).enumerate() {
            let p = BigRational::new(BigInt::from(*fr), BigInt::from(total));
            let lo = BigRational::new(BigInt::from(c), BigInt::from(total));
            let hi = BigRational::new(BigInt::from(c + fr), BigInt::from(total));
            writeln!(
                f,
                "  {:>6}  freq {fr:<6} p = {:<10} [{}, {})",
                name(s),
                decimal(&p),
                decimal(&lo),
                decimal(&hi)
            )?;
        }
        let msg: Vec<&str> = self.message.iter().map(|&s| name(s)).collect();
        writeln!(f, "\nMessage: {} ({} symbols)\n\nEncoding:", msg.join(" "), msg.len())?;
        for (i, st) in self.stages.iter().enumerate() {
            writeln!(f, "Stage {}: interval [{}, {})", i + 1, decimal(&st.low), decimal(&st.high))?;
            for (s, (l, h)) in st.splits.iter().enumerate() {
                if self.freqs[s] == 0 {
                    continue;
                }
                let mark = if s == st.symbol { "  <- " } else { "     " };
                writeln!(f, "{mark}{:>6}: [{}, {})", name(s), decimal(l), decimal(h))?;
            }
        }
        writeln!(f, "\nFinal interval: [{}, {})", decimal(&self.low), decimal(&self.high))?;
        writeln!(f, "Value (midpoint): {}", decimal(&self.value))?;
        let width = (&self.high - &self.low).to_f64().unwrap_or(0.0);
        writeln!(
            f,
            "Shortest binary fraction in the interval: 0.{} ({} bits; interval width {:.3e})",
            if self.shortest_bits.is_empty() { "0" } else { &self.shortest_bits },
            self.shortest_bits.len(),
            width
        )?;
        writeln!(f, "\nDecoding {}:", decimal(&self.value))?;
        for (i, (s, l, h)) in self.decoded.iter().enumerate() {
            writeln!(f, "Stage {}: value in [{}, {}) -> {}", i + 1, decimal(l), decimal(h), name(*s))?;
        }
        let back: Vec<&str> = self.decoded.iter().map(|(s, _, _)| name(*s)).collect();
        writeln!(f, "Decoded message: {}", back.join(" "))?;
        writeln!(f, "\nBits:")?;
        writeln!(f, "  ideal, -sum log2 p:             {:.3}", self.ideal_bits)?;
        writeln!(f, "  shortest exact binary fraction: {}", self.shortest_bits.len())?;
        writeln!(
            f,
            "  integer range coder:            {} ({} bytes, whole bytes, message length known)",
            self.range_coder_bytes * 8,
            self.range_coder_bytes
        )
    }
}

/// Parses a frequency table `a=2,b=7,c=1` (a symbol may contain `=`; the last one splits).
pub fn parse_table(spec: &str) -> Result<(Vec<String>, Vec<u64>)> {
    let mut symbols = Vec::new();
    let mut freqs = Vec::new();
    for item in spec.split(',').filter(|s| !s.trim().is_empty()) {
        let (sym, f) = item
            .rsplit_once('=')
            .ok_or_else(|| Error::InvalidModel(format!("'{item}' is not SYMBOL=FREQUENCY")))?;
        let f: u64 = f
            .trim()
            .parse()
            .map_err(|_| Error::InvalidModel(format!("'{f}' is not a frequency")))?;
        if symbols.iter().any(|s| s == sym) {
            return Err(Error::InvalidModel(format!("symbol '{sym}' given twice")));
        }
        symbols.push(sym.to_string());
        freqs.push(f);
    }
    Ok((symbols, freqs))
}

/// Splits a message into symbol indices: character by character when every symbol is one
/// character, else on whitespace.
pub fn parse_message(symbols: &[String], message: &str) -> Result<Vec<usize>> {
    let single = symbols.iter().all(|s| s.chars().count() == 1);
    let lookup = |tok: &str| {
        symbols
            .iter()
            .position(|s| s == tok)
            .ok_or_else(|| Error::InvalidModel(format!("'{tok}' is not in the frequency table")))
    };
    if single {
        message.chars().map(|c| lookup(&c.to_string())).collect()
    } else {
        message.split_whitespace().map(lookup).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(table: &str, msg: &str) -> Explanation {
        let (s, f) = parse_table(table).unwrap();
        let m = parse_message(&s, msg).unwrap();
        explain(&s, &f, &m).unwrap()
    }

    #[test]
    fn tutorial_example_one() {
        let e = run("a=2,b=7,c=1", "abc");
        assert_eq!(decimal(&e.low), "0.166");
        assert_eq!(decimal(&e.high), "0.18");
        assert_eq!(decimal(&e.value), "0.173");
        assert_eq!(e.decoded.iter().map(|d| d.0).collect::<Vec<_>>(), e.message);
        // Stage 2 keeps b's sub-interval of [0, 0.2): [0.04, 0.18).
        assert_eq!(decimal(&e.stages[1].splits[1].0), "0.04");
    }

    #[test]
    fn tutorial_example_two() {
        let e = run("a=2,b=3,c=1,d=4", "bdab");
        assert_eq!(decimal(&e.low), "0.3848");
        assert_eq!(decimal(&e.high), "0.392");
        assert_eq!(decimal(&e.value), "0.3884");
        assert_eq!(e.decoded.iter().map(|d| d.0).collect::<Vec<_>>(), e.message);
    }

    #[test]
    fn shortest_binary_fraction_lies_in_the_interval() {
        let e = run("a=2,b=7,c=1", "abc");
        // [0.166, 0.18): 0.001011 = 11/64 = 0.171875 is in; 5/32 and 6/32 are not.
        assert_eq!(e.shortest_bits, "001011");
    }

    #[test]
    fn long_messages_stay_exact() {
        // 60 symbols: the tutorial's 28-digit decimals decode this wrongly; rationals do not.
        let msg: String = "abcabbbbbcaabbcbabcbbbabbbbbcabbbbbabcbbbcbbbbbabbbcbbbbabbb".into();
        let e = run("a=2,b=7,c=1", &msg);
        assert_eq!(e.decoded.iter().map(|d| d.0).collect::<Vec<_>>(), e.message);
        assert!(e.range_coder_bytes as f64 * 8.0 <= e.ideal_bits + 16.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_table("a=x").is_err());
        assert!(parse_table("a=1,a=2").is_err());
        let (s, f) = parse_table("a=1,b=0").unwrap();
        assert!(parse_message(&s, "az").is_err());
        assert!(explain(&s, &f, &[1]).is_err());
        assert_eq!(decimal(&BigRational::new(1.into(), 3.into())), "0.33333333333333333333… (= 1/3)");
    }

    #[test]
    fn multi_character_symbols_split_on_whitespace() {
        let (s, f) = parse_table("hello=3,world=1").unwrap();
        let m = parse_message(&s, "hello world hello").unwrap();
        assert_eq!(m, vec![0, 1, 0]);
        assert_eq!(explain(&s, &f, &m).unwrap().decoded.len(), 3);
    }
}

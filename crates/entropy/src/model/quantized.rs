//! Integer CDF tables of discretised continuous distributions, for the learned codecs.
//!
//! A learned codec predicts, for each latent, a distribution (a Gaussian of some scale, say);
//! the coder needs integer frequencies. [`QuantizedCdf`] turns a Laplace, Gaussian or logistic
//! density into frequencies over the integers of a bounded support, plus one escape symbol for
//! values outside it (those are then sent with an Exp-Golomb code in equiprobable bits).
//!
//! The tables must come out bit-identical on every machine, or a file would decode differently
//! elsewhere. Platform `exp`/`erf` may differ in the last bit, so the CDFs here use only IEEE
//! basic operations (+ − × ÷), which are exactly rounded everywhere: `exp` by range reduction
//! and a Taylor polynomial, `erfc` by the Numerical Recipes Chebyshev fit built on that `exp`.
//! The masses are then mapped to integers with integer arithmetic ([`scale_counts`]).

use super::{scale_counts, FrequencyTable, Model};
use crate::range::{RangeDecoder, RangeEncoder};
use crate::{Error, Result};

/// The shape of a [`QuantizedCdf`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Laplace with the given mean and scale `b` (density ∝ exp(−|x − μ| / b)).
    Laplace { mean: f64, scale: f64 },
    /// Gaussian with the given mean and standard deviation.
    Gaussian { mean: f64, scale: f64 },
    /// Logistic with the given mean and scale `s` (CDF 1 / (1 + exp(−(x − μ)/s))).
    Logistic { mean: f64, scale: f64 },
}

impl Distribution {
    fn cdf(&self, x: f64) -> f64 {
        match *self {
            Distribution::Laplace { mean, scale } => {
                let z = (x - mean) / scale;
                if z < 0.0 {
                    0.5 * exp(z)
                } else {
                    1.0 - 0.5 * exp(-z)
                }
            }
            Distribution::Gaussian { mean, scale } => {
                0.5 * erfc(-(x - mean) / (scale * std::f64::consts::SQRT_2))
            }
            Distribution::Logistic { mean, scale } => {
                let z = (x - mean) / scale;
                if z >= 0.0 {
                    1.0 / (1.0 + exp(-z))
                } else {
                    let e = exp(z);
                    e / (1.0 + e)
                }
            }
        }
    }

    fn scale(&self) -> f64 {
        match *self {
            Distribution::Laplace { scale, .. }
            | Distribution::Gaussian { scale, .. }
            | Distribution::Logistic { scale, .. } => scale,
        }
    }
}

/// e^x from basic operations only: x = k·ln2 + r with |r| ≤ ln2/2, e^r by a degree-13 Taylor
/// polynomial (error below 1e-16), 2^k by building the float's exponent bits.
pub fn exp(x: f64) -> f64 {
    if x < -745.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let k = (x / std::f64::consts::LN_2 + if x < 0.0 { -0.5 } else { 0.5 }) as i64;
    let r = (x - k as f64 * LN2_HI) - k as f64 * LN2_LO;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=13 {
        term = term * r / f64::from(n);
        sum += term;
    }
    // 2^k, split in two steps so that subnormal results stay exact enough.
    let half = k / 2;
    sum * pow2(half) * pow2(k - half)
}

fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023).clamp(1, 2046) as u64) << 52)
}

/// The complementary error function (fractional error below 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * exp(poly);
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Frequencies of the integers `lo..=hi` under a distribution, and an escape symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantizedCdf {
    lo: i32,
    hi: i32,
    /// Frequencies of `lo..=hi`, then of the escape; they sum to 2^bits.
    table: FrequencyTable,
}

/// Largest support (values) of one table.
pub const MAX_SUPPORT: usize = 1 << 16;

impl QuantizedCdf {
    /// Discretises `dist` over `lo..=hi` (each integer v gets the mass of [v − ½, v + ½)) with a
    /// total of `2^bits` (`bits` in 8..=24); every symbol, the escape included, gets at least 1.
    pub fn new(dist: Distribution, lo: i32, hi: i32, bits: u32) -> Result<Self> {
        let span = i64::from(hi) - i64::from(lo) + 1;
        if span < 1 || span as usize > MAX_SUPPORT || !(8..=24).contains(&bits) {
            return Err(Error::InvalidModel(format!("support {lo}..={hi} with {bits} bits")));
        }
        if span as u64 + 1 > 1 << (bits - 1) {
            return Err(Error::InvalidModel("support too wide for the precision".into()));
        }
        let s = dist.scale();
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::InvalidModel(format!("scale {s}")));
        }
        let mut counts = Vec::with_capacity(span as usize + 1);
        let mut prev = dist.cdf(f64::from(lo) - 0.5);
        let below = prev;
        for v in lo..=hi {
            let next = dist.cdf(f64::from(v) + 0.5);
            counts.push(mass_to_count(next - prev));
            prev = next;
        }
        counts.push(mass_to_count(below + (1.0 - prev)));
        let table = FrequencyTable::from_counts(&scale_counts(&counts, 1 << bits)?)?;
        Ok(QuantizedCdf { lo, hi, table })
    }

    /// A table from stored integer frequencies of `lo..=hi` followed by the escape's (a learned
    /// density's table, say). Every frequency must be at least 1 and the sum a power of two
    /// of at most 2^24 bits, as [`QuantizedCdf::new`] makes them.
    pub fn from_frequencies(lo: i32, hi: i32, frequencies: &[u32]) -> Result<Self> {
        let span = i64::from(hi) - i64::from(lo) + 1;
        if span < 1 || span as usize > MAX_SUPPORT || frequencies.len() as i64 != span + 1 {
            return Err(Error::InvalidModel(format!("support {lo}..={hi} with {} frequencies", frequencies.len())));
        }
        let total: u64 = frequencies.iter().map(|&f| u64::from(f)).sum();
        if frequencies.contains(&0) || !total.is_power_of_two() || total > 1 << 24 {
            return Err(Error::InvalidModel("frequencies must be positive and sum to a power of two".into()));
        }
        Ok(QuantizedCdf { lo, hi, table: FrequencyTable::from_counts(frequencies)? })
    }

    /// The escape symbol's index.
    fn escape(&self) -> usize {
        self.table.num_symbols() - 1
    }

    /// Lowest value inside the support.
    pub fn lo(&self) -> i32 {
        self.lo
    }

    /// Highest value inside the support.
    pub fn hi(&self) -> i32 {
        self.hi
    }

    /// Codes `value`: a symbol inside the support, else the escape and an Exp-Golomb offset.
    pub fn encode_value(&self, enc: &mut RangeEncoder, value: i32) -> Result<()> {
        if (self.lo..=self.hi).contains(&value) {
            return enc.encode(self, (value - self.lo) as usize);
        }
        enc.encode(self, self.escape())?;
        let (below, d) = if value < self.lo {
            (true, (i64::from(self.lo) - 1 - i64::from(value)) as u64)
        } else {
            (false, (i64::from(value) - i64::from(self.hi) - 1) as u64)
        };
        enc.encode_raw(u32::from(below), 1);
        // Exp-Golomb order 0 of d: class in unary, then the bits below the leading one.
        let x = d + 1;
        let class = 64 - x.leading_zeros();
        // One raw bit per call: the decoder reads the unary part bit by bit, and raw chunks
        // must be read back with the same widths they were written with.
        for _ in 1..class {
            enc.encode_raw(1, 1);
        }
        enc.encode_raw(0, 1);
        let rest = x - (1 << (class - 1));
        enc.encode_raw((rest >> 32) as u32, (class - 1).saturating_sub(32));
        enc.encode_raw(rest as u32, (class - 1).min(32));
        Ok(())
    }

    /// Decodes a value coded by [`QuantizedCdf::encode_value`].
    pub fn decode_value(&self, dec: &mut RangeDecoder) -> Result<i32> {
        let s = dec.decode(self)?;
        if s != self.escape() {
            return Ok(self.lo + s as i32);
        }
        let below = dec.decode_raw(1) == 1;
        let mut class = 1;
        while dec.decode_raw(1) == 1 {
            class += 1;
            if class > 33 {
                return Err(Error::Corrupt("escaped value too large"));
            }
        }
        let high = u64::from(dec.decode_raw((class - 1u32).saturating_sub(32)));
        let low = u64::from(dec.decode_raw((class - 1).min(32)));
        let x = (1u64 << (class - 1)) + ((high << 32) | low);
        let d = i64::try_from(x - 1).map_err(|_| Error::Corrupt("escaped value"))?;
        let v = if below { i64::from(self.lo) - 1 - d } else { i64::from(self.hi) + 1 + d };
        i32::try_from(v).map_err(|_| Error::Corrupt("escaped value out of range"))
    }
}

fn mass_to_count(m: f64) -> u64 {
    // Masses are in [0, 1]; 2^40 keeps 40 bits of each before the integer rescaling.
    (m.clamp(0.0, 1.0) * (1u64 << 40) as f64) as u64 + 1
}

impl Model for QuantizedCdf {
    fn total(&self) -> u32 {
        self.table.total()
    }
    fn num_symbols(&self) -> usize {
        self.table.num_symbols()
    }
    fn interval(&self, symbol: usize) -> Result<(u32, u32)> {
        self.table.interval(symbol)
    }
    fn find(&self, target: u32) -> (usize, u32, u32) {
        self.table.find(target)
    }
}

/// Zero-mean Gaussian tables for a ladder of scales, as the hyperprior's entropy model uses:
/// the hyper-decoder predicts a scale per latent, the codec picks the table for it.
#[derive(Clone, Debug)]
pub struct GaussianScaleTable {
    scales: Vec<f64>,
    tables: Vec<QuantizedCdf>,
}

impl GaussianScaleTable {
    /// `count` scales spaced geometrically from `min` to `max`; each table covers ±(8σ + 1),
    /// at most ±4096, with `bits` of precision.
    pub fn geometric(min: f64, max: f64, count: usize, bits: u32) -> Result<Self> {
        if !(min > 0.0 && max > min && (2..=1024).contains(&count)) {
            return Err(Error::InvalidModel("scale ladder".into()));
        }
        let ratio = (max / min).ln() / (count - 1) as f64;
        // The ladder itself only picks tables; its values are stored, so platform `exp` here
        // only moves table boundaries, identically for encoder and decoder of one build. Use
        // the deterministic exp anyway so that every build agrees.
        let scales: Vec<f64> = (0..count).map(|i| min * exp(ratio * i as f64)).collect();
        Self::new(&scales, bits)
    }

    /// One table per scale (scales ascending).
    pub fn new(scales: &[f64], bits: u32) -> Result<Self> {
        if scales.windows(2).any(|w| w[0] >= w[1]) || scales.is_empty() {
            return Err(Error::InvalidModel("scales must ascend".into()));
        }
        let tables = scales
            .iter()
            .map(|&s| {
                let bound = (8.0 * s + 1.0).ceil().min(4096.0) as i32;
                QuantizedCdf::new(Distribution::Gaussian { mean: 0.0, scale: s }, -bound, bound, bits)
            })
            .collect::<Result<_>>()?;
        Ok(GaussianScaleTable { scales: scales.to_vec(), tables })
    }

    /// The index of the smallest table scale ≥ `scale` (the last one for larger scales).
    pub fn index_for(&self, scale: f64) -> usize {
        self.scales.partition_point(|&s| s < scale).min(self.scales.len() - 1)
    }

    /// Table `i`.
    pub fn table(&self, i: usize) -> Option<&QuantizedCdf> {
        self.tables.get(i)
    }

    /// Number of tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether there are no tables (never, once built).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erfc_match_the_library_closely() {
        for i in -2000..2000 {
            let x = f64::from(i) / 37.0;
            let (a, b) = (exp(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-14, "exp({x}) = {a} vs {b}");
        }
        // erfc(1) = 0.157299207050285...
        assert!((erfc(1.0) - 0.157_299_207_050_285).abs() < 2e-8);
        assert!((erfc(-0.5) - 1.520_499_877_813_047).abs() < 2e-7);
    }

    #[test]
    fn tables_are_bit_identical_to_the_pinned_ones() {
        // A hash of a few tables' frequencies: if this changes, files decode differently.
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for dist in [
            Distribution::Gaussian { mean: 0.3, scale: 1.7 },
            Distribution::Laplace { mean: -2.0, scale: 0.4 },
            Distribution::Logistic { mean: 10.0, scale: 5.0 },
        ] {
            let t = QuantizedCdf::new(dist, -20, 40, 16).unwrap();
            for s in 0..t.num_symbols() {
                let (_, f) = t.interval(s).unwrap();
                h = (h ^ u64::from(f)).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!(h, PINNED_HASH, "table hash {h:#x}");
    }
    const PINNED_HASH: u64 = 0x7d1d_bdb1_ab4b_5923;

    #[test]
    fn values_inside_and_outside_the_support_round_trip() {
        let t = QuantizedCdf::new(Distribution::Laplace { mean: 0.0, scale: 2.0 }, -10, 10, 16).unwrap();
        let values = [0, 1, -1, 10, -10, 11, -11, 1000, -100_000, i32::MAX, i32::MIN, 3];
        let mut enc = RangeEncoder::new();
        for &v in &values {
            t.encode_value(&mut enc, v).unwrap();
        }
        let bytes = enc.finish();
        let mut dec = RangeDecoder::new(&bytes);
        for &v in &values {
            assert_eq!(t.decode_value(&mut dec).unwrap(), v);
        }
    }

    #[test]
    fn scale_table_picks_the_covering_scale() {
        let t = GaussianScaleTable::geometric(0.11, 256.0, 64, 16).unwrap();
        assert_eq!(t.index_for(0.01), 0);
        assert_eq!(t.index_for(1e9), 63);
        let i = t.index_for(3.0);
        assert!(t.scales[i] >= 3.0 && t.scales[i - 1] < 3.0);
        assert!(QuantizedCdf::new(Distribution::Gaussian { mean: 0.0, scale: -1.0 }, 0, 1, 16).is_err());
    }
}

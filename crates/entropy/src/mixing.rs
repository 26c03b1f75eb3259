//! The parts of logistic context mixing, in integer arithmetic so that encoder and decoder
//! compute the same probabilities on every machine.
//!
//! Probabilities here are 12-bit (1..=4095 for P(bit = 1)). [`stretch`] maps one to the
//! logistic domain (ln(p / (1 − p)) in units of 1/256, −2047..=2047) and [`squash`] maps back.
//! A [`Counter`] is one adaptive context whose step size shrinks with its hit count, a
//! [`Mixer`] is a single neuron over stretched probabilities whose weight set is chosen by a
//! small context and trained online, and an [`Apm`] (adaptive probability map, or secondary
//! estimation) refines a probability under a further context.

/// 4096 / (1 + e^(−x/256)) at x = −2048, −1920, …, 2048: the logistic curve, interpolated.
const SQUASH_POINTS: [i32; 33] = [
    1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549, 2994, 3348,
    3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094,
];

/// The logistic function from the stretched domain (−2047..=2047) to a 12-bit probability.
#[inline]
pub const fn squash(d: i32) -> i32 {
    if d > 2047 {
        return 4095;
    }
    if d < -2047 {
        return 1;
    }
    let w = d & 127;
    let i = ((d >> 7) + 16) as usize;
    (SQUASH_POINTS[i] * (128 - w) + SQUASH_POINTS[i + 1] * w + 64) >> 7
}

/// The inverse of [`squash`] over 12-bit probabilities: the smallest d with squash(d) ≥ p.
static STRETCH: [i16; 4096] = {
    let mut table = [2047i16; 4096];
    let mut next = 0usize;
    let mut x = -2047;
    while x <= 2047 {
        let v = squash(x) as usize;
        while next <= v {
            table[next] = x as i16;
            next += 1;
        }
        x += 1;
    }
    table
};

/// ln(p / (1 − p)) · 256 for a 12-bit probability `p` (0..=4095), clamped to ±2047.
#[inline]
pub fn stretch(p: i32) -> i32 {
    i32::from(STRETCH[(p & 4095) as usize])
}

/// 65536 / (n + 1.5): the step size of a counter after n hits.
static RECIPROCAL: [i32; 1024] = {
    let mut table = [0i32; 1024];
    let mut n = 0;
    while n < 1024 {
        table[n] = (65536 * 2 / (2 * n as i32 + 3)) as i32;
        n += 1;
    }
    table
};

/// An adaptive probability with a hit count: 22 bits of P(1) and 10 bits of count. The step
/// size is 1/(count + 1.5) until the count reaches the limit it is updated with, so a young
/// context learns fast and an old one settles to an average over its last `limit` or so bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter(u32);

impl Default for Counter {
    fn default() -> Self {
        Self::NEW
    }
}

impl Counter {
    /// P(1) = 1/2, no hits.
    pub const NEW: Counter = Counter(1 << 31);

    /// P(bit = 1) in 1/4096.
    #[inline]
    pub fn p12(self) -> i32 {
        ((self.0 >> 20) as i32).clamp(1, 4095)
    }

    /// Moves the estimate towards `bit`; `limit` (1..=1023) caps the count.
    #[inline]
    pub fn update(&mut self, bit: bool, limit: u32) {
        let n = self.0 & 1023;
        let p = i64::from(self.0 >> 10);
        let target = if bit { (1i64 << 22) - 1 } else { 0 };
        let p = p + (((target - p) * i64::from(RECIPROCAL[n as usize])) >> 16);
        self.0 = ((p as u32) << 10) | (n + 1).min(limit);
    }
}

/// A logistic mixer: P = squash(Σ wᵢ·stretch(pᵢ)), with one weight vector per value of each
/// selector, trained online to reduce coding cost. With several selectors (say, one keyed by
/// the local energy and one by the texture) each chosen weight vector mixes the same inputs and
/// the results are averaged in the stretched domain. Inputs are set with [`Mixer::add`],
/// combined with [`Mixer::mix`], and the weights that produced the result are trained with
/// [`Mixer::update`].
#[derive(Clone, Debug)]
pub struct Mixer {
    weights: Vec<i32>,
    inputs: Vec<i32>,
    n: usize,
    /// First weight vector of each selector.
    bases: Vec<usize>,
    /// The weight vectors of the last mix and what each predicted.
    chosen: Vec<(usize, i32)>,
    p12: i32,
    rate: i32,
}

impl Mixer {
    /// A mixer of `inputs` inputs (a constant bias input is added) with `sets[s]` weight
    /// vectors for selector s, learning at `rate` in 1/16 steps (about 2..=64; larger is
    /// faster).
    pub fn new(inputs: usize, sets: &[usize], rate: i32) -> Self {
        let n = inputs + 1;
        let total: usize = sets.iter().sum();
        // Start by averaging the inputs (weight 1/inputs in 16.16).
        let w0 = (65536 / inputs.max(1)) as i32;
        let mut weights = vec![w0; n * total];
        for s in 0..total {
            weights[s * n + inputs] = 0;
        }
        let bases = sets.iter().scan(0, |b, &k| {
            let base = *b;
            *b += k;
            Some(base)
        });
        Mixer { weights, inputs: Vec::with_capacity(n), n, bases: bases.collect(), chosen: Vec::new(), p12: 2048, rate }
    }

    /// Adds one input: a 12-bit probability.
    #[inline]
    pub fn add(&mut self, p12: i32) {
        self.inputs.push(stretch(p12));
    }

    /// Adds one input already in the stretched domain.
    #[inline]
    pub fn add_stretched(&mut self, d: i32) {
        self.inputs.push(d.clamp(-2047, 2047));
    }

    /// Adds several inputs already in the stretched domain.
    #[inline]
    pub fn add_all_stretched(&mut self, d: &[i32]) {
        self.inputs.extend(d.iter().map(|d| d.clamp(&-2047, &2047)));
    }

    /// Mixes the inputs added since the last update with weight vector `select[s]` of each
    /// selector s; returns P(1) in 1/4096.
    #[inline]
    pub fn mix(&mut self, select: &[usize]) -> i32 {
        self.inputs.push(256);
        debug_assert_eq!(self.inputs.len(), self.n);
        debug_assert_eq!(select.len(), self.bases.len());
        self.chosen.clear();
        let mut total = 0i32;
        for (&base, &k) in self.bases.iter().zip(select) {
            let at = (base + k) * self.n;
            let w = &self.weights[at..at + self.n];
            let dot: i64 = self.inputs.iter().zip(w).map(|(&x, &w)| i64::from(x) * i64::from(w)).sum();
            let d = ((dot >> 16) as i32).clamp(-2047, 2047);
            self.chosen.push((at, squash(d)));
            total += d;
        }
        self.p12 = squash(total / select.len().max(1) as i32).clamp(1, 4095);
        self.p12
    }

    /// Trains the weights of the last mix on the coded bit and clears the inputs.
    #[inline]
    pub fn update(&mut self, bit: bool) {
        for &(at, p) in &self.chosen {
            let err = ((i32::from(bit) << 12) - p) * self.rate;
            for (w, &x) in self.weights[at..at + self.n].iter_mut().zip(&self.inputs) {
                *w += (x * err) >> 14;
            }
        }
        self.inputs.clear();
    }
}

/// An adaptive probability map: refines a probability under a context by interpolating
/// between 33 adaptive points on the stretched axis, learning at rate 2^-`rate`.
#[derive(Clone, Debug)]
pub struct Apm {
    table: Vec<u16>,
    index: usize,
    rate: u32,
}

impl Apm {
    /// A map for `contexts` contexts, each starting as the identity.
    pub fn new(contexts: usize, rate: u32) -> Self {
        let mut table = Vec::with_capacity(contexts * 33);
        for _ in 0..contexts {
            for j in 0..33 {
                table.push((squash((j - 16) * 128) * 16) as u16);
            }
        }
        Apm { table, index: 0, rate }
    }

    /// The refined P(1) in 1/4096 of `p12` under `context`.
    #[inline]
    pub fn refine(&mut self, p12: i32, context: usize) -> i32 {
        let s = stretch(p12) + 2048;
        let lo = (s >> 7) as usize;
        let w = s & 127;
        self.index = context * 33 + lo + usize::from(w >= 64);
        let a = i32::from(self.table[context * 33 + lo]);
        let b = i32::from(self.table[context * 33 + (lo + 1).min(32)]);
        ((a * (128 - w) + b * w) >> 11).clamp(1, 4095)
    }

    /// Moves the point nearest the last refined probability towards `bit`.
    #[inline]
    pub fn update(&mut self, bit: bool) {
        let target = if bit { 65535i32 } else { 0 };
        let v = &mut self.table[self.index];
        *v = (i32::from(*v) + ((target - i32::from(*v)) >> self.rate)) as u16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_and_stretch_are_inverse_enough() {
        for d in (-1500..1500).step_by(50) {
            let back = stretch(squash(d));
            assert!((back - d).abs() <= 40, "{d} -> {back}");
        }
        assert_eq!(squash(0), 2047);
    }

    #[test]
    fn counter_learns_a_skewed_source_and_mixer_and_apm_follow() {
        let mut c = Counter::NEW;
        let mut m = Mixer::new(2, &[1, 2], 24);
        let mut apm = Apm::new(1, 6);
        let mut cost = 0f64;
        for i in 0..20_000u32 {
            let bit = i % 10 != 0;
            m.add(c.p12());
            m.add(2048);
            let p = apm.refine(m.mix(&[0, (i & 1) as usize]), 0);
            let q = if bit { p } else { 4096 - p };
            if i >= 10_000 {
                cost -= (f64::from(q) / 4096.0).log2();
            }
            m.update(bit);
            apm.update(bit);
            c.update(bit, 255);
        }
        // The source's entropy is 0.469 bits per bit.
        assert!(cost / 10_000.0 < 0.50, "{}", cost / 10_000.0);
        assert!((3600..3800).contains(&c.p12()), "{}", c.p12());
    }
}

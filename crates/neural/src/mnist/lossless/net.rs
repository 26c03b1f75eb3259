//! The pixel model evaluated for the coder: plain `f32` arithmetic in one fixed order (IEEE
//! operations only, no fused multiply-add, no library functions), so every machine computes
//! the same logits bit for bit, then integer frequencies from the logits by table lookup.

use tessera_core::{Error, Result};
use tessera_entropy::model::MAX_TOTAL;

use super::model::{PixelModel, Shape, INPUTS, LEVELS};
use crate::mnist::data::{PIXELS, SIDE};

/// Logits are rounded to steps of 1/`LOGIT_STEPS` nat before they become frequencies.
const LOGIT_STEPS: f32 = 16.0;
/// Frequency of the most likely value before scaling; the others get `MAX_FREQ · e^{-Δ}` for a
/// logit `Δ` nats lower. High, so that the floor of 1 every value keeps costs a near-certain
/// pixel (most of a digit's background) about 2^-15 bits, not the 2^-7 of a 2^16 top.
const MAX_FREQ: u64 = 1 << 23;
/// `e^{-1/16}` in 0.32 fixed point, so the frequency table is built with integers only.
const DECAY_Q32: u128 = 4_034_748_382;

/// Cumulative frequencies of a pixel's 256 values: value `v` has `[cum[v], cum[v + 1])`.
#[derive(Clone)]
pub struct Freqs {
    pub cum: [u32; LEVELS + 1],
}

impl Freqs {
    pub fn total(&self) -> u32 {
        self.cum[LEVELS]
    }

    /// The value whose interval holds `target`.
    pub fn find(&self, target: u32) -> usize {
        // The last v with cum[v] <= target.
        self.cum[1..].partition_point(|&c| c <= target).min(LEVELS - 1)
    }

    fn freq(&self, v: usize) -> u32 {
        self.cum[v + 1] - self.cum[v]
    }

    /// The most likely value (the lowest of equals).
    pub fn mode(&self) -> usize {
        (0..LEVELS).fold(0, |best, v| if self.freq(v) > self.freq(best) { v } else { best })
    }

    /// The bin `lo..=hi` of `width` values that holds `v`. The bins tile 0..=255 outward from the
    /// most likely value, which sits in the middle of its bin, so the likeliest values share
    /// one bin; `width` 1 is the value itself.
    pub fn bin(&self, v: usize, width: usize) -> (usize, usize) {
        if width <= 1 {
            return (v, v);
        }
        bin_from(self.bins_start(width), v, width)
    }

    /// Where the bin of `width` values centred on the most likely value starts (may be < 0).
    fn bins_start(&self, width: usize) -> isize {
        self.mode() as isize - (width as isize - 1) / 2
    }

    /// The bin to code for value `v` when a squared error of `lambda` is worth one bit: the
    /// one with the least squared error + `lambda` × code length among the bins whose decoded
    /// value is within `max_error` of `v`, and the bin holding `v`. Only the encoder chooses, so
    /// the float arithmetic here never has to match another machine's.
    pub fn cheapest(&self, v: usize, width: usize, max_error: usize, lambda: f64) -> (usize, usize) {
        let own = self.bin(v, width);
        if lambda <= 0.0 {
            return own;
        }
        let cost = |(lo, hi): (usize, usize)| {
            let e = f64::from(self.rebuilt(lo, hi)) - v as f64;
            let p = f64::from(self.cum[hi + 1] - self.cum[lo]) / f64::from(self.total());
            e * e - lambda * p.log2()
        };
        let (mut best, mut best_cost) = (own, cost(own));
        let start = self.bins_start(width);
        let mut lo = 0;
        while lo < LEVELS {
            let b = bin_from(start, lo, width);
            if usize::from(self.rebuilt(b.0, b.1)).abs_diff(v) <= max_error {
                let c = cost(b);
                if c < best_cost {
                    (best, best_cost) = (b, c);
                }
            }
            lo = b.1 + 1;
        }
        best
    }

    /// The value bin `lo..=hi` decodes to: its mean under these frequencies, rounded, which
    /// minimises the expected squared error and lies in the bin (integers only, so every machine
    /// agrees).
    pub fn rebuilt(&self, lo: usize, hi: usize) -> u8 {
        if lo == hi {
            return lo as u8;
        }
        let (mut sum, mut weight) = (0u64, 0u64);
        for v in lo..=hi {
            sum += v as u64 * u64::from(self.freq(v));
            weight += u64::from(self.freq(v));
        }
        ((2 * sum + weight) / (2 * weight)) as u8
    }
}

/// The bin `lo..=hi` of `width` values holding `v` when the bins are tiled from `start`, clipped
/// to 0..=255.
fn bin_from(start: isize, v: usize, width: usize) -> (usize, usize) {
    let lo = start + (v as isize - start).div_euclid(width as isize) * width as isize;
    (lo.max(0) as usize, (lo + width as isize - 1).min(LEVELS as isize - 1) as usize)
}

/// `MAX_FREQ · e^{-d/16}` for d = 0, 1, … until it reaches zero.
fn decay_table() -> Vec<u32> {
    let mut t = Vec::new();
    let mut v: u128 = u128::from(MAX_FREQ) << 32;
    while v >> 32 > 0 {
        t.push((v >> 32) as u32);
        v = (v * DECAY_Q32) >> 32;
    }
    t
}

/// One dense layer, weights stored input-major (`[in][out]`) so the inner loop runs over
/// outputs: each output sums its terms in input order, whatever the vector width.
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    outputs: usize,
}

impl Dense {
    fn from_conv(conv: &burn::nn::conv::Conv2d) -> Result<Dense> {
        let w = floats(&conv.weight.val())?;
        let [outputs, inputs, _, _] = conv.weight.val().dims();
        let b = match &conv.bias {
            Some(b) => floats(&b.val())?,
            None => vec![0.0; outputs],
        };
        // burn keeps `[out][in]`; transpose.
        let mut t = vec![0.0; inputs * outputs];
        for o in 0..outputs {
            for i in 0..inputs {
                t[i * outputs + o] = w[o * inputs + i];
            }
        }
        Ok(Dense { w: t, b, outputs })
    }

    /// `out = b + Σ_i x_i · w_i`, skipping zero inputs (most are, after a ReLU).
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.b);
        for (i, &v) in x.iter().enumerate() {
            if v != 0.0 {
                let row = &self.w[i * self.outputs..(i + 1) * self.outputs];
                for (o, &w) in out.iter_mut().zip(row) {
                    *o += w * v;
                }
            }
        }
    }
}

fn floats<const D: usize>(t: &burn::tensor::Tensor<D>) -> Result<Vec<f32>> {
    t.to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::corrupt(format!("model weights: {e:?}")))
}

/// The pixel model ready for coding.
pub struct Net {
    hidden: usize,
    /// Causal taps as (row offset ≤ 0, column offset), in kernel order.
    taps: Vec<(isize, isize)>,
    /// `[tap][hidden]` weights of the masked convolution on the value and on the ink indicator.
    first: Vec<f32>,
    ink: Vec<f32>,
    /// `[position][hidden]` first-layer bias.
    position: Vec<f32>,
    layers: Vec<Dense>,
    out: Dense,
    decay: Vec<u32>,
    /// Frequencies where every causal neighbour is zero (most of a digit's background), one
    /// per position.
    blank: Vec<Freqs>,
    /// Pixel value / 255, by value.
    scale: [f32; LEVELS],
}

/// Buffers one evaluation needs.
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    logits: Vec<f32>,
    freqs: Freqs,
}

impl Net {
    pub fn new(model: &PixelModel) -> Result<Net> {
        let shape: Shape = model.shape();
        shape.check()?;
        let (k, r, h) = (shape.kernel(), shape.radius as isize, shape.hidden);
        let w = floats(&model.masked.val())?;
        let mut taps = Vec::new();
        let (mut first, mut ink) = (Vec::new(), Vec::new());
        // burn's layout: `[out][input][ky][kx]`.
        let at = |o: usize, i: usize, ky: usize, kx: usize| w[((o * INPUTS + i) * k + ky) * k + kx];
        for ky in 0..k {
            for kx in 0..k {
                if shape.causal(ky, kx) {
                    taps.push((ky as isize - r, kx as isize - r));
                    first.extend((0..h).map(|o| at(o, 0, ky, kx)));
                    ink.extend((0..h).map(|o| at(o, 1, ky, kx)));
                }
            }
        }
        // `[1][hidden][28][28]` → `[position][hidden]`.
        let p = floats(&model.position.val())?;
        let mut position = vec![0.0; PIXELS * h];
        for o in 0..h {
            for i in 0..PIXELS {
                position[i * h + o] = p[o * PIXELS + i];
            }
        }
        let layers = model.hidden.iter().map(Dense::from_conv).collect::<Result<Vec<_>>>()?;
        let out = Dense::from_conv(&model.out)?;
        if out.outputs != LEVELS || layers.iter().any(|l| l.outputs != h) {
            return Err(Error::corrupt("pixel model layer widths"));
        }
        let mut scale = [0.0f32; LEVELS];
        for (v, s) in scale.iter_mut().enumerate() {
            *s = v as f32 / 255.0;
        }
        let mut net = Net {
            hidden: h,
            taps,
            first,
            ink,
            position,
            layers,
            out,
            decay: decay_table(),
            blank: Vec::new(),
            scale,
        };
        let mut s = net.scratch();
        let zeros = [0u8; PIXELS];
        net.blank = (0..PIXELS)
            .map(|i| net.evaluate(&zeros, i / SIDE, i % SIDE, &mut s))
            .collect();
        Ok(net)
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            a: vec![0.0; self.hidden],
            b: vec![0.0; self.hidden],
            logits: vec![0.0; LEVELS],
            freqs: Freqs { cum: [0; LEVELS + 1] },
        }
    }

    /// The frequencies of pixel `(y, x)` of `digit`, from the pixels before it in raster order
    /// (later pixels are never read, so a decoder may pass a digit decoded up to `(y, x)`).
    pub fn freqs<'a>(&'a self, digit: &[u8], y: usize, x: usize, s: &'a mut Scratch) -> &'a Freqs {
        let blank = self.taps.iter().all(|&(dy, dx)| self.neighbour(digit, y, x, dy, dx) == 0);
        if blank {
            &self.blank[y * SIDE + x]
        } else {
            s.freqs = self.evaluate(digit, y, x, s);
            &s.freqs
        }
    }

    fn neighbour(&self, digit: &[u8], y: usize, x: usize, dy: isize, dx: isize) -> u8 {
        let (ny, nx) = (y as isize + dy, x as isize + dx);
        if ny < 0 || nx < 0 || nx >= SIDE as isize {
            0
        } else {
            digit[ny as usize * SIDE + nx as usize]
        }
    }

    fn evaluate(&self, digit: &[u8], y: usize, x: usize, s: &mut Scratch) -> Freqs {
        self.logits(digit, y, x, s);
        self.frequencies(&s.logits)
    }

    /// The network's logits of pixel `(y, x)`, into `s.logits`.
    fn logits(&self, digit: &[u8], y: usize, x: usize, s: &mut Scratch) {
        let h = self.hidden;
        let pos = y * SIDE + x;
        s.a.copy_from_slice(&self.position[pos * h..(pos + 1) * h]);
        for (t, &(dy, dx)) in self.taps.iter().enumerate() {
            let v = self.neighbour(digit, y, x, dy, dx);
            if v != 0 {
                let v = self.scale[usize::from(v)];
                let (w, i) = (&self.first[t * h..(t + 1) * h], &self.ink[t * h..(t + 1) * h]);
                for ((a, &w), &i) in s.a.iter_mut().zip(w).zip(i) {
                    *a += w * v + i;
                }
            }
        }
        relu(&mut s.a);
        for layer in &self.layers {
            layer.apply(&s.a, &mut s.b);
            relu(&mut s.b);
            std::mem::swap(&mut s.a, &mut s.b);
        }
        self.out.apply(&s.a, &mut s.logits);
    }

    /// Integer frequencies from logits: rounded to 1/16 nat, then `MAX_FREQ · e^{-Δ}` by table,
    /// halved as often as it takes for the total (each value at least 1) to fit the range
    /// coder's 2^24.
    fn frequencies(&self, logits: &[f32]) -> Freqs {
        let mut q = [0i32; LEVELS];
        for (q, &l) in q.iter_mut().zip(logits) {
            // `as` saturates (and maps NaN to 0), so a wild logit cannot overflow.
            *q = (l * LOGIT_STEPS).round().clamp(-1e7, 1e7) as i32;
        }
        let top = q.iter().copied().max().unwrap_or(0);
        let mut raw = [0u32; LEVELS];
        for (f, &q) in raw.iter_mut().zip(&q) {
            *f = self.decay.get((top - q) as usize).copied().unwrap_or(0);
        }
        // Σ max(1, f >> s) ≤ (Σ f) >> s + 256.
        let sum: u64 = raw.iter().map(|&f| u64::from(f)).sum();
        let mut shift = 0;
        while (sum >> shift) + LEVELS as u64 > u64::from(MAX_TOTAL) {
            shift += 1;
        }
        let mut cum = [0u32; LEVELS + 1];
        for v in 0..LEVELS {
            cum[v + 1] = cum[v] + (raw[v] >> shift).max(1);
        }
        Freqs { cum }
    }
}

fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::data::embedded_test_set;
    use crate::rng::Rng;
    use burn::tensor::{Tensor, TensorData};

    /// The coder's plain evaluation and the training graph (two causal convolutions over
    /// shifted inputs) compute the same logits: a tap off by one row or column would not.
    #[test]
    fn coder_and_training_graph_agree() {
        let device = crate::checkpoint::train_device();
        let shape = Shape { radius: 3, hidden: 16, layers: 1 };
        let mut model = PixelModel::new(shape, &mut Rng::new(5), &device);
        // A position bias that is not zero, so that its layout is checked too.
        let bias: Vec<f32> = (0..16 * PIXELS).map(|i| ((i * 7919) % 13) as f32 * 0.01).collect();
        model.position = burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(bias, [1, 16, SIDE, SIDE]), &device));
        let digit = embedded_test_set().unwrap().take(1).pixels;
        let x = Tensor::<4>::from_data(TensorData::new(super::super::model::inputs(&digit), [1, INPUTS, SIDE, SIDE]), &device);
        let graph = floats(&model.forward(x)).unwrap();
        let net = Net::new(&model).unwrap();
        let mut s = net.scratch();
        for p in (0..PIXELS).step_by(7) {
            net.logits(&digit, p / SIDE, p % SIDE, &mut s);
            for (v, &l) in s.logits.iter().enumerate() {
                let g = graph[p * LEVELS + v];
                assert!((l - g).abs() < 1e-4, "pixel {p}, value {v}: coder {l}, graph {g}");
            }
        }
    }

    #[test]
    fn bins_tile_the_values_around_the_mode_and_rebuild_inside() {
        let mut q = [0i32; LEVELS];
        q[200] = 40;
        q[201] = 30;
        let mut cum = [0u32; LEVELS + 1];
        for v in 0..LEVELS {
            cum[v + 1] = cum[v] + 1 + q[v] as u32 * 100;
        }
        let f = Freqs { cum };
        assert_eq!(f.mode(), 200);
        assert_eq!(f.bin(200, 5), (198, 202));
        assert_eq!(f.bin(203, 5), (203, 207));
        assert_eq!(f.bin(197, 5), (193, 197));
        assert_eq!(f.bin(0, 5), (0, 2));
        assert_eq!(f.bin(255, 5), (253, 255));
        assert_eq!(f.bin(17, 1), (17, 17));
        // Every value falls in exactly one bin, and the rebuilt value is within the bin.
        for width in [2, 3, 8, 65] {
            let mut v = 0;
            while v < LEVELS {
                let (lo, hi) = f.bin(v, width);
                assert_eq!(lo, v, "width {width}");
                assert!((lo..=hi).all(|u| f.bin(u, width) == (lo, hi)));
                assert!((lo..=hi).contains(&usize::from(f.rebuilt(lo, hi))));
                v = hi + 1;
            }
        }
        // The mean leans to the likelier value.
        assert_eq!(f.rebuilt(198, 202), 200);
    }

    #[test]
    fn decay_table_halves_every_eleven_steps_and_ends() {
        let t = decay_table();
        assert_eq!(t[0], 1 << 23);
        // e^{-11/16} ≈ 0.5028.
        assert!((f64::from(t[11]) / f64::from(t[0]) - 0.5028).abs() < 1e-3, "{}", t[11]);
        assert!(t.windows(2).all(|w| w[1] <= w[0]));
        // 16 · ln 2^23 ≈ 254 steps to reach zero.
        assert!(t.len() > 250 && t.len() < 260, "{}", t.len());
    }

    #[test]
    fn frequencies_fit_the_coder_and_leave_a_sure_value_almost_all_the_range() {
        let device = Default::default();
        let model = PixelModel::new(Shape { radius: 1, hidden: 8, layers: 0 }, &mut Rng::new(3), &device);
        let net = Net::new(&model).unwrap();
        let mut logits = vec![0.0f32; LEVELS];
        // All equal: the largest total, halved to fit.
        let f = net.frequencies(&logits);
        assert!(f.total() <= MAX_TOTAL && f.total() >= MAX_TOTAL / 2, "{}", f.total());
        // One value sure: every other value keeps 1, costing the sure one about 2^-15 bits.
        logits[0] = 100.0;
        let f = net.frequencies(&logits);
        assert_eq!(f.cum[1], 1 << 23);
        assert_eq!(f.total(), (1 << 23) + 255);
        // Wild and non-finite logits still give a valid table.
        logits[7] = f32::NAN;
        logits[9] = f32::INFINITY;
        logits[11] = -1e30;
        let f = net.frequencies(&logits);
        assert!(f.total() <= MAX_TOTAL && (0..LEVELS).all(|v| f.freq(v) >= 1));
    }
}

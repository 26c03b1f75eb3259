//! Fixed-point convolutions for the parts of a learned codec that choose probabilities.
//!
//! The decoder must reproduce exactly the probabilities the encoder used, on any machine and
//! any thread count. Float convolutions do not promise that (summation order, fused
//! multiply-adds, SIMD widths differ), so the hyper-synthesis runs here in integers: weights
//! and activations are scaled by powers of two and rounded, products are summed in `i64` in
//! a fixed order, and every value is clamped so that no sum can overflow. Threads split the
//! work by output channel only, so each value is computed by one sequence of operations.

use rayon::prelude::*;

/// Fraction bits of activations.
pub const FRAC: u32 = 12;
/// Fraction bits of weights.
pub const WFRAC: u32 = 14;
/// Activations are clamped to ±2^27 (±32768 in real units) …
pub const ACT_LIMIT: i64 = 1 << 27;
/// … and weights to ±2^20 (±64): a sum of up to 2^13 products stays below 2^61.
const W_LIMIT: i64 = 1 << 20;
/// Largest `in_channels × k × k` a layer may have so that sums cannot overflow (192 latents
/// into a 5×5 layer are 4,800).
const MAX_TERMS: usize = 1 << 13;

/// A `[channels, height, width]` map of fixed-point activations (value × 2^FRAC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<i64>,
}

impl Map {
    /// Converts real values, rounding to the nearest step.
    pub fn from_f32(channels: usize, height: usize, width: usize, v: &[f32]) -> Self {
        let data = v.iter().map(|&x| to_fixed(x, FRAC, ACT_LIMIT)).collect();
        Self {
            channels,
            height,
            width,
            data,
        }
    }

    /// The value at `(c, y, x)` in real units (exact: the result has at most 28 significant bits).
    pub fn real(&self, c: usize, y: usize, x: usize) -> f64 {
        self.data[(c * self.height + y) * self.width + x] as f64 / f64::from(1u32 << FRAC)
    }

    /// Sets every negative value to zero.
    pub fn relu(mut self) -> Self {
        for v in &mut self.data {
            *v = (*v).max(0);
        }
        self
    }
}

/// `round(x · 2^frac)`, clamped to ±limit. Scaling by a power of two and rounding are exact
/// IEEE operations, so every machine gets the same integer.
pub fn to_fixed(x: f32, frac: u32, limit: i64) -> i64 {
    let v = (f64::from(x) * f64::from(1u32 << frac)).round();
    if v.is_nan() {
        0
    } else {
        (v as i64).clamp(-limit, limit)
    }
}

/// A convolution (`transposed == false`, weight `[out, in, k, k]`, stride 1, zero padding
/// `k/2`) or a stride-2 transposed convolution (`transposed == true`, weight `[in, out, k, k]`,
/// padding `k/2`, output padding 1: the output is twice the input's size).
#[derive(Clone, Debug)]
pub struct Conv {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub transposed: bool,
    weight: Vec<i64>,
    bias: Vec<i64>,
}

impl Conv {
    /// Builds a layer from float weights and biases (as stored, in the layouts above).
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        transposed: bool,
        weight: &[f32],
        bias: &[f32],
    ) -> Option<Self> {
        if weight.len() != cin * cout * k * k
            || bias.len() != cout
            || cin * k * k > MAX_TERMS
            || k.is_multiple_of(2)
        {
            return None;
        }
        let weight = weight
            .iter()
            .map(|&w| to_fixed(w, WFRAC, W_LIMIT))
            .collect();
        let bias = bias
            .iter()
            .map(|&b| to_fixed(b, FRAC + WFRAC, ACT_LIMIT << WFRAC))
            .collect();
        Some(Self {
            cin,
            cout,
            k,
            transposed,
            weight,
            bias,
        })
    }

    /// Applies the layer. `input.channels` must equal `cin`.
    pub fn forward(&self, input: &Map) -> Map {
        debug_assert_eq!(input.channels, self.cin);
        let (h, w) = (input.height, input.width);
        let (oh, ow) = if self.transposed {
            (2 * h, 2 * w)
        } else {
            (h, w)
        };
        let planes: Vec<Vec<i64>> = (0..self.cout)
            .into_par_iter()
            .map(|o| {
                let mut acc = vec![self.bias[o]; oh * ow];
                if self.transposed {
                    self.transposed_plane(o, input, &mut acc, ow);
                } else {
                    self.conv_plane(o, input, &mut acc);
                }
                let half = 1i64 << (WFRAC - 1);
                acc.iter()
                    .map(|&a| ((a + half) >> WFRAC).clamp(-ACT_LIMIT, ACT_LIMIT))
                    .collect()
            })
            .collect();
        Map {
            channels: self.cout,
            height: oh,
            width: ow,
            data: planes.concat(),
        }
    }

    fn conv_plane(&self, o: usize, input: &Map, acc: &mut [i64]) {
        let (h, w, k) = (input.height as isize, input.width as isize, self.k);
        let pad = (k / 2) as isize;
        for i in 0..self.cin {
            let plane = &input.data[i * input.height * input.width..][..input.height * input.width];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = self.weight[((o * self.cin + i) * k + ky) * k + kx];
                    // Masked taps (the checkerboard context's) cost nothing.
                    if wv == 0 {
                        continue;
                    }
                    let (dy, dx) = (ky as isize - pad, kx as isize - pad);
                    // Output columns whose input column x + dx lies inside the map.
                    let x0 = (-dx).max(0);
                    let x1 = (w - dx).min(w);
                    for y in 0..h {
                        let sy = y + dy;
                        if sy < 0 || sy >= h || x0 >= x1 {
                            continue;
                        }
                        let out = &mut acc[(y * w) as usize..][x0 as usize..x1 as usize];
                        let src =
                            &plane[(sy * w) as usize..][(x0 + dx) as usize..(x1 + dx) as usize];
                        for (a, &s) in out.iter_mut().zip(src) {
                            *a += wv * s;
                        }
                    }
                }
            }
        }
    }

    fn transposed_plane(&self, o: usize, input: &Map, acc: &mut [i64], ow: usize) {
        let (h, w, k) = (input.height, input.width, self.k);
        let pad = (k / 2) as isize;
        let oh = 2 * h;
        for i in 0..self.cin {
            let plane = &input.data[i * h * w..][..h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = self.weight[((i * self.cout + o) * k + ky) * k + kx];
                    for iy in 0..h {
                        let oy = 2 * iy as isize - pad + ky as isize;
                        if oy < 0 || oy >= oh as isize {
                            continue;
                        }
                        let row = &mut acc[oy as usize * ow..][..ow];
                        for (ix, &s) in plane[iy * w..][..w].iter().enumerate() {
                            let ox = 2 * ix as isize - pad + kx as isize;
                            if (0..ow as isize).contains(&ox) {
                                row[ox as usize] += wv * s;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// Float reference of the same layer, straight from the definition.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        cin: usize,
        cout: usize,
        k: usize,
        transposed: bool,
        wt: &[f32],
        b: &[f32],
        x: &[f32],
        h: usize,
        w: usize,
    ) -> Vec<f64> {
        let pad = (k / 2) as isize;
        let (oh, ow) = if transposed { (2 * h, 2 * w) } else { (h, w) };
        let mut out = vec![0.0f64; cout * oh * ow];
        for o in 0..cout {
            for v in &mut out[o * oh * ow..][..oh * ow] {
                *v = f64::from(b[o]);
            }
        }
        for i in 0..cin {
            for iy in 0..h as isize {
                for ix in 0..w as isize {
                    for o in 0..cout {
                        for ky in 0..k as isize {
                            for kx in 0..k as isize {
                                let xv = f64::from(x[(i * h + iy as usize) * w + ix as usize]);
                                if transposed {
                                    let (oy, ox) = (2 * iy - pad + ky, 2 * ix - pad + kx);
                                    if oy >= 0
                                        && ox >= 0
                                        && (oy as usize) < oh
                                        && (ox as usize) < ow
                                    {
                                        let wv = f64::from(
                                            wt[((i * cout + o) * k + ky as usize) * k
                                                + kx as usize],
                                        );
                                        out[(o * oh + oy as usize) * ow + ox as usize] += wv * xv;
                                    }
                                } else {
                                    // Input pixel (iy, ix) feeds output (iy - dy, ix - dx).
                                    let (oy, ox) = (iy - (ky - pad), ix - (kx - pad));
                                    if oy >= 0
                                        && ox >= 0
                                        && (oy as usize) < oh
                                        && (ox as usize) < ow
                                    {
                                        let wv = f64::from(
                                            wt[((o * cin + i) * k + ky as usize) * k + kx as usize],
                                        );
                                        out[(o * oh + oy as usize) * ow + ox as usize] += wv * xv;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_float_reference() {
        let mut seed = 7;
        for &(cin, cout, k, transposed, h, w) in &[
            (3, 4, 3, false, 5, 7),
            (4, 3, 5, true, 3, 4),
            (2, 2, 5, false, 1, 1),
        ] {
            let wt: Vec<f32> = (0..cin * cout * k * k).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
            let x: Vec<f32> = (0..cin * h * w).map(|_| 4.0 * lcg(&mut seed)).collect();
            let conv = Conv::new(cin, cout, k, transposed, &wt, &b).unwrap();
            let out = conv.forward(&Map::from_f32(cin, h, w, &x));
            let want = reference(cin, cout, k, transposed, &wt, &b, &x, h, w);
            assert_eq!(out.data.len(), want.len());
            for (i, &v) in want.iter().enumerate() {
                let got = out.data[i] as f64 / f64::from(1u32 << FRAC);
                assert!(
                    (got - v).abs() < 0.01,
                    "{cin}->{cout} k{k} t{transposed}: {got} vs {v}"
                );
            }
        }
    }

    #[test]
    fn same_result_on_any_thread_count() {
        let mut seed = 3;
        let (cin, cout, k) = (8, 16, 5);
        let wt: Vec<f32> = (0..cin * cout * k * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
        let x: Vec<f32> = (0..cin * 9 * 11).map(|_| 8.0 * lcg(&mut seed)).collect();
        let conv = Conv::new(cin, cout, k, true, &wt, &b).unwrap();
        let input = Map::from_f32(cin, 9, 11, &x);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| conv.forward(&input));
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| conv.forward(&input));
        assert_eq!(one, two);
    }

    #[test]
    fn refuses_layers_that_could_overflow() {
        assert!(Conv::new(4096, 1, 3, false, &vec![0.0; 4096 * 9], &[0.0]).is_none());
        assert!(Conv::new(2, 2, 3, false, &[0.0; 5], &[0.0, 0.0]).is_none());
    }
}

//! Bjøntegaard deltas and the area under a rate–distortion curve.
//!
//! Curves are `(rate, quality)` points — bits per pixel and PSNR (or any quality in dB). Both
//! deltas interpolate with piecewise cubic Hermite polynomials whose slopes follow Fritsch and
//! Carlson's monotone rule as SciPy's `PchipInterpolator` sets them (JVET's CTC method), and
//! integrate them exactly over the range both curves cover:
//! - BD-rate: log10(rate) as a function of quality; the mean difference `Δ` gives
//!   `(10^Δ − 1) · 100` percent (negative: the test curve needs fewer bits);
//! - BD-PSNR: quality as a function of log10(rate); the mean difference in dB.
//!
//! AUC: quality as a function of rate (PCHIP again) integrated over a stated bpp range and
//! divided by its width — the mean quality over that range, in the quality's unit.

use tessera_core::Error;

use crate::Result;

/// Rate–quality points: `(bits per pixel, quality)`.
pub type Curve = [(f64, f64)];

/// A monotone cubic Hermite interpolant through points with increasing `x`.
struct Pchip {
    x: Vec<f64>,
    y: Vec<f64>,
    d: Vec<f64>,
}

impl Pchip {
    fn new(mut pts: Vec<(f64, f64)>) -> Result<Pchip> {
        if pts.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return Err(Error::InvalidParam("curve points must be finite".into()));
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if pts.len() < 2 || pts.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::InvalidParam("a curve needs two or more points with distinct abscissae".into()));
        }
        let (x, y): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        let n = x.len();
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let delta: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
        let mut d = vec![0.0; n];
        if n == 2 {
            d = vec![delta[0]; 2];
        } else {
            for k in 1..n - 1 {
                let (a, b) = (delta[k - 1], delta[k]);
                if a * b > 0.0 {
                    let w1 = 2.0 * h[k] + h[k - 1];
                    let w2 = h[k] + 2.0 * h[k - 1];
                    d[k] = (w1 + w2) / (w1 / a + w2 / b);
                }
            }
            d[0] = end_slope(h[0], h[1], delta[0], delta[1]);
            d[n - 1] = end_slope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
        }
        Ok(Pchip { x, y, d })
    }

    fn lo(&self) -> f64 {
        self.x[0]
    }
    fn hi(&self) -> f64 {
        *self.x.last().expect("two points")
    }

    /// ∫ from x[k] to x[k] + s·h of the cubic on interval k.
    fn partial(&self, k: usize, s: f64) -> f64 {
        let h = self.x[k + 1] - self.x[k];
        let (s2, s3, s4) = (s * s, s * s * s, s * s * s * s);
        h * (self.y[k] * (s - s3 + s4 / 2.0)
            + h * self.d[k] * (s2 / 2.0 - 2.0 * s3 / 3.0 + s4 / 4.0)
            + self.y[k + 1] * (s3 - s4 / 2.0)
            + h * self.d[k + 1] * (-s3 / 3.0 + s4 / 4.0))
    }

    /// ∫ from the first point to `t` (t inside the curve's range).
    fn antiderivative(&self, t: f64) -> f64 {
        let mut total = 0.0;
        for k in 0..self.x.len() - 1 {
            if t >= self.x[k + 1] {
                total += self.partial(k, 1.0);
            } else {
                total += self.partial(k, (t - self.x[k]) / (self.x[k + 1] - self.x[k]));
                break;
            }
        }
        total
    }

    fn integral(&self, a: f64, b: f64) -> f64 {
        self.antiderivative(b) - self.antiderivative(a)
    }
}

fn end_slope(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if d.signum() != m0.signum() || m0 == 0.0 {
        0.0
    } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

fn overlap(a: &Pchip, b: &Pchip) -> Result<(f64, f64)> {
    let (lo, hi) = (a.lo().max(b.lo()), a.hi().min(b.hi()));
    if lo >= hi {
        return Err(Error::InvalidParam("the curves do not overlap".into()));
    }
    Ok((lo, hi))
}

fn log_rate(c: &Curve) -> Result<Vec<(f64, f64)>> {
    if c.iter().any(|&(r, _)| r <= 0.0) {
        return Err(Error::InvalidParam("rates must be positive".into()));
    }
    Ok(c.iter().map(|&(r, q)| (r.log10(), q)).collect())
}

/// BD-rate of `test` against `anchor`, in percent.
pub fn bd_rate(anchor: &Curve, test: &Curve) -> Result<f64> {
    let flip = |c: Vec<(f64, f64)>| c.into_iter().map(|(lr, q)| (q, lr)).collect::<Vec<_>>();
    let a = Pchip::new(flip(log_rate(anchor)?))?;
    let t = Pchip::new(flip(log_rate(test)?))?;
    let (lo, hi) = overlap(&a, &t)?;
    let diff = (t.integral(lo, hi) - a.integral(lo, hi)) / (hi - lo);
    Ok((10f64.powf(diff) - 1.0) * 100.0)
}

/// BD-PSNR of `test` against `anchor`, in dB (or the quality's unit).
pub fn bd_psnr(anchor: &Curve, test: &Curve) -> Result<f64> {
    let a = Pchip::new(log_rate(anchor)?)?;
    let t = Pchip::new(log_rate(test)?)?;
    let (lo, hi) = overlap(&a, &t)?;
    Ok((t.integral(lo, hi) - a.integral(lo, hi)) / (hi - lo))
}

/// Mean quality over `lo..hi` bits per pixel: the area under the curve divided by `hi − lo`.
/// An error when the curve does not span the range.
pub fn auc(curve: &Curve, lo: f64, hi: f64) -> Result<f64> {
    let p = Pchip::new(curve.to_vec())?;
    if !(lo < hi) || lo < p.lo() || hi > p.hi() {
        return Err(Error::InvalidParam(format!(
            "the curve spans {:.3}..{:.3} bpp, not {lo}..{hi}",
            p.lo(),
            p.hi()
        )));
    }
    Ok(p.integral(lo, hi) / (hi - lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_curves_have_zero_deltas_and_scaled_rates_show() {
        let a = [(0.25, 26.66), (0.5, 29.61), (1.0, 32.88), (2.0, 37.0)];
        assert!(bd_rate(&a, &a).unwrap().abs() < 1e-9);
        // Every rate × 0.8 at the same quality is a 20% saving.
        let b: Vec<_> = a.iter().map(|&(r, q)| (r * 0.8, q)).collect();
        assert!((bd_rate(&a, &b).unwrap() + 20.0).abs() < 1e-9);
        assert!(bd_psnr(&a, &b).unwrap() > 0.0);
    }

    #[test]
    fn auc_of_a_line_is_its_mean() {
        let c = [(0.0, 10.0), (1.0, 20.0), (2.0, 30.0)];
        assert!((auc(&c, 0.5, 1.5).unwrap() - 20.0).abs() < 1e-12);
        assert!(auc(&c, 0.5, 3.0).is_err());
    }
}

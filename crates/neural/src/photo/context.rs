//! The checkerboard context model (He et al. 2021) on a trained mean-scale hyperprior.
//!
//! The latents are coded in two passes over a checkerboard. The anchors (`x + y` even) go
//! first, with the hyperprior's means and scales. Then a 5×5 convolution over the decoded
//! anchors gives every other latent a context, and a small 1×1 network corrects the
//! hyperprior's mean and scale from the hyperprior's own output and that context. Both passes
//! run over the whole latent map at once: unlike a serial (pixel by pixel) context model,
//! decoding stays two convolutions long.
//!
//! The context model trains on the frozen transforms and hyperprior of a shipped model
//! ([`super::context_train`]): only the rate depends on it. It ships as a small file that names
//! that model and its hash ([`super::weights`]).

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use tessera_core::{Error, Result};

use super::codec::weights_and_bias;
use crate::fixed::{Conv, Map, ACT_LIMIT};
use crate::layers::{self, conv};

/// Side of the context convolution.
const KERNEL: usize = 5;

/// The context convolution and the network that corrects the hyperprior's parameters.
#[derive(Module, Debug)]
pub struct ContextModel {
    /// `m → m`, 5×5, over the anchors.
    pub conv: Conv2d,
    /// 1×1: hyperprior means, scales and context (`3m`) → `2m`, ReLU, → `2m` corrections.
    pub params: Vec<Conv2d>,
}

impl ContextModel {
    /// A fresh context model for `m` latent channels. The last layer starts at zero, so the
    /// model starts as the hyperprior it is trained on.
    pub fn new(m: usize, device: &Device) -> Self {
        let mut last = conv(2 * m, 2 * m, 1, 1, device);
        last.weight = Param::from_tensor(Tensor::zeros(last.weight.dims(), device));
        last.bias = Some(Param::from_tensor(Tensor::zeros([2 * m], device)));
        Self {
            conv: conv(m, m, KERNEL, 1, device),
            params: vec![conv(3 * m, 2 * m, 1, 1, device), last],
        }
    }

    /// The corrected means and scales, given the hyperprior's and the quantised latents `y_hat`
    /// (only the anchors are read; at the anchors the context is zero).
    fn corrected(
        &self,
        means: Tensor<4>,
        scales: Tensor<4>,
        y_hat: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let [b, m, h, w] = y_hat.dims();
        let anchors = anchor_mask(h, w, &y_hat.device()).expand([b, m, h, w]);
        let context = layers::forward(&self.conv, y_hat * anchors.clone()) * (-anchors + 1.0);
        let x = Tensor::cat(vec![means.clone(), scales.clone(), context], 1);
        let d = layers::forward(&self.params[1], relu(layers::forward(&self.params[0], x)));
        let dm = d.clone().slice([0..b, 0..m, 0..h, 0..w]);
        let ds = d.slice([0..b, m..2 * m, 0..h, 0..w]);
        (means + dm, scales + ds)
    }

    /// Quantises `y` in the coder's two passes: the anchors around the means of the first pass,
    /// the others around the means their context gives. `quantise(v, centre)` is the forward
    /// pass's quantiser. Returns the quantised latents and the means and scales they are coded
    /// with.
    pub fn quantise(
        &self,
        y: Tensor<4>,
        means: Tensor<4>,
        scales: Tensor<4>,
        mut quantise: impl FnMut(Tensor<4>, Tensor<4>) -> Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, m, h, w] = y.dims();
        let device = y.device();
        let (first, _) = self.corrected(means.clone(), scales.clone(), y.zeros_like());
        let anchors_hat = quantise(y.clone(), first);
        // At the anchors the context is zero, so the second pass's parameters are the first's.
        let (means, scales) = self.corrected(means, scales, anchors_hat.clone());
        let rest_hat = quantise(y, means.clone());
        let anchors = anchor_mask(h, w, &device).expand([b, m, h, w]);
        let y_hat = anchors_hat * anchors.clone() + rest_hat * (-anchors + 1.0);
        (y_hat, means, scales)
    }
}

/// Whether latent position `(x, y)` is an anchor (coded in the first pass).
pub fn is_anchor(x: usize, y: usize) -> bool {
    (x + y).is_multiple_of(2)
}

/// `[1, 1, h, w]`: 1 at the anchors, 0 elsewhere.
fn anchor_mask(h: usize, w: usize, device: &Device) -> Tensor<4> {
    let v = (0..h * w)
        .map(|i| if is_anchor(i % w, i / w) { 1.0f32 } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(v, [1, 1, h, w]), device)
}

/// The context model in fixed point ([`crate::fixed`]), as the coder runs it.
pub struct FixedContext {
    conv: Conv,
    params: [Conv; 2],
}

impl FixedContext {
    /// The fixed-point layers of `model`. The context convolution's taps that can only see
    /// non-anchors (an even offset from a non-anchor is a non-anchor) are dropped: their inputs
    /// are zero.
    pub fn new(model: &ContextModel) -> Result<Self> {
        let bad = || Error::corrupt("context model weights");
        let layer = |c: &Conv2d, mask: bool| -> Result<Conv> {
            let [cout, cin, k, _] = c.weight.dims();
            let (mut w, b) = weights_and_bias(&c.weight, &c.bias).ok_or_else(bad)?;
            if mask {
                for (i, v) in w.iter_mut().enumerate() {
                    let (ky, kx) = (i / k % k, i % k);
                    if (ky + kx).is_multiple_of(2) {
                        *v = 0.0;
                    }
                }
            }
            Conv::new(cin, cout, k, false, &w, &b).ok_or_else(bad)
        };
        Ok(Self {
            conv: layer(&model.conv, true)?,
            params: [
                layer(&model.params[0], false)?,
                layer(&model.params[1], false)?,
            ],
        })
    }

    /// The corrected parameters (`2m` channels: means, then scales) from the hyperprior's
    /// `hyper`. `anchors`: the decoded latents at the anchors (zero elsewhere), or `None` for
    /// the first pass.
    pub fn params(&self, hyper: &Map, anchors: Option<&Map>) -> Map {
        let m = hyper.channels / 2;
        let plane = hyper.height * hyper.width;
        let context = match anchors {
            Some(a) => {
                let mut c = self.conv.forward(a);
                for (i, v) in c.data.iter_mut().enumerate() {
                    let p = i % plane;
                    if is_anchor(p % hyper.width, p / hyper.width) {
                        *v = 0;
                    }
                }
                c.data
            }
            None => vec![0; m * plane],
        };
        let mut data = Vec::with_capacity(3 * m * plane);
        data.extend_from_slice(&hyper.data);
        data.extend_from_slice(&context);
        let input = Map {
            channels: 3 * m,
            height: hyper.height,
            width: hyper.width,
            data,
        };
        let mut out = self.params[1].forward(&self.params[0].forward(&input).relu());
        for (o, h) in out.data.iter_mut().zip(&hyper.data) {
            *o = (*o + h).clamp(-ACT_LIMIT, ACT_LIMIT);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::FRAC;
    use crate::rng::Rng;

    /// The coder's fixed-point parameters are the trained model's, at the anchors from the
    /// first pass and elsewhere from the second.
    #[test]
    fn fixed_point_matches_the_model() {
        let device = Device::flex();
        let (m, h, w) = (4, 5, 6);
        let mut model = crate::layers::seeded(2, &device, || ContextModel::new(m, &device));
        // A last layer that does something (a new model's is zero).
        model.params[1] = crate::layers::seeded(3, &device, || conv(2 * m, 2 * m, 1, 1, &device));
        let mut rng = Rng::new(5);
        let mut values = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| ((rng.uniform() - 0.5) * scale * 4096.0).round() / 4096.0)
                .collect()
        };
        let hyper = values(2 * m * h * w, 4.0);
        let y: Vec<f32> = values(m * h * w, 6.0);
        let t = |v: &[f32], c: usize| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, c, h, w]), &device)
        };
        let (means, scales) = (t(&hyper[..m * h * w], m), t(&hyper[m * h * w..], m));
        let flat = |x: Tensor<4>| x.into_data().try_to_vec::<f32>().unwrap();
        let (fm, fs) = model.corrected(means.clone(), scales.clone(), t(&y, m));
        let (am, as_) = model.corrected(means, scales, t(&vec![0.0; m * h * w], m));
        let fixed = FixedContext::new(&model).unwrap();
        let hyper_map = Map::from_f32(2 * m, h, w, &hyper);
        let anchors: Vec<f32> = y
            .iter()
            .enumerate()
            .map(|(i, &v)| if is_anchor(i % w, i / w % h) { v } else { 0.0 })
            .collect();
        let first = fixed.params(&hyper_map, None);
        let second = fixed.params(&hyper_map, Some(&Map::from_f32(m, h, w, &anchors)));
        let real = |v: i64| v as f64 / f64::from(1u32 << FRAC);
        let (fm, fs, am, as_) = (flat(fm), flat(fs), flat(am), flat(as_));
        for i in 0..m * h * w {
            let anchor = is_anchor(i % w, i / w % h);
            let (want_m, want_s) = if anchor {
                (am[i], as_[i])
            } else {
                (fm[i], fs[i])
            };
            let got = if anchor { &first } else { &second };
            assert!(
                (real(got.data[i]) - f64::from(want_m)).abs() < 0.01,
                "mean {i}: {} vs {want_m}",
                real(got.data[i])
            );
            assert!(
                (real(got.data[m * h * w + i]) - f64::from(want_s)).abs() < 0.01,
                "scale {i}"
            );
            // At the anchors the second pass gives the first's parameters.
            if anchor {
                assert_eq!(first.data[i], second.data[i]);
            }
        }
        // The context does change the parameters away from the anchors.
        assert!((0..m * h * w).any(|i| first.data[i] != second.data[i]));
    }
}

//! Encoder-side refinement of the latents: the analysis transform gives latents that are good
//! on average over the training photos; for one image, gradient descent on the latents
//! themselves (and on the hyperprior's side information) lowers that image's own
//! rate–distortion cost λ·255²·MSE + bpp further (Campos et al. 2019). Rounding is relaxed by
//! stochastic Gumbel annealing (Yang et al. 2020, "Improving inference for neural image
//! compression"): each value is rounded down or up at random, softly, with odds that favour the
//! nearer integer more and more as a temperature falls, so the cost optimised ends as the one
//! the coder pays. Only the encoder changes: the file is an ordinary one and decodes as any.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::codec::values;
use super::model::{PhotoModel, Quantise};
use crate::checkpoint::train_device;
use crate::rng::Rng;

/// Adam's step size, in latent units (a quantisation bin is 1), and moment decay rates.
const RATE: f32 = 0.02;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
/// The temperature falls from `TEMPERATURE` by a factor e^`COOLING` over the steps.
const TEMPERATURE: f32 = 0.5;
const COOLING: f32 = 2.0;
/// Largest image refined (the gradients keep every activation of the synthesis).
pub const MAX_PIXELS: usize = 1 << 22;

/// Latents and (hyperprior) side information refined for picture `x` (`[1, 3, h, w]` in
/// [0, 1], padded; `size` = (width, height) of the pixels that count) by `steps` steps: returns
/// `(y, z)` on the `inference` device, `z` for the hyperprior only. The same input gives the
/// same output (the random rounding has a fixed seed).
pub fn refine(
    model: &PhotoModel,
    lambda: f64,
    x: &Tensor<4>,
    size: (usize, usize),
    steps: usize,
    inference: &Device,
) -> (Tensor<4>, Option<Tensor<4>>) {
    let dev = train_device();
    let model = model.clone().fork(&dev).no_grad();
    let x = x.clone().to_device(&dev).detach();
    let (w, h) = size;
    let target = x.clone().slice([0..1, 0..3, 0..h, 0..w]);
    let y0 = model.analysis.forward(x);
    let z0 = model.hyper.as_ref().map(|hy| hy.analysis(y0.clone()));
    let mut y = Adam::new(y0);
    let mut z = z0.map(Adam::new);
    let weight = (lambda * 255.0 * 255.0) as f32;
    let mut rng = Rng::new(1);
    for step in 0..steps {
        let tau = TEMPERATURE * (-COOLING * step as f32 / steps as f32).exp();
        let yt = y.value.clone().autodiff().require_grad();
        let zt = z
            .as_ref()
            .map(|z| z.value.clone().autodiff().require_grad());
        let out = model.forward_latents(yt.clone(), zt.clone(), Quantise::Annealed(&mut rng, tau));
        let x_hat = out.x_hat.slice([0..1, 0..3, 0..h, 0..w]);
        let mse = (x_hat - target.clone()).square().mean();
        let loss = mse * weight + out.bits / (w * h) as f32;
        let grads = loss.backward();
        if let Some(g) = yt.grad(&grads) {
            y.step(g);
        }
        if let (Some(z), Some(zt)) = (z.as_mut(), &zt) {
            if let Some(g) = zt.grad(&grads) {
                z.step(g);
            }
        }
    }
    let back = |t: Tensor<4>| {
        let dims = t.dims();
        Tensor::<4>::from_data(TensorData::new(values(t), dims), inference)
    };
    (back(y.value), z.map(|z| back(z.value)))
}

/// One tensor under Adam, its moments kept as plain vectors.
struct Adam {
    value: Tensor<4>,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(value: Tensor<4>) -> Self {
        let value = value.detach();
        let n = value.dims().iter().product();
        Self {
            value,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, grad: Tensor<4>) {
        self.t += 1;
        let (c1, c2) = (1.0 - BETA1.powi(self.t), 1.0 - BETA2.powi(self.t));
        let dims = self.value.dims();
        let device = self.value.device();
        let mut x = values(self.value.clone());
        for (((x, g), m), v) in x
            .iter_mut()
            .zip(values(grad))
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *x -= RATE * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
        self.value = Tensor::<4>::from_data(TensorData::new(x, dims), &device);
    }
}

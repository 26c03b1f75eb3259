//! The pixel model as a burn module, for training: logits of every pixel's value given the
//! pixels before it in raster order.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::mnist::data::SIDE;
use crate::rng::Rng;

/// Values a pixel takes.
pub const LEVELS: usize = 256;

/// The model's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// The causal window reaches `radius` rows up and `radius` columns left and right.
    pub radius: usize,
    /// Width of the hidden layers.
    pub hidden: usize,
    /// Number of hidden 1×1 layers after the masked convolution.
    pub layers: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape { radius: 8, hidden: 128, layers: 2 }
    }
}

impl Shape {
    /// Side of the masked convolution's kernel.
    pub fn kernel(&self) -> usize {
        2 * self.radius + 1
    }

    /// Whether kernel tap `(ky, kx)` sees a pixel coded before the centre: rows above, or the
    /// centre row left of the centre.
    pub fn causal(&self, ky: usize, kx: usize) -> bool {
        ky < self.radius || (ky == self.radius && kx < self.radius)
    }

    /// The shape is one the coder accepts.
    pub fn check(&self) -> tessera_core::Result<()> {
        if !(1..=12).contains(&self.radius) || !(8..=256).contains(&self.hidden) || self.layers > 4 {
            return Err(tessera_core::Error::InvalidParam(format!(
                "pixel model shape {self:?} is outside radius 1..=12, hidden 8..=256, layers 0..=4"
            )));
        }
        Ok(())
    }
}

/// Input channels per pixel: its value / 255 and whether it is inked at all (non-zero), which
/// a linear layer cannot tell from the value alone for faint edge pixels.
pub const INPUTS: usize = 2;

/// Masked convolution, position bias, ReLU, `layers` × (1×1 convolution, ReLU), 1×1 to logits.
#[derive(Module, Debug)]
pub struct PixelModel {
    /// `[hidden, INPUTS, k, k]`; the taps that are not causal are never read.
    pub masked: Param<Tensor<4>>,
    /// `[1, hidden, 28, 28]`: the first layer's bias at each position (digits are centred, so
    /// where a pixel is says much about its value).
    pub position: Param<Tensor<4>>,
    pub hidden: Vec<Conv2d>,
    pub out: Conv2d,
}

impl PixelModel {
    pub fn new(shape: Shape, rng: &mut Rng, device: &Device) -> Self {
        let k = shape.kernel();
        let h = shape.hidden;
        // He initialisation over the causal taps (uniform with the same variance).
        let fan_in = (INPUTS * (k * shape.radius + shape.radius)) as f32;
        let std = (2.0 / fan_in).sqrt();
        let a = std * 3f32.sqrt();
        let w: Vec<f32> = (0..h * INPUTS * k * k).map(|_| (rng.uniform() * 2.0 - 1.0) * a).collect();
        let masked = Param::from_tensor(Tensor::from_data(TensorData::new(w, [h, INPUTS, k, k]), device));
        let position = Param::from_tensor(Tensor::zeros([1, h, SIDE, SIDE], device));
        crate::layers::seeded(rng.next_u64(), device, || {
            let hidden = (0..shape.layers).map(|_| crate::layers::conv(h, h, 1, 1, device)).collect();
            let out = crate::layers::conv(h, LEVELS, 1, 1, device);
            PixelModel { masked, position, hidden, out }
        })
    }

    /// The shape this model was built with.
    pub fn shape(&self) -> Shape {
        let [h, _, k, _] = self.masked.val().dims();
        Shape { radius: k / 2, hidden: h, layers: self.hidden.len() }
    }

    /// Logits `[b · 784, 256]` of digits `x` (`[b, INPUTS, 28, 28]`, see [`inputs`]), a row per
    /// pixel in digit, row, column order.
    ///
    /// The masked convolution runs as two convolutions over only its causal taps — the `r` rows
    /// above (an `r × k` kernel) and the `r` pixels to the left (a `1 × r` kernel) — on inputs
    /// shifted so that each output sees exactly the pixels before it; half the work of a full
    /// `k × k` convolution with a mask. The taps that are not causal get no gradient. The 1×1
    /// layers run as matrix products over a row per pixel (a tenth faster here than as
    /// convolutions).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let shape = self.shape();
        let (r, k, h) = (shape.radius, shape.kernel(), shape.hidden);
        let [b, c, _, _] = x.dims();
        let w = self.masked.val();
        let above = x
            .clone()
            .slice([0..b, 0..c, 0..SIDE - 1, 0..SIDE])
            .pad((r, r, r, 0), PadMode::Constant(0.0));
        let left = x.slice([0..b, 0..c, 0..SIDE, 0..SIDE - 1]).pad((r, 0, 0, 0), PadMode::Constant(0.0));
        let valid = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let y = conv2d(above, w.clone().slice([0..h, 0..c, 0..r, 0..k]), None, valid.clone())
            + conv2d(left, w.slice([0..h, 0..c, r..r + 1, 0..r]), None, valid);
        let mut y = relu(y + self.position.val()).permute([0, 2, 3, 1]).reshape([b * SIDE * SIDE, h]);
        for layer in &self.hidden {
            y = relu(dense(layer, y));
        }
        dense(&self.out, y)
    }

    /// Mean code length in bits per pixel of digits `pixels` (`b` digits of 784 bytes).
    pub fn bits_per_pixel(&self, pixels: &[u8], b: usize, device: &Device) -> Tensor<1> {
        let x = Tensor::<4>::from_data(TensorData::new(inputs(pixels), [b, INPUTS, SIDE, SIDE]), device);
        let target: Vec<i64> = pixels.iter().map(|&p| i64::from(p)).collect();
        let target = Tensor::<2, Int>::from_data(TensorData::new(target, [b * SIDE * SIDE, 1]), device);
        let logp = log_softmax(self.forward(x), 1).gather(1, target);
        logp.mean().neg() / std::f32::consts::LN_2
    }
}

/// A 1×1 convolution applied to `x`, a row of channels per pixel.
fn dense(conv: &Conv2d, x: Tensor<2>) -> Tensor<2> {
    let [o, i, _, _] = conv.weight.val().dims();
    let y = x.matmul(conv.weight.val().reshape([o, i]).transpose());
    match &conv.bias {
        Some(bias) => y + bias.val().reshape([1, o]),
        None => y,
    }
}

/// The network's input planes of digits `pixels` (784 bytes each): per digit, the values / 255,
/// then the ink indicator.
pub fn inputs(pixels: &[u8]) -> Vec<f32> {
    let mut x = Vec::with_capacity(pixels.len() * INPUTS);
    for digit in pixels.chunks(SIDE * SIDE) {
        x.extend(digit.iter().map(|&p| f32::from(p) / 255.0));
        x.extend(digit.iter().map(|&p| if p > 0 { 1.0 } else { 0.0 }));
    }
    x
}

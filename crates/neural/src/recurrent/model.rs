//! The progressive recurrent codec's network (Toderici et al. 2017, scaled to a CPU): an
//! encoder of a strided convolution and three strided recurrent layers, a binariser, and a
//! decoder of four recurrent layers with depth-to-space upsampling. Each iteration codes the
//! current residual into `BITS` binary maps at 1/16 resolution (BITS/256 bits per pixel).

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor, TensorData};

use super::cell::{Cell, State, Unit};
use crate::layers::activation::tanh;
use crate::layers::{conv, forward};
use crate::rng::Rng;

/// Binary maps per iteration (at 1/16 of the image's width and height).
pub const BITS: usize = 32;
/// Every spatial size must be a multiple of this.
pub const ALIGN: usize = 16;

/// How the iterations combine into a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// Each iteration's decoder output is the whole picture; the residual goes forward.
    OneShot,
    /// Each iteration predicts the residual; the picture is the sum.
    Additive,
    /// Additive, with the residual scaled up by a gain predicted from the picture so far.
    ResidualScaling,
}

impl Framework {
    pub const ALL: [Framework; 3] = [
        Framework::OneShot,
        Framework::Additive,
        Framework::ResidualScaling,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Framework::OneShot => "oneshot",
            Framework::Additive => "additive",
            Framework::ResidualScaling => "scaling",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Framework::ALL.into_iter().find(|f| f.name() == s)
    }

    fn from_code(c: usize) -> Self {
        match c {
            0 => Framework::OneShot,
            1 => Framework::Additive,
            _ => Framework::ResidualScaling,
        }
    }
}

/// A unit and a framework: `gru-additive`, `lstm-oneshot`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub unit: Unit,
    pub framework: Framework,
}

impl Variant {
    pub fn name(self) -> String {
        format!("{}-{}", self.unit.name(), self.framework.name())
    }

    pub fn from_name(s: &str) -> Option<Self> {
        let (u, f) = s.split_once('-')?;
        Some(Variant {
            unit: Unit::from_name(u)?,
            framework: Framework::from_name(f)?,
        })
    }

    /// Every unit with every framework.
    pub fn all() -> Vec<Variant> {
        Unit::ALL
            .iter()
            .flat_map(|&unit| {
                Framework::ALL
                    .iter()
                    .map(move |&framework| Variant { unit, framework })
            })
            .collect()
    }
}

/// Encoder layers and the binariser's projection.
#[derive(Module, Debug)]
pub struct Encoder {
    conv: Conv2d,
    cells: Vec<Cell>,
    project: Conv2d,
}

/// Decoder layers: a projection, four recurrent layers each followed by depth-to-space, and
/// the output projection to RGB.
#[derive(Module, Debug)]
pub struct Decoder {
    project: Conv2d,
    cells: Vec<Cell>,
    out: Conv2d,
}

/// Iterations with a gain factor of their own; later ones share the last.
const GAIN_ITERATIONS: usize = 16;
/// The iteration factors are stored as log-gain / `LOG_GAIN_SCALE`: Adam's steps are about the
/// learning rate in size whatever the gradient, and this lets a log-gain travel the few units
/// it needs within a fine-tune rather than over thousands of steps.
const LOG_GAIN_SCALE: f32 = 16.0;

/// The residual-scaling gain: a small strided network on the picture so far, one gain ≥ 1
/// per 8×8 block, times a learned factor per iteration. The picture changes little after a
/// few iterations, so the network alone cannot tell an early residual from a late, smaller
/// one; the iteration's factor can.
#[derive(Module, Debug)]
pub struct Gain {
    convs: Vec<Conv2d>,
    /// `GAIN_ITERATIONS` log-gains / `LOG_GAIN_SCALE`, zero (a factor of 1) when new. Model
    /// files and checkpoints from before the factors existed have none.
    iteration: Option<Param<Tensor<1>>>,
}

/// The whole recurrent codec network.
#[derive(Module, Debug)]
pub struct RecurrentModel {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub gain: Option<Gain>,
    framework: usize,
}

/// Recurrent states of both sides and the picture so far, between iterations.
pub struct Progress {
    enc: Vec<State>,
    dec: Vec<State>,
    /// The reconstruction after the iterations so far, in [−½, ½].
    pub picture: Tensor<4>,
    /// The gain the next iteration uses (residual scaling only).
    gain: Option<Tensor<4>>,
    /// Iterations decoded so far.
    done: usize,
}

/// Rearranges `[b, 4c, h, w]` into `[b, c, 2h, 2w]`.
fn depth_to_space(x: Tensor<4>) -> Tensor<4> {
    let [b, c4, h, w] = x.dims();
    let c = c4 / 4;
    x.reshape([b, c, 2, 2, h, w])
        .permute([0, 1, 4, 2, 5, 3])
        .reshape([b, c, 2 * h, 2 * w])
}

impl RecurrentModel {
    /// A freshly initialised network for `variant`.
    pub fn new(variant: Variant, rng: &mut Rng, device: &Device) -> Self {
        crate::layers::seeded(rng.next_u64(), device, || Self::init(variant, device))
    }

    fn init(variant: Variant, device: &Device) -> Self {
        let u = variant.unit;
        let encoder = Encoder {
            conv: conv(3, 32, 3, 2, device),
            cells: vec![
                Cell::new(u, 32, 64, 2, device),
                Cell::new(u, 64, 64, 2, device),
                Cell::new(u, 64, 64, 2, device),
            ],
            project: conv(64, BITS, 1, 1, device),
        };
        let decoder = Decoder {
            project: conv(BITS, 64, 1, 1, device),
            cells: vec![
                Cell::new(u, 64, 64, 1, device),
                Cell::new(u, 16, 64, 1, device),
                Cell::new(u, 16, 32, 1, device),
                Cell::new(u, 8, 16, 1, device),
            ],
            out: conv(4, 3, 1, 1, device),
        };
        let gain = (variant.framework == Framework::ResidualScaling).then(|| Gain {
            convs: vec![
                conv(3, 16, 3, 2, device),
                conv(16, 16, 3, 2, device),
                conv(16, 1, 3, 2, device),
            ],
            iteration: Some(unit_factors(device)),
        });
        Self {
            encoder,
            decoder,
            gain,
            framework: variant.framework as usize,
        }
    }

    pub fn framework(&self) -> Framework {
        Framework::from_code(self.framework)
    }

    /// Whether the gain has its per-iteration factors (residual scaling only).
    pub fn has_iteration_gain(&self) -> bool {
        self.gain.as_ref().is_some_and(|g| g.iteration.is_some())
    }

    /// The model without the per-iteration factors, the shape of the files and checkpoints
    /// made before they existed.
    pub fn without_iteration_gain(mut self) -> Self {
        if let Some(g) = &mut self.gain {
            g.iteration = None;
        }
        self
    }

    /// The model with per-iteration factors of 1 where it has none: the same function, so a
    /// run from before they existed goes on with them.
    pub fn with_iteration_gain(mut self, device: &Device) -> Self {
        if let Some(g) = &mut self.gain {
            g.iteration.get_or_insert_with(|| unit_factors(device));
        }
        self
    }

    /// The state before the first iteration for pictures of `b`×3×`h`×`w`.
    pub fn start(&self, b: usize, h: usize, w: usize, device: &Device) -> Progress {
        let (mut eh, mut ew) = (h / 2, w / 2);
        let mut enc = Vec::new();
        for c in &self.encoder.cells {
            enc.push(c.zero_state(b, eh, ew, device));
            (eh, ew) = (eh.div_ceil(2), ew.div_ceil(2));
        }
        let mut dec = Vec::new();
        let (mut dh, mut dw) = (h / ALIGN, w / ALIGN);
        for c in &self.decoder.cells {
            dec.push(c.zero_state(b, dh, dw, device));
            (dh, dw) = (dh * 2, dw * 2);
        }
        Progress {
            enc,
            dec,
            picture: Tensor::zeros([b, 3, h, w], device),
            gain: None,
            done: 0,
        }
    }

    /// The encoder's soft codes in (−1, 1) for the residual `residual` (the input picture minus
    /// the reconstruction so far), advancing the encoder's states.
    pub fn encode_step(&self, residual: Tensor<4>, p: &mut Progress) -> Tensor<4> {
        let input = match &p.gain {
            Some(g) => residual * g.clone(),
            None => residual,
        };
        let mut x = self.encoder.conv.forward(input);
        for (cell, state) in self.encoder.cells.iter().zip(p.enc.iter_mut()) {
            let next = cell.forward(x, state.clone());
            x = next.h.clone();
            *state = next;
        }
        tanh(forward(&self.encoder.project, x))
    }

    /// Decodes one iteration's bits (±1, `[b, BITS, h/16, w/16]`) into the picture, advancing
    /// the decoder's states; returns the new picture.
    pub fn decode_step(&self, bits: Tensor<4>, p: &mut Progress) -> Tensor<4> {
        let mut x = forward(&self.decoder.project, bits);
        for (cell, state) in self.decoder.cells.iter().zip(p.dec.iter_mut()) {
            let next = cell.forward(x, state.clone());
            x = depth_to_space(next.h.clone());
            *state = next;
        }
        let out = tanh(forward(&self.decoder.out, x));
        let picture = match self.framework() {
            Framework::OneShot => out * 0.5,
            Framework::Additive => p.picture.clone() + out,
            Framework::ResidualScaling => {
                let step = match &p.gain {
                    Some(g) => out / g.clone(),
                    None => out,
                };
                p.picture.clone() + step
            }
        };
        p.done += 1;
        if let Some(gain) = &self.gain {
            p.gain = Some(gain.forward(picture.clone(), p.done));
        }
        p.picture = picture.clone();
        picture
    }
}

/// Per-iteration gain factors of 1.
fn unit_factors(device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::zeros([GAIN_ITERATIONS], device))
}

impl Gain {
    /// The gains of iteration `k` (from 0), one per 8×8 block, repeated to full resolution.
    fn forward(&self, picture: Tensor<4>, k: usize) -> Tensor<4> {
        let mut x = picture;
        for (i, c) in self.convs.iter().enumerate() {
            x = c.forward(x);
            if i + 1 < self.convs.len() {
                x = burn::tensor::activation::relu(x);
            }
        }
        let mut g = softplus(x, 1.0) + 1.0;
        if let Some(factors) = &self.iteration {
            let k = k.min(GAIN_ITERATIONS - 1);
            let log_gain = factors.val().slice([k..k + 1]) * LOG_GAIN_SCALE;
            g = g * log_gain.exp().reshape([1, 1, 1, 1]);
        }
        let [b, _, h, w] = g.dims();
        g.reshape([b, 1, h, 1, w, 1])
            .expand([b, 1, h, 8, w, 8])
            .reshape([b, 1, 8 * h, 8 * w])
            .repeat_dim(1, 3)
    }
}

/// Stochastic binarisation for training: ±1 with P(+1) = (1 + y)/2, passing the gradient of
/// `y` straight through.
pub fn binarize_noisy(y: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
    let dims = y.dims();
    let n = dims.iter().product();
    let u: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
    let u = Tensor::<4>::from_data(TensorData::new(u, dims), &y.device());
    let p = (y.clone() + 1.0) * 0.5;
    let sample = p.lower_equal(u).float().neg() * 2.0 + 1.0;
    y.clone() + (sample - y).detach()
}

/// The sign, passing the gradient of `y` straight through: training as the codes are coded.
pub fn binarize_straight(y: Tensor<4>) -> Tensor<4> {
    y.clone() + (binarize(y.clone()) - y).detach()
}

/// The sign, for coding: +1 where `y ≥ 0`.
pub fn binarize(y: Tensor<4>) -> Tensor<4> {
    y.greater_equal_elem(0.0).float() * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The pictures of three iterations coding `x`.
    fn pictures(model: &RecurrentModel, x: &Tensor<4>) -> Vec<Vec<f32>> {
        let [b, _, h, w] = x.dims();
        let mut p = model.start(b, h, w, &x.device());
        let mut residual = x.clone();
        (0..3)
            .map(|_| {
                let bits = binarize(model.encode_step(residual.clone(), &mut p));
                let picture = model.decode_step(bits, &mut p);
                residual = x.clone() - picture.clone();
                values(picture)
            })
            .collect()
    }

    #[test]
    fn iteration_factors_of_one_change_nothing_and_others_change_the_later_iterations() {
        let device = crate::checkpoint::train_device();
        let variant = Variant::from_name("gru-scaling").unwrap();
        let mut model = RecurrentModel::new(variant, &mut Rng::new(3), &device);
        assert!(model.has_iteration_gain());
        let mut rng = Rng::new(4);
        let x: Vec<f32> = (0..3 * 32 * 32).map(|_| rng.uniform() - 0.5).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [1, 3, 32, 32]), &device);
        let before = pictures(&model, &x);
        let without = model.clone().without_iteration_gain();
        assert!(!without.has_iteration_gain());
        assert_eq!(pictures(&without, &x), before);
        assert_eq!(pictures(&without.with_iteration_gain(&device), &x), before);
        let factors = Tensor::<1>::ones([GAIN_ITERATIONS], &device) * 0.05;
        model.gain.as_mut().unwrap().iteration = Some(Param::from_tensor(factors));
        let after = pictures(&model, &x);
        // The first iteration has no gain; the second is scaled by its factor.
        assert_eq!(after[0], before[0]);
        assert_ne!(after[1], before[1]);
    }

    #[test]
    fn straight_binarisation_codes_the_sign_and_passes_the_gradient_through() {
        let device = crate::checkpoint::train_device();
        let y = Tensor::<4>::from_data(TensorData::new(vec![-0.7f32, -0.01, 0.0, 0.3], [1, 1, 2, 2]), &device)
            .require_grad();
        let bits = binarize_straight(y.clone());
        assert_eq!(values(bits.clone()), values(binarize(y.clone())));
        assert_eq!(values(bits.clone()), [-1.0, -1.0, 1.0, 1.0]);
        // The loss weighs each bit differently; each code receives its bit's weight.
        let weights = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]), &device);
        let grads = (bits * weights).sum().backward();
        let grad = y.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(grad, [1.0, 2.0, 3.0, 4.0]);
    }
}

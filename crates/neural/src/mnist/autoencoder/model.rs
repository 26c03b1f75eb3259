//! The digit autoencoder: analysis (two 5×5 stride-2 convolutions, 28→14→7, with GDN, and a
//! 3×3 convolution to the latent channels), synthesis (its mirror with inverse GDN and 5×5
//! stride-2 transposed convolutions) and the factorised density over the latent.

use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tessera_core::{Error, Result};

use crate::layers::conv;
use crate::layers::density::FactorizedDensity;
use crate::layers::gdn::Gdn;
use crate::rng::Rng;

/// Side of the latent grid (28 / 4).
pub const LATENT_SIDE: usize = 7;
/// Latent positions per channel.
pub const LATENT_POSITIONS: usize = LATENT_SIDE * LATENT_SIDE;

/// Shape of a digit autoencoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Channels inside the transforms.
    pub n: usize,
    /// Latent channels.
    pub m: usize,
}

impl Shape {
    /// Refuses shapes no shipped model has and that would make absurd allocations.
    pub fn check(&self) -> Result<()> {
        if !(1..=256).contains(&self.n) || !(1..=64).contains(&self.m) {
            return Err(Error::InvalidParam(format!(
                "autoencoder widths n = {} (1..=256), m = {} (1..=64)",
                self.n, self.m
            )));
        }
        Ok(())
    }
}

/// The analysis transform: `[b, 1, 28, 28]` → `[b, m, 7, 7]`.
#[derive(Module, Debug)]
pub struct Analysis {
    convs: Vec<Conv2d>,
    gdns: Vec<Gdn>,
}

/// The synthesis transform: `[b, m, 7, 7]` → `[b, 1, 28, 28]`.
#[derive(Module, Debug)]
pub struct Synthesis {
    input: Conv2d,
    deconvs: Vec<ConvTranspose2d>,
    igdns: Vec<Gdn>,
}

/// A digit autoencoder with its learned prior.
#[derive(Module, Debug)]
pub struct DigitAutoencoder {
    pub analysis: Analysis,
    pub synthesis: Synthesis,
    pub density: FactorizedDensity,
}

/// A 5×5 stride-2 transposed convolution that doubles the side.
fn upsample(cin: usize, cout: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .init(device)
}

impl Analysis {
    fn new(s: Shape, device: &Device) -> Self {
        Self {
            convs: vec![conv(1, s.n, 5, 2, device), conv(s.n, s.n, 5, 2, device), conv(s.n, s.m, 3, 1, device)],
            gdns: vec![Gdn::new(s.n, false, device), Gdn::new(s.n, false, device)],
        }
    }

    /// Digits in [0, 1] → latents.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = x;
        for (i, c) in self.convs.iter().enumerate() {
            x = c.forward(x);
            if let Some(g) = self.gdns.get(i) {
                x = g.forward(x);
            }
        }
        x
    }
}

impl Synthesis {
    fn new(s: Shape, device: &Device) -> Self {
        Self {
            input: conv(s.m, s.n, 3, 1, device),
            deconvs: vec![upsample(s.n, s.n, device), upsample(s.n, 1, device)],
            igdns: vec![Gdn::new(s.n, true, device), Gdn::new(s.n, true, device)],
        }
    }

    /// Latents → digits (not clamped; [0, 1] is the picture's range).
    pub fn forward(&self, y: Tensor<4>) -> Tensor<4> {
        let mut x = self.igdns[0].forward(self.input.forward(y));
        x = self.igdns[1].forward(self.deconvs[0].forward(x));
        self.deconvs[1].forward(x)
    }
}

/// How latents are quantised in a forward pass.
pub enum Quantise<'a> {
    /// Additive uniform noise (rate–distortion training).
    Noise(&'a mut Rng),
    /// None at all (the plain autoencoder's training).
    Identity,
    /// Rounding around the medians, as the coder does.
    Round,
}

/// What a forward pass gives.
pub struct Output {
    pub y: Tensor<4>,
    pub x_hat: Tensor<4>,
    /// Estimated bits of the quantised latents, summed over the batch.
    pub bits: Tensor<1>,
}

impl DigitAutoencoder {
    /// A freshly initialised model, the same for the same generator state.
    pub fn new(shape: Shape, rng: &mut Rng, device: &Device) -> Self {
        crate::layers::seeded(rng.next_u64(), device, || Self {
            analysis: Analysis::new(shape, device),
            synthesis: Synthesis::new(shape, device),
            density: FactorizedDensity::new(shape.m, rng, device),
        })
    }

    /// Forward pass. With [`Quantise::Identity`] the rate is that of the detached latents
    /// with noise drawn from `rng` (which then must be given through `fit`): it trains the
    /// density alone, so the plain model's transforms never see a rate term.
    pub fn forward(&self, x: Tensor<4>, q: Quantise<'_>, fit: Option<&mut Rng>) -> Output {
        let y = self.analysis.forward(x);
        let (y_hat, bits) = match q {
            Quantise::Noise(rng) => {
                let y_hat = y.clone() + noise(&y, rng);
                let bits = neg_log2_sum(self.density.likelihood(y_hat.clone()));
                (y_hat, bits)
            }
            Quantise::Identity => {
                let bits = match fit {
                    Some(rng) => {
                        let d = y.clone().detach();
                        let n = noise(&d, rng);
                        neg_log2_sum(self.density.likelihood(d + n))
                    }
                    None => Tensor::<1>::zeros([1], &y.device()),
                };
                (y.clone(), bits)
            }
            Quantise::Round => {
                let m = self.density.medians().detach();
                let y_hat = (y.clone() - m.clone()).round() + m;
                let bits = neg_log2_sum(self.density.likelihood(y_hat.clone()));
                (y_hat, bits)
            }
        };
        Output { y, x_hat: self.synthesis.forward(y_hat), bits }
    }
}

fn noise(v: &Tensor<4>, rng: &mut Rng) -> Tensor<4> {
    let dims = v.dims();
    let n = dims.iter().product();
    Tensor::<4>::from_data(TensorData::new(rng.noise(n), dims), &v.device())
}

fn neg_log2_sum(lik: Tensor<4>) -> Tensor<1> {
    lik.log().sum() * (-std::f32::consts::LOG2_E)
}

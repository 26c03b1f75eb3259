//! The photo models: the factorised prior (Ballé et al. 2018) and the mean-scale hyperprior
//! (Minnen et al. 2018 without the autoregressive context), sized for a CPU.
//!
//! Analysis `g_a`: four 5×5 stride-2 convolutions with GDN between them, so a latent pixel
//! covers 16×16 image pixels. Synthesis `g_s`: the mirror with transposed convolutions and
//! inverse GDN. The hyperprior adds `h_a` (3×3, then two 5×5 stride-2 convolutions with ReLU)
//! and `h_s` (two 5×5 stride-2 transposed convolutions and a 3×3 convolution) predicting a
//! mean and a scale for every latent. The checkerboard model adds a context model to a trained
//! hyperprior ([`super::context`]).

use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use super::context::ContextModel;
use crate::layers::conv;
use crate::layers::density::FactorizedDensity;
use crate::layers::gaussian;
use crate::layers::gdn::Gdn;
use crate::rng::Rng;

/// Which entropy model a photo model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A learned density per latent channel.
    Factorized,
    /// A Gaussian per latent with mean and scale from side information.
    Hyperprior,
    /// The hyperprior with a checkerboard context model.
    Checkerboard,
}

impl Kind {
    /// The codec / model family name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Factorized => "factorized",
            Kind::Hyperprior => "hyperprior",
            Kind::Checkerboard => "checkerboard",
        }
    }

    /// Parses a family name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "factorized" => Some(Kind::Factorized),
            "hyperprior" => Some(Kind::Hyperprior),
            "checkerboard" => Some(Kind::Checkerboard),
            _ => None,
        }
    }
}

/// Shape of a photo model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub kind: Kind,
    /// Channels inside the transforms.
    pub n: usize,
    /// Latent channels.
    pub m: usize,
}

/// Every spatial size must be a multiple of this (four stride-2 layers, two more in `h_a`).
pub const ALIGN: usize = 64;

/// The analysis transform `g_a`.
#[derive(Module, Debug)]
pub struct Analysis {
    pub(super) convs: Vec<Conv2d>,
    gdns: Vec<Gdn>,
}

/// The synthesis transform `g_s`.
#[derive(Module, Debug)]
pub struct Synthesis {
    deconvs: Vec<ConvTranspose2d>,
    igdns: Vec<Gdn>,
}

/// The hyper-analysis `h_a` and hyper-synthesis `h_s`, with the side information's density.
#[derive(Module, Debug)]
pub struct Hyper {
    pub ha: Vec<Conv2d>,
    pub hs_deconvs: Vec<ConvTranspose2d>,
    pub hs_out: Conv2d,
    pub density: FactorizedDensity,
}

/// A photo model: transforms and entropy model.
#[derive(Module, Debug)]
pub struct PhotoModel {
    pub analysis: Analysis,
    pub synthesis: Synthesis,
    /// The factorised prior over `y` (factorised model only).
    pub density: Option<FactorizedDensity>,
    /// The hyperprior (hyperprior and checkerboard models).
    pub hyper: Option<Hyper>,
    /// The checkerboard context model (checkerboard model only).
    pub context: Option<ContextModel>,
}

fn deconv(cin: usize, cout: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .init(device)
}

impl Analysis {
    fn new(n: usize, m: usize, device: &Device) -> Self {
        let convs = vec![
            conv(3, n, 5, 2, device),
            conv(n, n, 5, 2, device),
            conv(n, n, 5, 2, device),
            conv(n, m, 5, 2, device),
        ];
        let gdns = (0..3).map(|_| Gdn::new(n, false, device)).collect();
        Self { convs, gdns }
    }

    /// `[b, 3, h, w]` in [0, 1] → `[b, m, h/16, w/16]`.
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
    fn new(n: usize, m: usize, device: &Device) -> Self {
        let deconvs = vec![
            deconv(m, n, device),
            deconv(n, n, device),
            deconv(n, n, device),
            deconv(n, 3, device),
        ];
        let igdns = (0..3).map(|_| Gdn::new(n, true, device)).collect();
        Self { deconvs, igdns }
    }

    /// `[b, m, h, w]` → `[b, 3, 16h, 16w]`.
    pub fn forward(&self, y: Tensor<4>) -> Tensor<4> {
        let mut x = y;
        for (i, d) in self.deconvs.iter().enumerate() {
            x = d.forward(x);
            if let Some(g) = self.igdns.get(i) {
                x = g.forward(x);
            }
        }
        x
    }
}

impl Hyper {
    fn new(n: usize, m: usize, rng: &mut Rng, device: &Device) -> Self {
        let mid = m * 3 / 2;
        Self {
            ha: vec![
                conv(m, n, 3, 1, device),
                conv(n, n, 5, 2, device),
                conv(n, n, 5, 2, device),
            ],
            hs_deconvs: vec![deconv(n, m, device), deconv(m, mid, device)],
            hs_out: conv(mid, 2 * m, 3, 1, device),
            density: FactorizedDensity::new(n, rng, device),
        }
    }

    /// `h_a`: latents → side information.
    pub fn analysis(&self, y: Tensor<4>) -> Tensor<4> {
        let mut z = self.ha[0].forward(y);
        for c in &self.ha[1..] {
            z = c.forward(relu(z));
        }
        z
    }

    /// The means and scales of `y` as the coder has them: from the side information rounded.
    pub fn params_rounded(&self, y: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let z = self.analysis(y);
        self.synthesis(quantise(z, self.density.medians(), &mut Quantise::Round))
    }

    /// `h_s`: side information → (means, scales) of the latents.
    pub fn synthesis(&self, z: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let mut x = z;
        for d in &self.hs_deconvs {
            x = relu(d.forward(x));
        }
        let out = self.hs_out.forward(x);
        let [b, c2, h, w] = out.dims();
        let m = c2 / 2;
        let means = out.clone().slice([0..b, 0..m, 0..h, 0..w]);
        let scales = out.slice([0..b, m..c2, 0..h, 0..w]);
        (means, scales)
    }
}

/// What one forward pass gives for training or evaluation.
pub struct Output {
    pub x_hat: Tensor<4>,
    /// Estimated bits of the latents and of the side information (summed over the batch).
    pub bits: Tensor<1>,
}

/// How latents are quantised in a forward pass.
pub enum Quantise<'a> {
    /// Additive uniform noise from the generator (training).
    Noise(&'a mut Rng),
    /// Rounding around the medians / means (evaluation, the coder's rate).
    Round,
    /// Soft random rounding at a temperature, drawn from the generator (the encoder's
    /// refinement of the latents, [`super::refine`]): stochastic Gumbel annealing.
    Annealed(&'a mut Rng, f32),
    /// Training with the synthesis seeing what it decodes: the rate of the noisy latents, as
    /// [`Quantise::Noise`], while the synthesis gets `y` rounded around its medians / means
    /// with the gradient passed straight through (Minnen & Singh 2020). The side information
    /// stays noisy.
    Mixed(&'a mut Rng),
}

impl PhotoModel {
    /// A freshly initialised model, the same for the same generator state.
    pub fn new(cfg: Config, rng: &mut Rng, device: &Device) -> Self {
        crate::layers::seeded(rng.next_u64(), device, || {
            let analysis = Analysis::new(cfg.n, cfg.m, device);
            let synthesis = Synthesis::new(cfg.n, cfg.m, device);
            let (density, hyper) = match cfg.kind {
                Kind::Factorized => (Some(FactorizedDensity::new(cfg.m, rng, device)), None),
                Kind::Hyperprior | Kind::Checkerboard => {
                    (None, Some(Hyper::new(cfg.n, cfg.m, rng, device)))
                }
            };
            let context =
                (cfg.kind == Kind::Checkerboard).then(|| ContextModel::new(cfg.m, device));
            Self {
                analysis,
                synthesis,
                density,
                hyper,
                context,
            }
        })
    }

    /// Forward pass with estimated rate.
    pub fn forward(&self, x: Tensor<4>, q: Quantise<'_>) -> Output {
        self.forward_latents(self.analysis.forward(x), None, q)
    }

    /// The forward pass from the latents `y` on: quantisation, rate and synthesis. A hyperprior
    /// takes the side information `z` given, or `h_a(y)`.
    pub fn forward_latents(
        &self,
        y: Tensor<4>,
        z: Option<Tensor<4>>,
        mut q: Quantise<'_>,
    ) -> Output {
        let mixed = matches!(q, Quantise::Mixed(_));
        let y_in = mixed.then(|| y.clone());
        // The quantised latents, what they are rounded around, and the estimated bits.
        let (y_hat, centre, bits) = if let Some(density) = &self.density {
            let medians = density.medians();
            let y_hat = quantise(y, medians.clone(), &mut q);
            let bits = neg_log2_sum(density.likelihood(y_hat.clone()));
            (y_hat, medians, bits)
        } else if let Some(hyper) = &self.hyper {
            let z = z.unwrap_or_else(|| hyper.analysis(y.clone()));
            let z_hat = quantise(z, hyper.density.medians(), &mut q);
            let z_bits = neg_log2_sum(hyper.density.likelihood(z_hat.clone()));
            let (means, scales) = hyper.synthesis(z_hat);
            let (y_hat, means, scales) = match &self.context {
                Some(c) => c.quantise(y, means, scales, |v, centre| quantise(v, centre, &mut q)),
                None => (quantise(y, means.clone(), &mut q), means, scales),
            };
            let y_bits = neg_log2_sum(gaussian::likelihood(y_hat.clone(), means.clone(), scales));
            (y_hat, means, z_bits + y_bits)
        } else {
            unreachable!("a photo model has one entropy model")
        };
        let decoded = match y_in {
            Some(y) => round_straight_through(y, centre),
            None => y_hat,
        };
        Output {
            x_hat: self.synthesis.forward(decoded),
            bits,
        }
    }

    /// The channel counts (N, M), read from the synthesis's first layer (`[M, N, 5, 5]`).
    pub fn channels(&self) -> (usize, usize) {
        let [m, n, _, _] = self.synthesis.deconvs[0].weight.dims();
        (n, m)
    }

    /// The auxiliary loss fitting the factorised densities' quantiles.
    pub fn aux_loss(&self) -> Tensor<1> {
        match (&self.density, &self.hyper) {
            (Some(d), _) => d.aux_loss(),
            (_, Some(h)) => h.density.aux_loss(),
            _ => unreachable!("a photo model has one entropy model"),
        }
    }
}

/// Noise or rounding of `v` around `centre` (broadcast).
pub(super) fn quantise(v: Tensor<4>, centre: Tensor<4>, q: &mut Quantise<'_>) -> Tensor<4> {
    match q {
        Quantise::Noise(rng) | Quantise::Mixed(rng) => {
            let dims = v.dims();
            let n = dims.iter().product();
            let noise = Tensor::<4>::from_data(TensorData::new(rng.noise(n), dims), &v.device());
            v + noise
        }
        Quantise::Round => round_around(v, centre),
        Quantise::Annealed(rng, tau) => round_annealed(v, centre, *tau, rng),
    }
}

/// `v` rounded around `centre`: what the coder codes.
fn round_around(v: Tensor<4>, centre: Tensor<4>) -> Tensor<4> {
    let centre = centre.detach();
    (v - centre.clone()).round() + centre
}

/// [`round_around`] with the gradient of the identity.
fn round_straight_through(v: Tensor<4>, centre: Tensor<4>) -> Tensor<4> {
    v.clone() + (round_around(v.clone(), centre) - v).detach()
}

/// Stochastic Gumbel annealing (Yang et al. 2020): `v` rounded around `centre` at random at
/// temperature `tau`. d = v − centre lies between ⌊d⌋ and ⌊d⌋ + 1 at distance r from the lower;
/// the odds of the lower are exp(−atanh(r)/τ) against exp(−atanh(1 − r)/τ), and the soft choice
/// is a Gumbel-softmax sample at `tau`, which nears the rounding as `tau` falls.
fn round_annealed(v: Tensor<4>, centre: Tensor<4>, tau: f32, rng: &mut Rng) -> Tensor<4> {
    const EDGE: f32 = 1e-5;
    let centre = centre.detach();
    let d = v - centre.clone();
    let down = d.clone().floor().detach();
    let r = d - down.clone();
    let atanh = |t: Tensor<4>| t.clamp(-1.0 + EDGE, 1.0 - EDGE).atanh();
    let odds_up = (atanh(r.clone()) - atanh(-r + 1.0)) / tau;
    let dims = down.dims();
    let gumbel = |u: f32| -(-(u.max(1e-7)).ln()).ln();
    let noise: Vec<f32> = (0..dims.iter().product())
        .map(|_| gumbel(rng.uniform()) - gumbel(rng.uniform()))
        .collect();
    let noise = Tensor::<4>::from_data(TensorData::new(noise, dims), &down.device());
    down + sigmoid((odds_up + noise) / tau) + centre
}

pub(crate) fn neg_log2_sum(lik: Tensor<4>) -> Tensor<1> {
    lik.log().sum() * (-std::f32::consts::LOG2_E)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_through_rounding_rounds_around_the_centre_and_passes_the_gradient() {
        let device = crate::checkpoint::train_device();
        let data = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, 2, 2]), &device);
        let v = data(vec![-0.7, 0.2, 1.6, 2.3]).require_grad();
        let centre = data(vec![0.0, 0.5, 0.25, -0.1]).require_grad();
        let rounded = round_straight_through(v.clone(), centre.clone());
        let got = rounded.clone().into_data().try_into_vec::<f32>().unwrap();
        // v − centre rounded, plus centre: −1, 0.5 − 0 … each within float error.
        for (g, want) in got.iter().zip([-1.0f32, 0.5, 1.25, 1.9]) {
            assert!((g - want).abs() < 1e-6, "{got:?}");
        }
        let weights = data(vec![1.0, 2.0, 3.0, 4.0]);
        let grads = (rounded * weights).sum().backward();
        let grad = v.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(grad, [1.0, 2.0, 3.0, 4.0]);
        // The centre only places the rounding: no gradient reaches it.
        assert!(centre.grad(&grads).is_none_or(|g| g.into_data().try_into_vec::<f32>().unwrap().iter().all(|&x| x == 0.0)));
    }
}

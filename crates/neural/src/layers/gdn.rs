//! Generalised divisive normalisation (Ballé et al. 2016), the non-linearity of the photo
//! transforms: `y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)` (GDN) or `x_i · sqrt(…)` (inverse GDN).

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

/// Squares of tiny numbers vanish in f32; the pedestal keeps the reparametrised values away
/// from zero so their gradients stay alive (Ballé's non-negative reparametrisation).
const PEDESTAL: f32 = 1.0 / (1u64 << 36) as f32;
const BETA_MIN: f32 = 1e-6;

/// GDN or inverse GDN over `channels` channels.
#[derive(Module, Debug)]
pub struct Gdn {
    /// `sqrt(β + pedestal)`, one per channel.
    beta: Param<Tensor<1>>,
    /// `sqrt(γ + pedestal)`, `[channels, channels]`.
    gamma: Param<Tensor<2>>,
    inverse: bool,
}

impl Gdn {
    /// A new layer with β = 1 and γ = 0.1·I, the usual initialisation.
    pub fn new(channels: usize, inverse: bool, device: &Device) -> Self {
        let beta = vec![(1.0 + PEDESTAL).sqrt(); channels];
        let mut gamma = vec![PEDESTAL.sqrt(); channels * channels];
        for c in 0..channels {
            gamma[c * channels + c] = (0.1 + PEDESTAL).sqrt();
        }
        Self {
            beta: Param::from_tensor(Tensor::from_data(TensorData::new(beta, [channels]), device)),
            gamma: Param::from_tensor(Tensor::from_data(
                TensorData::new(gamma, [channels, channels]),
                device,
            )),
            inverse,
        }
    }

    /// The effective (β, γ) after the non-negative reparametrisation.
    pub fn effective(&self) -> (Tensor<1>, Tensor<2>) {
        let beta_bound = (BETA_MIN + PEDESTAL).sqrt();
        let beta = self.beta.val().clamp_min(beta_bound).square() - PEDESTAL;
        let gamma = self.gamma.val().clamp_min(PEDESTAL.sqrt()).square() - PEDESTAL;
        (beta, gamma)
    }

    /// Applies the layer to `[batch, channels, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (beta, gamma) = self.effective();
        let [c, _] = gamma.dims();
        let weight = gamma.reshape([c, c, 1, 1]);
        let norm = conv2d(
            x.clone().square(),
            weight,
            Some(beta),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        );
        let norm = norm.sqrt();
        if self.inverse {
            x * norm
        } else {
            x / norm
        }
    }
}

//! The Gaussian conditional of the hyperprior: each latent is Gaussian with a mean and scale
//! predicted from the side information; its likelihood is the mass of the unit bin around it.

use burn::tensor::Tensor;

use super::density::LIKELIHOOD_MIN;

/// Smallest scale the model may predict (also the first entry of the coder's scale table).
pub const SCALE_MIN: f32 = 0.11;

/// Likelihood of `y` under N(`means`, `scales`²), all `[batch, channels, h, w]`.
pub fn likelihood(y: Tensor<4>, means: Tensor<4>, scales: Tensor<4>) -> Tensor<4> {
    let scales = scales.clamp_min(SCALE_MIN);
    // On the lower side of the mean the normal CDF keeps its precision: fold every value there.
    let v = (y - means).abs();
    let upper = std_cdf((-v.clone() + 0.5) / scales.clone());
    let lower = std_cdf((-v - 0.5) / scales);
    (upper - lower).clamp_min(LIKELIHOOD_MIN)
}

fn std_cdf(x: Tensor<4>) -> Tensor<4> {
    ((x * std::f32::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5
}

//! The learned factorised density (Ballé et al. 2018, appendix 6.1): per channel, a cumulative
//! distribution built from a small monotone network, so that the probability of an integer
//! bin is the difference of the cumulative at its two edges. It is the whole entropy model of
//! the factorised-prior codec and the prior of the hyperprior's side information.

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::{Device, Tensor, TensorData};
use tessera_core::Result;

/// Layer widths of the monotone network, input and output included.
const WIDTHS: [usize; 5] = [1, 3, 3, 3, 1];
/// Spread of the initial density.
const INIT_SCALE: f32 = 10.0;
/// Tail mass the quantiles bound on each side (for the coder's table range).
pub const TAIL_MASS: f64 = 1e-9;
/// Smallest likelihood used in the rate, so that the log stays finite.
pub const LIKELIHOOD_MIN: f32 = 1e-9;
/// The quantiles are stored divided by this, so that with the model's learning rate they move
/// ten times faster than the network (CompressAI fits them with a separate, 10× faster optimiser).
const QUANTILE_GAIN: f32 = 10.0;
/// Widest offset from the median a table covers; values beyond are escaped.
const TABLE_REACH: f32 = 1024.0;

/// A factorised density over `channels` channels.
#[derive(Module, Debug)]
pub struct FactorizedDensity {
    matrices: Vec<Param<Tensor<3>>>,
    biases: Vec<Param<Tensor<3>>>,
    factors: Vec<Param<Tensor<3>>>,
    /// Per channel, the points where the cumulative is the lower tail, ½ and the upper tail
    /// (divided by `QUANTILE_GAIN`); fitted by [`FactorizedDensity::aux_loss`], they give the
    /// median and the coder's range.
    quantiles: Param<Tensor<3>>,
}

impl FactorizedDensity {
    /// A new density, initialised like CompressAI's `EntropyBottleneck` (a wide logistic-ish
    /// bump) with biases drawn from `rng` so that runs are reproducible.
    pub fn new(channels: usize, rng: &mut crate::rng::Rng, device: &Device) -> Self {
        let scale = INIT_SCALE.powf(1.0 / (WIDTHS.len() - 1) as f32);
        let mut matrices = Vec::new();
        let mut biases = Vec::new();
        let mut factors = Vec::new();
        for k in 0..WIDTHS.len() - 1 {
            let (fan_in, fan_out) = (WIDTHS[k], WIDTHS[k + 1]);
            let init = (1.0 / scale / fan_out as f32).exp_m1().ln();
            let m = vec![init; channels * fan_out * fan_in];
            matrices.push(param(m, [channels, fan_out, fan_in], device));
            let b: Vec<f32> = (0..channels * fan_out)
                .map(|_| rng.uniform() - 0.5)
                .collect();
            biases.push(param(b, [channels, fan_out, 1], device));
            if k + 2 < WIDTHS.len() {
                factors.push(param(
                    vec![0.0; channels * fan_out],
                    [channels, fan_out, 1],
                    device,
                ));
            }
        }
        let q: Vec<f32> = (0..channels)
            .flat_map(|_| [-INIT_SCALE / QUANTILE_GAIN, 0.0, INIT_SCALE / QUANTILE_GAIN])
            .collect();
        Self {
            matrices,
            biases,
            factors,
            quantiles: param(q, [channels, 1, 3], device),
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.quantiles.val().dims()[0]
    }

    /// Logit of the cumulative at `x` (`[channels, 1, points]`); with `detach` the network's
    /// parameters get no gradient (the auxiliary loss moves only the quantiles).
    pub fn logits_cumulative(&self, x: Tensor<3>, detach: bool) -> Tensor<3> {
        let mut x = x;
        let get = |p: &Param<Tensor<3>>| if detach { p.val().detach() } else { p.val() };
        for k in 0..self.matrices.len() {
            let m = softplus(get(&self.matrices[k]), 1.0);
            x = m.matmul(x) + get(&self.biases[k]);
            if let Some(f) = self.factors.get(k) {
                x = x.clone() + get(f).tanh() * x.tanh();
            }
        }
        x
    }

    /// Likelihood of each value of `y` (`[batch, channels, h, w]`): the mass of the unit bin
    /// around it. Computed on the side of the median where the sigmoid is not saturated.
    pub fn likelihood(&self, y: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = y.dims();
        let x = y.permute([1, 0, 2, 3]).reshape([c, 1, b * h * w]);
        let lower = self.logits_cumulative(x.clone() - 0.5, false);
        let upper = self.logits_cumulative(x + 0.5, false);
        let sign = (lower.clone() + upper.clone()).sign().neg().detach();
        let lik = (sigmoid(sign.clone() * upper) - sigmoid(sign * lower)).abs();
        lik.clamp_min(LIKELIHOOD_MIN)
            .reshape([c, b, h, w])
            .permute([1, 0, 2, 3])
    }

    /// The auxiliary loss that moves the quantiles to the tails and the median of the density.
    pub fn aux_loss(&self) -> Tensor<1> {
        let logits = self.logits_cumulative(self.quantiles.val() * QUANTILE_GAIN, true);
        let t = (2.0 / TAIL_MASS - 1.0).ln() as f32;
        let c = self.channels();
        let target: Vec<f32> = (0..c).flat_map(|_| [-t, 0.0, t]).collect();
        let target = Tensor::<3>::from_data(TensorData::new(target, [c, 1, 3]), &logits.device());
        (logits - target).abs().sum()
    }

    /// Per channel, the fitted (lower tail, median, upper tail).
    pub fn quantiles(&self) -> Vec<[f32; 3]> {
        let q = (self.quantiles.val() * QUANTILE_GAIN)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        q.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
    }

    /// Medians, `[1, channels, 1, 1]`, for centring the quantiser.
    pub fn medians(&self) -> Tensor<4> {
        let c = self.channels();
        (self.quantiles.val().slice([0..c, 0..1, 1..2]) * QUANTILE_GAIN).reshape([1, c, 1, 1])
    }

    /// The integer frequency table of each channel for the coder: a value `v` is coded as the
    /// integer `q = round(v − median)` over the range the quantiles cover, with an escape symbol
    /// that gets the tail mass; frequencies sum to `2^bits`.
    pub fn tables(&self, bits: u32) -> Result<Vec<ChannelTable>> {
        let device = self.quantiles.val().device();
        self.quantiles()
            .iter()
            .enumerate()
            .map(|(ch, &[lo, median, hi])| {
                let lo = (lo - median).floor().clamp(-TABLE_REACH, 0.0) as i32;
                let hi = (hi - median).ceil().clamp(0.0, TABLE_REACH) as i32;
                let n = (hi - lo + 1) as usize;
                // The cumulative at every bin edge of this channel, from the network.
                let edges: Vec<f32> = (0..=n)
                    .map(|i| median + (lo + i as i32) as f32 - 0.5)
                    .collect();
                let x = Tensor::<3>::from_data(TensorData::new(edges, [1, 1, n + 1]), &device);
                let cdf: Vec<f64> = self
                    .channel_logits(ch, x)
                    .iter()
                    .map(|&l| 1.0 / (1.0 + (-f64::from(l)).exp()))
                    .collect();
                let mut masses: Vec<f64> = cdf.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect();
                masses.push((cdf[0] + (1.0 - cdf[n])).max(0.0));
                let frequencies = to_frequencies(&masses, bits)?;
                Ok(ChannelTable {
                    median,
                    lo,
                    hi,
                    frequencies,
                })
            })
            .collect()
    }

    /// Logits of the cumulative of one channel at the points `x` (`[1, 1, points]`).
    fn channel_logits(&self, ch: usize, x: Tensor<3>) -> Vec<f32> {
        let mut x = x;
        let pick = |p: &Param<Tensor<3>>| {
            let [_, a, b] = p.val().dims();
            p.val().slice([ch..ch + 1, 0..a, 0..b])
        };
        for k in 0..self.matrices.len() {
            x = softplus(pick(&self.matrices[k]), 1.0).matmul(x) + pick(&self.biases[k]);
            if let Some(f) = self.factors.get(k) {
                x = x.clone() + pick(f).tanh() * x.tanh();
            }
        }
        x.into_data().try_to_vec::<f32>().unwrap_or_default()
    }
}

/// One channel's coding table, as stored beside the weights.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelTable {
    /// Values are coded as their rounded offset from the median.
    pub median: f32,
    /// Lowest and highest offset inside the table.
    pub lo: i32,
    pub hi: i32,
    /// Frequencies of `lo..=hi`, then of the escape.
    pub frequencies: Vec<u32>,
}

/// Integer frequencies of `masses` summing to `2^bits`, every one at least 1.
fn to_frequencies(masses: &[f64], bits: u32) -> Result<Vec<u32>> {
    let counts: Vec<u64> = masses
        .iter()
        .map(|&m| (m * (1u64 << 40) as f64) as u64 + 1)
        .collect();
    Ok(tessera_entropy::model::scale_counts(&counts, 1 << bits)?)
}

fn param<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

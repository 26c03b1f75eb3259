//! Convolutional recurrent units: each has a 3×3 input convolution (which may stride, to
//! downsample in the encoder) and a hidden-state convolution, 1×1 here (Toderici et al. use
//! larger hidden kernels; 1×1 keeps a 16-iteration decode of a Kodak image within two seconds
//! on two cores).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use crate::layers::activation::{sigmoid, tanh};
use crate::layers::{conv, forward};

/// The kind of recurrent unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Convolutional LSTM (cell and hidden state).
    Lstm,
    /// Convolutional GRU.
    Gru,
    /// GRU with a residual path from the input (the paper's residual-GRU hybrid).
    ResidualGru,
    /// Associative LSTM (Danihelka et al. 2016, as Toderici et al. use it): a complex-valued
    /// cell state written and read through learned keys, each half of the channels holding
    /// the real and the imaginary parts.
    AssociativeLstm,
}

impl Unit {
    /// All units, for ablations.
    pub const ALL: [Unit; 4] = [Unit::Lstm, Unit::Gru, Unit::ResidualGru, Unit::AssociativeLstm];

    /// Name used in variants (`gru`, `lstm`, `resgru`, `alstm`).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Lstm => "lstm",
            Unit::Gru => "gru",
            Unit::ResidualGru => "resgru",
            Unit::AssociativeLstm => "alstm",
        }
    }

    /// Parses [`Unit::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Unit::ALL.into_iter().find(|u| u.name() == s)
    }

    /// Output channels of the input and hidden convolutions of a unit with `n` hidden
    /// channels.
    fn conv_outputs(self, n: usize) -> (usize, usize) {
        match self {
            Unit::Lstm => (4 * n, 4 * n),
            Unit::Gru => (3 * n, 3 * n),
            // The hidden state feeds the residual path from the input alone.
            Unit::ResidualGru => (4 * n, 3 * n),
            // Three real gates over n/2 complex numbers, then three complex values (the
            // update and the write and read keys).
            Unit::AssociativeLstm => (3 * n / 2 + 3 * n, 3 * n / 2 + 3 * n),
        }
    }

    /// Whether the unit carries a cell state beside `h`.
    fn has_cell(self) -> bool {
        matches!(self, Unit::Lstm | Unit::AssociativeLstm)
    }

    fn code(self) -> usize {
        self as usize
    }

    fn from_code(c: usize) -> Self {
        Unit::ALL[c.min(Unit::ALL.len() - 1)]
    }
}

/// The state a unit carries between iterations.
#[derive(Clone, Debug)]
pub struct State {
    pub h: Tensor<4>,
    /// The LSTMs' cell state (`None` for the GRUs).
    pub c: Option<Tensor<4>>,
}

/// One convolutional recurrent layer.
#[derive(Module, Debug)]
pub struct Cell {
    input: Conv2d,
    hidden: Conv2d,
    unit: usize,
    channels: usize,
    stride: usize,
}

impl Cell {
    /// A unit reading `cin` channels (with stride `stride`) into `channels` hidden channels.
    /// The associative LSTM needs an even `channels` (pairs of real and imaginary parts).
    pub fn new(unit: Unit, cin: usize, channels: usize, stride: usize, device: &Device) -> Self {
        let (input, hidden) = unit.conv_outputs(channels);
        Self {
            input: conv(cin, input, 3, stride, device),
            hidden: conv(channels, hidden, 1, 1, device),
            unit: unit.code(),
            channels,
            stride,
        }
    }

    /// The zero state for an input of `h`×`w` pixels and batch `b`.
    pub fn zero_state(&self, b: usize, h: usize, w: usize, device: &Device) -> State {
        let (h, w) = (h.div_ceil(self.stride), w.div_ceil(self.stride));
        let z = Tensor::<4>::zeros([b, self.channels, h, w], device);
        State {
            h: z.clone(),
            c: Unit::from_code(self.unit).has_cell().then_some(z),
        }
    }

    /// One step: returns the new state (its `h` is the layer's output).
    pub fn forward(&self, x: Tensor<4>, state: State) -> State {
        let n = self.channels;
        let xi = forward(&self.input, x);
        let hh = forward(&self.hidden, state.h.clone());
        let part = |t: &Tensor<4>, i: usize| channels(t, i * n..(i + 1) * n);
        match Unit::from_code(self.unit) {
            Unit::Lstm => {
                let g = xi + hh;
                let (i, f, o, u) = (
                    sigmoid(part(&g, 0)),
                    sigmoid(part(&g, 1)),
                    sigmoid(part(&g, 2)),
                    tanh(part(&g, 3)),
                );
                let c = f * state.c.unwrap_or_else(|| state.h.zeros_like()) + i * u;
                State {
                    h: o * tanh(c.clone()),
                    c: Some(c),
                }
            }
            Unit::AssociativeLstm => {
                let g = xi + hh;
                let m = n / 2;
                // Each real gate acts on a complex number's two parts alike.
                let gate = |i: usize| {
                    let v = sigmoid(channels(&g, i * m..(i + 1) * m));
                    Tensor::cat(vec![v.clone(), v], 1)
                };
                let (i, f, o) = (gate(0), gate(1), gate(2));
                let complex = |k: usize| bound(channels(&g, 3 * m + k * n..3 * m + (k + 1) * n));
                let (u, write, read) = (complex(0), complex(1), complex(2));
                let c = f * state.c.unwrap_or_else(|| state.h.zeros_like()) + complex_mul(write, i * u);
                State {
                    h: o * bound(complex_mul(read, c.clone())),
                    c: Some(c),
                }
            }
            unit => {
                let z = sigmoid(part(&xi, 0) + part(&hh, 0));
                let r = sigmoid(part(&xi, 1) + part(&hh, 1));
                let cand = tanh(part(&xi, 2) + r * part(&hh, 2));
                let mut h = (z.clone().neg() + 1.0) * cand + z * state.h;
                if unit == Unit::ResidualGru {
                    h = h + part(&xi, 3);
                }
                State { h, c: None }
            }
        }
    }
}

/// Channels `range` of `t`.
fn channels(t: &Tensor<4>, range: std::ops::Range<usize>) -> Tensor<4> {
    let [b, _, h, w] = t.dims();
    t.clone().slice([0..b, range, 0..h, 0..w])
}

/// The real and imaginary halves of a complex tensor's channels.
fn halves(z: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let m = z.dims()[1] / 2;
    (channels(&z, 0..m), channels(&z, m..2 * m))
}

/// Element-wise complex product of two tensors of complex channels.
fn complex_mul(a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
    let ((ar, ai), (br, bi)) = (halves(a), halves(b));
    let re = ar.clone() * br.clone() - ai.clone() * bi.clone();
    let im = ar * bi + ai * br;
    Tensor::cat(vec![re, im], 1)
}

/// Scales each complex number down to a modulus of at most 1 (the associative LSTM's
/// `bound`). The small constant keeps the square root's gradient finite at 0, where the
/// clamp gives it no weight anyway.
fn bound(z: Tensor<4>) -> Tensor<4> {
    let (re, im) = halves(z.clone());
    let modulus = (re.clone().square() + im.square() + 1e-12).sqrt().clamp_min(1.0);
    z / Tensor::cat(vec![modulus.clone(), modulus], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// One pixel of complex channels `[re…, im…]`.
    fn pixel(values: &[f32]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values.to_vec(), [1, values.len(), 1, 1]), &Device::flex())
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn complex_products_and_bounds() {
        // (1 + 2i)(3 + 4i) = −5 + 10i and (2 − i)·i = 1 + 2i.
        let p = values(complex_mul(pixel(&[1.0, 2.0, 2.0, -1.0]), pixel(&[3.0, 0.0, 4.0, 1.0])));
        assert_eq!(p, [-5.0, 1.0, 10.0, 2.0]);
        // 3 + 4i has modulus 5 and becomes 0.6 + 0.8i; 0.3 + 0.4i stays.
        let b = values(bound(pixel(&[3.0, 0.3, 4.0, 0.4])));
        for (got, want) in b.iter().zip([0.6, 0.3, 0.8, 0.4]) {
            assert!((got - want).abs() < 1e-6, "{b:?}");
        }
    }

    #[test]
    fn unit_codes_round_trip() {
        for u in Unit::ALL {
            assert_eq!(Unit::from_code(u.code()), u);
            assert_eq!(Unit::from_name(u.name()), Some(u));
        }
    }
}

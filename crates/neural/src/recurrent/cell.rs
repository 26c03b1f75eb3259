//! Convolutional recurrent units: each has a 3×3 input convolution (which may stride, to
//! downsample in the encoder) and a hidden-state convolution, 1×1 here (Toderici et al. use
//! larger hidden kernels; 1×1 keeps a 16-iteration decode of a Kodak image within two seconds
//! on two cores).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::layers::conv;

/// The kind of recurrent unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Convolutional LSTM (cell and hidden state).
    Lstm,
    /// Convolutional GRU.
    Gru,
    /// GRU with a residual path from the input (the paper's residual-GRU hybrid).
    ResidualGru,
}

impl Unit {
    /// All units, for ablations.
    pub const ALL: [Unit; 3] = [Unit::Lstm, Unit::Gru, Unit::ResidualGru];

    /// Name used in variants (`gru`, `lstm`, `resgru`).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Lstm => "lstm",
            Unit::Gru => "gru",
            Unit::ResidualGru => "resgru",
        }
    }

    /// Parses [`Unit::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Unit::ALL.into_iter().find(|u| u.name() == s)
    }

    /// Gate groups the input convolution produces.
    fn gates(self) -> usize {
        match self {
            Unit::Lstm | Unit::ResidualGru => 4,
            Unit::Gru => 3,
        }
    }

    fn code(self) -> usize {
        self as usize
    }

    fn from_code(c: usize) -> Self {
        match c {
            0 => Unit::Lstm,
            1 => Unit::Gru,
            _ => Unit::ResidualGru,
        }
    }
}

/// The state a unit carries between iterations.
#[derive(Clone, Debug)]
pub struct State {
    pub h: Tensor<4>,
    /// The LSTM's cell state (`None` for the GRUs).
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
    pub fn new(unit: Unit, cin: usize, channels: usize, stride: usize, device: &Device) -> Self {
        let hidden_gates = if unit == Unit::Lstm { 4 } else { 3 };
        Self {
            input: conv(cin, unit.gates() * channels, 3, stride, device),
            hidden: conv(channels, hidden_gates * channels, 1, 1, device),
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
            c: (Unit::from_code(self.unit) == Unit::Lstm).then_some(z),
        }
    }

    /// One step: returns the new state (its `h` is the layer's output).
    pub fn forward(&self, x: Tensor<4>, state: State) -> State {
        let n = self.channels;
        let xi = self.input.forward(x);
        let hh = self.hidden.forward(state.h.clone());
        let part = |t: &Tensor<4>, i: usize| {
            let [b, _, h, w] = t.dims();
            t.clone().slice([0..b, i * n..(i + 1) * n, 0..h, 0..w])
        };
        match Unit::from_code(self.unit) {
            Unit::Lstm => {
                let g = xi + hh;
                let (i, f, o, u) = (
                    sigmoid(part(&g, 0)),
                    sigmoid(part(&g, 1)),
                    sigmoid(part(&g, 2)),
                    part(&g, 3).tanh(),
                );
                let c = f * state.c.unwrap_or_else(|| state.h.zeros_like()) + i * u;
                State {
                    h: o * c.clone().tanh(),
                    c: Some(c),
                }
            }
            unit => {
                let z = sigmoid(part(&xi, 0) + part(&hh, 0));
                let r = sigmoid(part(&xi, 1) + part(&hh, 1));
                let cand = (part(&xi, 2) + r * part(&hh, 2)).tanh();
                let mut h = (z.clone().neg() + 1.0) * cand + z * state.h;
                if unit == Unit::ResidualGru {
                    h = h + part(&xi, 3);
                }
                State { h, c: None }
            }
        }
    }
}

//! Probability models: integer cumulative frequency tables that drive the coders.
//!
//! A [`Model`] maps each symbol `s` to an interval `[cum(s), cum(s) + freq(s))` of
//! `0..total()`. The coder needs the interval of a symbol to encode it and the symbol whose
//! interval holds a given target to decode it. Adaptive models change after each symbol through
//! [`Model::update`]; encoder and decoder must call it in the same order.

mod adaptive;
mod context;
mod frequency;
mod quantized;

pub use adaptive::AdaptiveFrequency;
pub use context::ContextModel;
pub use frequency::{scale_counts, FrequencyTable};
pub use quantized::{erfc, exp, Distribution, GaussianScaleTable, QuantizedCdf};

use crate::Result;

/// The largest `total()` a model may have: the range coder keeps at least 2^48 of range, so this
/// leaves at least 2^24 of resolution for every unit of frequency.
pub const MAX_TOTAL: u32 = 1 << 24;

/// A probability model over the symbols `0..num_symbols()`.
pub trait Model {
    /// Sum of all frequencies; at most [`MAX_TOTAL`].
    fn total(&self) -> u32;
    /// Number of symbols.
    fn num_symbols(&self) -> usize;
    /// `(cumulative frequency, frequency)` of `symbol`; an error when the symbol is outside the
    /// model or has frequency zero.
    fn interval(&self, symbol: usize) -> Result<(u32, u32)>;
    /// The symbol whose interval holds `target` (`target < total()`), with its interval.
    fn find(&self, target: u32) -> (usize, u32, u32);
    /// Adapts the model after coding `symbol`. Static models do nothing.
    fn update(&mut self, _symbol: usize) {}
}

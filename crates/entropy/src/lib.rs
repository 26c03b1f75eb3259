//! `tessera-entropy` provides the entropy coders of Tessera, and nothing about images.
//!
//! - [`range`]: an integer range (arithmetic) coder with 64-bit state and byte-wise
//!   renormalisation. It codes symbols with any [`Model`] and single bits with adaptive
//!   [`BitModel`] context states, interleaved freely in one stream. Linear time, fixed state,
//!   output within a few millionths of a bit per symbol of the model's information content.
//! - [`model`]: probability models in integer arithmetic, so that every machine decodes the same.
//!
//! The coder is first in, first out: decode in the order you encoded.
//!
//! ```
//! use tessera_entropy::{model::FrequencyTable, range::{RangeEncoder, RangeDecoder}};
//! let model = FrequencyTable::from_counts(&[2, 7, 1]).unwrap();
//! let mut enc = RangeEncoder::new();
//! for &s in &[0, 1, 2, 1] { enc.encode(&model, s).unwrap(); }
//! let bytes = enc.finish();
//! let mut dec = RangeDecoder::new(&bytes);
//! let back: Vec<usize> = (0..4).map(|_| dec.decode(&model).unwrap()).collect();
//! assert_eq!(back, [0, 1, 2, 1]);
//! ```

pub mod binary;
pub mod bits;
pub mod error;
pub mod explain;
pub mod huffman;
pub mod integer;
pub mod mixing;
pub mod model;
pub mod pack;
pub mod range;
pub mod rans;

pub use binary::BitModel;
pub use error::{Error, Result};
pub use model::Model;

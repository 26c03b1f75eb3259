//! `tessera-lab` is Tessera's measurement lab: the [`dataset`]s (embedded Kodak and MNIST test
//! set, imported larger sets, a synthetic set of flat graphics), the external [`reference`]
//! codecs driven from PATH, the [`bench`] runner that measures every codec on every image at
//! every setting, the [`results`] JSON in CompressAI's layout, and the HTML [`report`].
//!
//! The lab never reaches into a codec: Tessera's codecs come in as `&[Box<dyn Codec>]` and go
//! through the same container path as the CLI, so every rate is real file bytes, and every
//! decoded image is judged by `tessera-metrics`.

pub mod bench;
pub mod dataset;
pub mod error;
pub mod reference;
pub mod report;
pub mod results;

pub use error::{Error, Result};

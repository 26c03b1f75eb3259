//! Layers shared by the learned codecs.

pub mod density;
pub mod gaussian;
pub mod gdn;

//! Learned photo codecs: analysis transform → quantisation → arithmetic coding → synthesis.

pub mod card;
pub mod codec;
pub mod context;
pub mod context_train;
pub mod data;
pub mod model;
pub mod refine;
pub mod train;
pub mod weights;

//! The progressive recurrent codec (Toderici et al. 2017): each iteration codes the remaining
//! residual into a fixed number of bits, so a file cut after any iteration still decodes.

pub mod bits;
pub mod cell;
pub mod codec;
pub mod model;
pub mod train;

//! `mnist-lossless`: a learned probability model over pixels driving the range coder.
//!
//! Each pixel's 256-way distribution comes from a small causal network (a masked convolution
//! over the pixels already coded above and to the left, a learned per-position bias, then
//! 1×1 layers), trained on the MNIST training set to minimise the code length. The coder
//! never runs the network through burn: [`net::Net`] evaluates it with plain `f32` arithmetic
//! in a fixed order and turns the logits into integer frequencies, so that the encoder and
//! the decoder see exactly the same probabilities on every machine.

pub mod codec;
pub mod model;
pub mod binned;
pub mod net;
pub mod train;

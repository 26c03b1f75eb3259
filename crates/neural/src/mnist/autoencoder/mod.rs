//! `mnist-ae`: lossy learned digit codecs. A small convolutional autoencoder maps a 28×28 digit
//! to a 7×7 latent with a few channels; the latent is rounded and range-coded with the integer
//! tables of a learned factorised prior stored beside the weights, and the synthesis transform
//! turns the decoded latent back into a digit.
//!
//! The rate–distortion models (`mnist-ae-q1`, `-q2`, …) are trained with additive uniform noise
//! standing in for rounding and the loss λ·255²·MSE + bits per pixel; the plain model
//! (`mnist-ae-plain`) is the comparison the learned prior is measured against: trained on MSE
//! with an L2 penalty on the latents and no rate term, rounded only when coding, with a prior
//! fitted afterwards-style on its detached latents so that it goes through the same coder.

pub mod codec;
pub mod model;
pub mod projection;
pub mod study;
pub mod train;

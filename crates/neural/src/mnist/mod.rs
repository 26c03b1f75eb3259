//! Learned codecs for sets of MNIST-like digits (28×28, 8-bit gray): the data they train on.

pub mod autoencoder;
pub mod data;
pub mod lossless;

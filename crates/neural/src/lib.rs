//! Learned codecs on burn's pure-Rust CPU backend: the photo models (factorised prior and
//! mean-scale hyperprior), the progressive recurrent codec, their training, and the codecs
//! that code their latents and bits with `tessera-entropy`.

pub mod checkpoint;
pub mod fixed;
pub mod layers;
pub mod mnist;
pub mod photo;
pub mod recurrent;
pub mod rng;

/// The learned codecs.
pub fn codecs() -> Vec<Box<dyn tessera_core::Codec>> {
    use photo::{codec::PhotoCodec, model::Kind};
    vec![
        Box::new(PhotoCodec::new(Kind::Factorized)),
        Box::new(PhotoCodec::new(Kind::Hyperprior)),
        Box::new(PhotoCodec::new(Kind::Checkerboard)),
        Box::new(recurrent::codec::RnnCodec),
        Box::new(mnist::lossless::codec::MnistLossless),
        Box::new(mnist::autoencoder::codec::MnistAe),
        Box::new(mnist::lossless::binned::MnistPixel),
    ]
}

//! `tessera-classic` provides the classical image codecs, each a [`Codec`] behind the `.tsr`
//! container: the lossless techniques (run-length, LZW, Huffman, predictive and
//! context-modelled coding, the reversible wavelet) and the lossy ones (DCT, the 9/7 wavelet
//! with embedded bit-plane coding, vector quantisation, fractal coding).

pub mod fractal;
pub mod lossless;
pub mod lossy;
pub mod planes;
pub mod vq;

use tessera_core::Codec;

/// Every classical codec, in the order `tessera codecs` lists them.
pub fn codecs() -> Vec<Box<dyn Codec>> {
    vec![
        Box::new(lossless::blend::Blend),
        Box::new(lossless::rle::Rle),
        Box::new(lossless::lzw::Lzw),
        Box::new(lossless::huffman::Huffman),
        Box::new(lossless::predictive::Predictive),
        Box::new(lossless::calic::Calic),
        Box::new(lossless::wavelet::Wavelet),
        Box::new(lossy::dct::Dct),
        Box::new(lossy::wavelet::WaveletLossy),
        Box::new(vq::Vq), Box::new(fractal::Fractal)]
}

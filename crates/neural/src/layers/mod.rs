//! Layers shared by the learned codecs.

pub mod density;
pub mod gaussian;
pub mod gdn;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::Device;

/// A `k`×`k` convolution with stride `stride` and "same" zero padding (`k/2` on each side).
pub fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}

/// Builds a model with burn's global generator (which its layer initialisers draw from)
/// seeded with `seed`, holding one lock so that no other model creation draws in between:
/// the same seed gives the same model.
pub fn seeded<T>(seed: u64, device: &Device, make: impl FnOnce() -> T) -> T {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    make()
}

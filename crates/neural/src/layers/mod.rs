//! Layers shared by the learned codecs.

pub mod activation;
pub mod density;
pub mod gaussian;
pub mod gdn;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, TensorData};

/// A `k`×`k` convolution with stride `stride` and "same" zero padding (`k/2` on each side).
pub fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}

/// `conv.forward(x)` for a layer made by [`conv`], up to rounding. At stride 1 it is computed as
/// one matrix product of the weights with the `k²` shifted copies of the padded input: the
/// backend's own convolution writes its output one channel-strided element at a time, which
/// took a sixth of a recurrent decode. Strided layers go to the backend.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, cin, h, w] = x.dims();
    let [cout, wcin, k, kw] = conv.weight.dims();
    if conv.stride != [1, 1] || k != kw || k % 2 == 0 || conv.groups != 1 || wcin != cin {
        return conv.forward(x);
    }
    let columns = if k == 1 {
        x.reshape([b, cin, h * w])
    } else if x.is_autodiff() {
        let p = k / 2;
        let padded = x.pad((p, p, p, p), PadMode::Constant(0.0));
        let shifted = (0..k * k)
            .map(|i| {
                let (dy, dx) = (i / k, i % k);
                padded.clone().slice([0..b, 0..cin, dy..dy + h, dx..dx + w]).reshape([b, cin, h * w])
            })
            .collect();
        Tensor::cat(shifted, 1)
    } else {
        shifted_copies(x, k)
    };
    // The columns run over (dy, dx, input channel); the weights over (input channel, dy, dx).
    let weight = conv.weight.val().permute([0, 2, 3, 1]).reshape([1, cout, k * k * cin]);
    let mut y = weight.matmul(columns);
    if let Some(bias) = &conv.bias {
        y = y + bias.val().reshape([1, cout, 1]);
    }
    y.reshape([b, cout, h, w])
}

/// The `k²` shifted copies of `x` (zero outside it) that [`forward`] multiplies, built in one
/// pass of row copies: at inference, where no gradient needs the tensor operations' graph.
fn shifted_copies(x: Tensor<4>, k: usize) -> Tensor<3> {
    let [b, cin, h, w] = x.dims();
    let device = x.device();
    let input = x.into_data().try_into_vec::<f32>().expect("the layers compute in f32");
    let (p, plane) = (k / 2, h * w);
    let mut out = vec![0f32; b * k * k * cin * plane];
    for (i, dst) in out.chunks_exact_mut(plane).enumerate() {
        // Copy `i` of the output runs over (batch, dy, dx, channel).
        let (c, shift, batch) = (i % cin, i / cin % (k * k), i / (cin * k * k));
        let (dy, dx) = (shift / k, shift % k);
        let src = &input[(batch * cin + c) * plane..][..plane];
        // Output column x reads input column x + dx − p, where that is inside the row.
        let (x0, x1) = (p.saturating_sub(dx), (w + p).saturating_sub(dx).min(w));
        for y in 0..h {
            let Some(sy) = (y + dy).checked_sub(p).filter(|&sy| sy < h) else { continue };
            if x0 < x1 {
                dst[y * w + x0..y * w + x1].copy_from_slice(&src[sy * w + x0 + dx - p..sy * w + x1 + dx - p]);
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [b, k * k * cin, plane]), &device)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_is_the_backends_convolution() {
        let device = Device::flex();
        let values: Vec<f32> = (0..2 * 5 * 6 * 9).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 5, 6, 9]), &device);
        for (k, stride, dims) in [(1, 1, [2, 7, 6, 9]), (3, 1, [2, 7, 6, 9]), (5, 1, [2, 7, 6, 9]), (3, 2, [2, 7, 3, 5])] {
            let layer = seeded(3, &device, || conv(5, 7, k, stride, &device));
            let (a, b) = (forward(&layer, x.clone()), layer.forward(x.clone()));
            assert_eq!(a.dims(), dims);
            let gap: f32 = (a - b).abs().max().into_scalar();
            assert!(gap < 1e-5, "{k}×{k}, stride {stride}: {gap}");
        }
        // With autodiff the copies are tensor operations, so that gradients flow.
        let tracked = x.clone().autodiff().require_grad();
        let layer = seeded(3, &device, || conv(5, 7, 3, 1, &device));
        let plain: f32 = (forward(&layer, x) - layer.forward(tracked.clone()).inner()).abs().max().into_scalar();
        assert!(plain < 1e-5, "{plain}");
        let grads = forward(&layer, tracked.clone()).sum().backward();
        assert!(tracked.grad(&grads).is_some());
    }
}

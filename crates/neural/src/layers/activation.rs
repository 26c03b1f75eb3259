//! `tanh` and the logistic sigmoid for the recurrent codec's gates. Training keeps burn's own
//! (differentiable) functions; at inference, where the backend evaluates them one element at a
//! time through the C library (about a quarter of a recurrent decode), they are computed here
//! instead with a rational approximation that the compiler vectorises, within a few units in
//! the last place of the exact values.

use burn::tensor::{Tensor, TensorData};

/// `tanh`, element-wise.
pub fn tanh<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    if t.is_autodiff() {
        return t.tanh();
    }
    map(t, tanh_f32)
}

/// The logistic sigmoid `1 / (1 + e^−x)`, element-wise: `(1 + tanh(x/2)) / 2` at inference.
pub fn sigmoid<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    if t.is_autodiff() {
        return burn::tensor::activation::sigmoid(t);
    }
    map(t, |x| 0.5 + 0.5 * tanh_f32(0.5 * x))
}

/// Applies `f` to every value of `t` in one pass over a contiguous copy.
fn map<const D: usize>(t: Tensor<D>, f: impl Fn(f32) -> f32) -> Tensor<D> {
    let device = t.device();
    let dims = t.dims();
    let mut values = t.into_data().try_into_vec::<f32>().expect("the recurrent model computes in f32");
    values.iter_mut().for_each(|v| *v = f(*v));
    Tensor::from_data(TensorData::new(values, dims), &device)
}

/// `tanh(x)` as an odd rational function of degree 13 over 6 (the minimax form Eigen uses for
/// its vectorised `tanh`), with `x` clamped where `tanh` is 1 in `f32`. Branch-free, so a loop of
/// it vectorises.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const ALPHA: [f32; 7] = [
        -2.760_768_5e-16,
        2.000_188e-13,
        -8.604_671_5e-11,
        5.122_297e-8,
        1.485_722_4e-5,
        6.372_619_3e-4,
        4.893_524_6e-3,
    ];
    const BETA: [f32; 4] = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525_2e-3];
    // `max` then `min` also turns NaN into a bound rather than passing it on; the network never
    // produces NaN from finite weights and inputs.
    let x = x.max(-CLAMP).min(CLAMP);
    let x2 = x * x;
    let p = ALPHA.iter().fold(0.0f32, |acc, &a| acc * x2 + a) * x;
    let q = BETA.iter().fold(0.0f32, |acc, &b| acc * x2 + b);
    p / q
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn tanh_stays_within_a_few_ulp_of_the_exact_value() {
        let mut worst = 0f32;
        for i in -2_000_000..=2_000_000 {
            let x = i as f32 * 1e-5;
            let (fast, exact) = (tanh_f32(x), x.tanh());
            worst = worst.max((fast - exact).abs() / exact.abs().max(1e-3));
        }
        assert!(worst < 1e-6, "relative error {worst}");
        for x in [10.0f32, 50.0, f32::MAX, f32::INFINITY] {
            assert_eq!(tanh_f32(x), 1.0, "{x}");
            assert_eq!(tanh_f32(-x), -1.0, "{x}");
        }
        assert_eq!(tanh_f32(0.0), 0.0);
    }

    #[test]
    fn the_tensor_functions_match_burns_own() {
        let device = Device::flex();
        let values: Vec<f32> = (0..600).map(|i| (i as f32 - 300.0) * 0.037).collect();
        let t = Tensor::<2>::from_data(TensorData::new(values, [20, 30]), &device);
        let close = |a: Tensor<2>, b: Tensor<2>| {
            let (a, b) = (a.into_data().try_into_vec::<f32>().unwrap(), b.into_data().try_into_vec::<f32>().unwrap());
            a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
        };
        // A strided view, as the gates are slices of the convolutions' channels.
        let view = t.clone().slice([2..18, 5..25]);
        assert!(close(tanh(view.clone()), view.clone().tanh()) < 1e-6);
        assert!(close(sigmoid(view.clone()), burn::tensor::activation::sigmoid(view)) < 1e-6);
        assert_eq!(tanh(t.clone()).dims(), [20, 30]);
        // With autodiff, burn's own functions, so that gradients flow.
        let tracked = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 4], [2, 2]), &device.autodiff()).require_grad();
        let grads = sigmoid(tanh(tracked.clone())).sum().backward();
        assert!(tracked.grad(&grads).is_some());
    }
}

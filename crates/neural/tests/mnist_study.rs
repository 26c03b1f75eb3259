//! The mnist-ae latent study: PCA and t-SNE maps, pixel fidelity, rounding as the coder
//! rounds, and a small study of the shipped models written to a folder.

use tessera_neural::mnist::autoencoder::projection::{self, TsneParams};
use tessera_neural::mnist::autoencoder::study::{self, Options};
use tessera_neural::mnist::data::{self, PIXELS};
use tessera_neural::rng::Rng;

/// `n` points of `dim` values spread much more along the first coordinate than the second,
/// and hardly at all along the others.
fn stretched(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        for d in 0..dim {
            let scale = match d {
                0 => 10.0,
                1 => 3.0,
                _ => 0.1,
            };
            out.push((rng.uniform() - 0.5) * scale + d as f32);
        }
    }
    out
}

#[test]
fn pca_finds_the_axes_in_order_of_variance() {
    let (n, dim) = (400, 6);
    let data = stretched(n, dim, 1);
    let p = projection::pca(&data, dim, 2).unwrap();
    assert_eq!(p.axes.len(), 2);
    assert!(p.axes.iter().all(|a| a.len() == dim));
    assert!(p.variances[0] >= p.variances[1], "{:?}", p.variances);
    // The first axis is the first coordinate, the second the second.
    assert!(
        p.axes[0][0].abs() > 0.99 && p.axes[1][1].abs() > 0.99,
        "{:?}",
        p.axes
    );
    let explained = p.explained();
    assert!(
        explained[0] > 0.8 && explained.iter().sum::<f64>() <= 1.0 + 1e-9,
        "{explained:?}"
    );
    let xy = p.project(&data).unwrap();
    assert_eq!(xy.len(), 2 * n);
    // Projections are centred.
    assert!(xy.iter().step_by(2).sum::<f64>().abs() / (n as f64) < 1e-6);
}

#[test]
fn pca_and_tsne_refuse_bad_input() {
    assert!(projection::pca(&[1.0; 10], 3, 2).is_err());
    assert!(projection::pca(&[1.0, f32::NAN, 2.0, 3.0], 2, 1).is_err());
    assert!(projection::pca(&[1.0; 8], 2, 3).is_err());
    let few = stretched(10, 4, 2);
    assert!(
        projection::tsne(
            &few,
            4,
            TsneParams {
                perplexity: 30.0,
                ..TsneParams::default()
            }
        )
        .is_err()
    );
}

#[test]
fn tsne_runs_and_is_deterministic() {
    let data = stretched(60, 5, 3);
    let p = TsneParams {
        perplexity: 5.0,
        epochs: 150,
        theta: 0.5,
    };
    let a = projection::tsne(&data, 5, p).unwrap();
    let b = projection::tsne(&data, 5, p).unwrap();
    assert_eq!(a.len(), 120);
    assert!(a.iter().all(|v| v.is_finite()));
    assert_eq!(a, b);
    // The map is not collapsed onto its starting point.
    let spread = a
        .iter()
        .step_by(2)
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(spread.1 - spread.0 > 1e-2, "{spread:?}");
}

#[test]
fn fidelity_counts_exact_pixels_and_digits() {
    let a: Vec<u8> = (0..2 * PIXELS).map(|i| (i % 251) as u8).collect();
    let same = study::fidelity(&a, &a).unwrap();
    assert_eq!(
        (
            same.psnr,
            same.exact_pixels,
            same.exact_digits,
            same.max_error
        ),
        (None, 1.0, 1.0, 0)
    );
    let mut b = a.clone();
    b[PIXELS + 3] = b[PIXELS + 3].wrapping_add(16);
    let f = study::fidelity(&a, &b).unwrap();
    assert_eq!(f.exact_digits, 0.5);
    assert!((f.exact_pixels - (1.0 - 1.0 / (2 * PIXELS) as f64)).abs() < 1e-12);
    assert!(f.psnr.unwrap() > 40.0 && f.max_error == 16);
    assert!(study::fidelity(&a, &a[..PIXELS]).is_err());
    assert!(study::fidelity(&[], &[]).is_err());
}

#[test]
fn latents_are_rounded_around_the_channel_medians() {
    // Two channels of 49 positions; medians 0.25 and -0.5.
    let y: Vec<f32> = (0..98).map(|i| if i < 49 { 1.0 } else { 0.2 }).collect();
    let r = study::round_latents(&y, &[0.25, -0.5]);
    assert_eq!(r[0], 1.25);
    assert_eq!(r[60], 0.5);
}

#[test]
fn a_small_study_of_the_shipped_models_is_written_to_a_folder() {
    let digits = data::embedded_test_set().unwrap().take(300);
    let opts = Options {
        tsne_digits: 120,
        tsne: TsneParams {
            perplexity: 10.0,
            epochs: 150,
            theta: 0.5,
        },
        ..Options::default()
    };
    let outcome = study::run(&digits, "MNIST test set (first 300)", &opts).unwrap();
    let s = &outcome.study;
    assert_eq!(s.digits, 300);
    let plain = s
        .models
        .iter()
        .find(|m| m.plain)
        .expect("the plain model ships");
    assert_eq!(
        plain.latent_values, PIXELS,
        "the plain latent is as large as a digit"
    );
    assert!(
        plain.unquantised.psnr.unwrap() > plain.rounded.psnr.unwrap(),
        "{:?} / {:?}",
        plain.unquantised,
        plain.rounded
    );
    for m in &s.models {
        for f in [&m.unquantised, &m.rounded] {
            assert!((0.0..=1.0).contains(&f.exact_pixels) && (0.0..=1.0).contains(&f.exact_digits));
        }
        assert!(m.payload_bpp > 0.0);
    }
    assert_eq!(outcome.maps.pca.len(), 600);
    assert_eq!(outcome.maps.pca_rounded.len(), 600);
    assert_eq!(outcome.maps.tsne.len(), 240);
    assert!(s.pca_explained[0] >= s.pca_explained[1]);
    // Rows: the originals, every model rounded, and the plain model unquantised.
    assert_eq!(outcome.maps.reconstructions.rows, s.models.len() + 2);

    let dir = tempfile::tempdir().unwrap();
    let pictures = study::write_grids(&outcome, dir.path()).unwrap();
    for p in &pictures {
        let img = tessera_core::io::decode_image(&std::fs::read(dir.path().join(&p.file)).unwrap())
            .unwrap();
        assert!(img.width() > 28 && img.height() > 28);
    }
    let json = study::write_json(s, dir.path()).unwrap();
    let back: study::Study = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(back.models.len(), s.models.len());

    let unlabelled = data::Digits {
        pixels: digits.pixels.clone(),
        labels: None,
    };
    assert!(study::run(&unlabelled, "x", &opts).is_err());
    assert!(
        study::run(
            &digits,
            "x",
            &Options {
                picture_model: "no-such-model".into(),
                ..opts
            }
        )
        .is_err()
    );
}

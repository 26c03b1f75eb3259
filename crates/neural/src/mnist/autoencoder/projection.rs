//! Two-dimensional maps of latent vectors: principal components (an eigendecomposition of
//! the covariance with nalgebra) and Barnes-Hut t-SNE (bhtsne), seeded from the principal
//! components so that the same vectors always give the same map.

use nalgebra::{DMatrix, SymmetricEigen};
use tessera_core::{Error, Result};

/// Principal axes of a set of vectors.
#[derive(Clone, Debug)]
pub struct Pca {
    /// The mean vector.
    pub mean: Vec<f64>,
    /// The first axes, unit length, largest variance first.
    pub axes: Vec<Vec<f64>>,
    /// Variance along each axis.
    pub variances: Vec<f64>,
    /// Variance of the set over every dimension (the sum of all eigenvalues).
    pub total_variance: f64,
}

/// Vectors of `dim` values, one after the other, checked for shape and finiteness.
fn rows(data: &[f32], dim: usize) -> Result<usize> {
    if dim == 0 || data.len() % dim != 0 {
        return Err(Error::InvalidParam(format!(
            "{} values do not make vectors of {dim}",
            data.len()
        )));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidParam("a latent value is not finite".into()));
    }
    Ok(data.len() / dim)
}

/// The first `k` principal axes of `data` (vectors of `dim` values).
pub fn pca(data: &[f32], dim: usize, k: usize) -> Result<Pca> {
    let n = rows(data, dim)?;
    if n < 2 || k == 0 || k > dim {
        return Err(Error::InvalidParam(format!(
            "PCA of {n} vectors of {dim} values onto {k} axes"
        )));
    }
    let mut mean = vec![0f64; dim];
    for v in data.chunks(dim) {
        for (m, &x) in mean.iter_mut().zip(v) {
            *m += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred = DMatrix::<f64>::from_fn(n, dim, |r, c| f64::from(data[r * dim + c]) - mean[c]);
    let covariance = centred.tr_mul(&centred) / (n - 1) as f64;
    let eigen = SymmetricEigen::new(covariance);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let axes = order[..k]
        .iter()
        .map(|&i| {
            let mut axis: Vec<f64> = eigen.eigenvectors.column(i).iter().copied().collect();
            // An eigenvector's sign is arbitrary: fix it (largest entry positive) so that the
            // same data always gives the same picture.
            let big = axis
                .iter()
                .copied()
                .fold(0f64, |a, v| if v.abs() > a.abs() { v } else { a });
            if big < 0.0 {
                axis.iter_mut().for_each(|v| *v = -*v);
            }
            axis
        })
        .collect();
    Ok(Pca {
        mean,
        axes,
        variances: order[..k]
            .iter()
            .map(|&i| eigen.eigenvalues[i].max(0.0))
            .collect(),
        total_variance: eigen.eigenvalues.iter().map(|v| v.max(0.0)).sum(),
    })
}

impl Pca {
    /// Coordinates of `data` on the axes, `axes.len()` values per vector.
    pub fn project(&self, data: &[f32]) -> Result<Vec<f64>> {
        let dim = self.mean.len();
        rows(data, dim)?;
        let mut out = Vec::with_capacity(data.len() / dim * self.axes.len());
        for v in data.chunks(dim) {
            for axis in &self.axes {
                out.push(
                    v.iter()
                        .zip(&self.mean)
                        .zip(axis)
                        .map(|((&x, m), a)| (f64::from(x) - m) * a)
                        .sum(),
                );
            }
        }
        Ok(out)
    }

    /// Share of the total variance along each axis.
    pub fn explained(&self) -> Vec<f64> {
        self.variances
            .iter()
            .map(|v| {
                if self.total_variance > 0.0 {
                    v / self.total_variance
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// How a t-SNE map is fitted.
#[derive(Clone, Copy, Debug)]
pub struct TsneParams {
    pub perplexity: f32,
    pub epochs: usize,
    /// Barnes-Hut accuracy (0.5 is the usual trade).
    pub theta: f32,
}

impl Default for TsneParams {
    fn default() -> Self {
        TsneParams {
            perplexity: 30.0,
            epochs: 750,
            theta: 0.5,
        }
    }
}

/// A 2-D t-SNE map of `data` (vectors of `dim` values), two coordinates per vector. The map
/// starts from the first two principal components scaled to a standard deviation of 1e-4
/// (the usual informative start) and runs on one thread, so it is deterministic.
pub fn tsne(data: &[f32], dim: usize, p: TsneParams) -> Result<Vec<f64>> {
    let n = rows(data, dim)?;
    // bhtsne needs 3·perplexity neighbours for every point.
    if !(p.perplexity >= 1.0) || (n as f32) < 3.0 * p.perplexity + 2.0 {
        return Err(Error::InvalidParam(format!(
            "t-SNE with perplexity {} needs at least {} vectors, not {n}",
            p.perplexity,
            (3.0 * p.perplexity.max(1.0) + 2.0).ceil()
        )));
    }
    if p.epochs == 0 || !(p.theta > 0.0) {
        return Err(Error::InvalidParam(
            "t-SNE needs at least one epoch and θ > 0".into(),
        ));
    }
    let start = pca(data, dim, 2)?.project(data)?;
    let sd = (start.iter().step_by(2).map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    let scale = if sd > 0.0 { 1e-4 / sd } else { 0.0 };
    let init: Vec<f32> = start.iter().map(|v| (v * scale) as f32).collect();
    let samples: Vec<&[f32]> = data.chunks(dim).collect();
    // bhtsne sums gradients over rayon's threads, whose order varies from run to run; one
    // thread makes the map the same on every run and every machine.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::InvalidParam(format!("t-SNE thread pool: {e}")))?;
    let embedding = one_thread.install(|| {
        let mut fit = bhtsne::tSNE::<f32, &[f32], 2>::new(&samples);
        fit.perplexity(p.perplexity)
            .epochs(p.epochs)
            .initial_embedding(init)
            .barnes_hut(p.theta, |a, b| {
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum::<f32>()
                    .sqrt()
            });
        fit.embedding()
    });
    let map: Vec<f64> = embedding.iter().map(|&v| f64::from(v)).collect();
    if map.len() != 2 * n || map.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidParam(
            "t-SNE did not converge to a finite map".into(),
        ));
    }
    Ok(map)
}

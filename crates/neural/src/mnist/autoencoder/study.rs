//! What the shipped `mnist-ae` models do with their latents, measured on a labelled digit set
//! (the embedded MNIST test set): how close each reconstruction comes with the latents as the
//! analysis gives them and as the coder sends them (rounded around the channel medians), and
//! pictures of the latent space — a 2-D PCA before and after rounding, a t-SNE map of a
//! subset, decoded interpolations between digits, and every model's reconstructions.
//!
//! The plain model's latent holds as many values (16×7×7 = 784) as a digit has pixels, yet it
//! is no identity: the transforms are a learned bottleneck trained for mean squared error, not
//! for exactness, and rounding to integers latents that never saw noise in training moves each
//! of them by up to half a step. The numbers here show both losses apart.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tessera_core::io::{Format, encode_image, write_atomic};
use tessera_core::{Error, Image, Result};

use super::codec::{self, Loaded};
use super::model::{LATENT_POSITIONS, Shape};
use super::projection::{self, TsneParams};
use crate::mnist::data::{Digits, PIXELS, SIDE};
use crate::photo::weights;

/// What the study looks at.
#[derive(Clone, Debug)]
pub struct Options {
    /// The model whose latents the pictures show (`mnist-ae-q3`, `mnist-ae-plain`).
    pub picture_model: String,
    /// Digits in the t-SNE map (the first of the set).
    pub tsne_digits: usize,
    pub tsne: TsneParams,
    /// Decoded points between the two ends of an interpolation.
    pub interpolation_steps: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            picture_model: "mnist-ae-q3".into(),
            tsne_digits: 2000,
            tsne: TsneParams::default(),
            interpolation_steps: 8,
        }
    }
}

/// How close a reconstruction (8-bit pixels) comes to the original.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Fidelity {
    /// PSNR over the whole set, from its mean squared error; none when every pixel is exact.
    pub psnr: Option<f64>,
    /// Share of pixels reconstructed exactly.
    pub exact_pixels: f64,
    /// Share of digits whose every pixel is exact.
    pub exact_digits: f64,
    /// Largest pixel error.
    pub max_error: u8,
    /// Mean absolute pixel error (0–255 scale).
    pub mean_abs_error: f64,
}

/// One training-curve point, from the run's `train.csv`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CurvePoint {
    pub step: u64,
    pub loss: f64,
    pub bpp: f64,
    pub psnr: f64,
}

/// One model's numbers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelStudy {
    pub name: String,
    /// Trained with MSE and an L2 penalty only (no rate term, no noise).
    pub plain: bool,
    pub lambda: f64,
    pub shape: Shape,
    /// Latent values per digit.
    pub latent_values: usize,
    /// Layers of the analysis and the synthesis transforms.
    pub analysis: String,
    pub synthesis: String,
    pub weight_bytes: usize,
    pub steps: u64,
    pub training_seconds: f64,
    /// Latents as the analysis gives them, decoded and rounded to 8-bit pixels.
    pub unquantised: Fidelity,
    /// Latents rounded around the channel medians (what the coder sends).
    pub rounded: Fidelity,
    /// Rate of the range-coded rounded latents, payload only (no container header).
    pub payload_bpp: f64,
    /// Mean absolute change rounding makes to a latent value.
    pub rounding_shift: f64,
    /// The training run named by the model card, and its curve when that run is present.
    pub run: Option<String>,
    pub curve: Vec<CurvePoint>,
}

/// A picture the study wrote.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Picture {
    /// File name inside the study folder.
    pub file: String,
    pub title: String,
    pub caption: String,
}

/// The study's numbers (`study.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Study {
    pub dataset: String,
    pub digits: usize,
    pub models: Vec<ModelStudy>,
    /// The model whose latents the pictures show.
    pub picture_model: String,
    /// Share of the latent variance on the first two principal axes (fitted on the
    /// unquantised latents), and of the rounded latents' variance on the same axes.
    pub pca_explained: Vec<f64>,
    pub pca_explained_rounded: Vec<f64>,
    pub tsne_digits: usize,
    pub tsne_perplexity: f32,
    pub tsne_epochs: usize,
    pub tsne_seconds: f64,
    /// Labels of the interpolated pairs.
    pub interpolation_pairs: Vec<(u8, u8)>,
    /// Rows of the reconstruction grid, top to bottom.
    pub reconstruction_rows: Vec<String>,
    pub pictures: Vec<Picture>,
    pub seconds: f64,
}

/// A grid of digits, one 28×28 cell each.
#[derive(Clone, Debug)]
pub struct Grid {
    pub rows: usize,
    pub columns: usize,
    /// Cells row by row, `PIXELS` each.
    pub cells: Vec<u8>,
}

/// Everything the pictures are drawn from.
#[derive(Clone, Debug)]
pub struct Maps {
    /// Label of every digit of the set.
    pub labels: Vec<u8>,
    /// PCA coordinates (x, y per digit) of the unquantised and of the rounded latents.
    pub pca: Vec<f64>,
    pub pca_rounded: Vec<f64>,
    /// t-SNE coordinates of the first `tsne_digits` digits.
    pub tsne: Vec<f64>,
    pub interpolation: Grid,
    pub reconstructions: Grid,
}

/// The study and what its pictures are drawn from.
pub struct Outcome {
    pub study: Study,
    pub maps: Maps,
}

/// The shipped models: the rate ladder, then the plain model.
pub fn shipped_models() -> Result<Vec<(String, Loaded)>> {
    let names = (1..=codec::MAX_QUALITY)
        .map(codec::model_name)
        .chain(std::iter::once(codec::model_name(0)));
    let mut out = Vec::new();
    for name in names {
        if let Ok(bytes) = weights::find(&name) {
            out.push((name.clone(), codec::load_bytes(&name, &bytes)?));
        }
    }
    if out.is_empty() {
        return Err(Error::Unsupported(
            "no mnist-ae model files found (models/mnist-ae-*.safetensors)".into(),
        ));
    }
    Ok(out)
}

/// Compares decoded digits with the originals, pixel by pixel.
pub fn fidelity(original: &[u8], decoded: &[u8]) -> Result<Fidelity> {
    if original.is_empty() || original.len() != decoded.len() || original.len() % PIXELS != 0 {
        return Err(Error::InvalidParam(format!(
            "comparing {} pixels with {} (whole digits of {PIXELS} needed)",
            original.len(),
            decoded.len()
        )));
    }
    let (mut se, mut abs, mut exact, mut max) = (0f64, 0f64, 0usize, 0u8);
    let mut exact_digits = 0usize;
    for (a, b) in original.chunks(PIXELS).zip(decoded.chunks(PIXELS)) {
        let mut all = true;
        for (&x, &y) in a.iter().zip(b) {
            let d = x.abs_diff(y);
            se += f64::from(d) * f64::from(d);
            abs += f64::from(d);
            max = max.max(d);
            if d == 0 {
                exact += 1;
            } else {
                all = false;
            }
        }
        exact_digits += usize::from(all);
    }
    let n = original.len() as f64;
    let mse = se / n;
    Ok(Fidelity {
        psnr: (mse > 0.0).then(|| 10.0 * (255.0 * 255.0 / mse).log10()),
        exact_pixels: exact as f64 / n,
        exact_digits: exact_digits as f64 / (n / PIXELS as f64),
        max_error: max,
        mean_abs_error: abs / n,
    })
}

/// Latents rounded as the coder rounds them: to the integer grid around each channel's median
/// (channel `c` of a digit is values `c·49 .. (c+1)·49`).
pub fn round_latents(y: &[f32], medians: &[f32]) -> Vec<f32> {
    let m = medians.len().max(1);
    y.iter()
        .enumerate()
        .map(|(i, &v)| {
            let med = medians
                .get((i / LATENT_POSITIONS) % m)
                .copied()
                .unwrap_or(0.0);
            (v - med).round() + med
        })
        .collect()
}

/// The analysis and synthesis layers of a shape, as the model cards give them.
pub fn architecture(s: Shape) -> (String, String) {
    let (n, m) = (s.n, s.m);
    (
        format!(
            "conv 5×5/2 1→{n}, GDN, conv 5×5/2 {n}→{n}, GDN, conv 3×3 {n}→{m} (28×28 → {m}×7×7)"
        ),
        format!("conv 3×3 {m}→{n}, IGDN, deconv 5×5/2 {n}→{n}, IGDN, deconv 5×5/2 {n}→1"),
    )
}

/// The training run a model card names (`--dir runs/...` in its command) and the curve of
/// that run when its `train.csv` is present here.
fn training_curve(name: &str) -> (Option<String>, Vec<CurvePoint>) {
    for dir in weights::model_dirs() {
        let Ok(card) = std::fs::read_to_string(dir.join(format!("{name}.md"))) else {
            continue;
        };
        let run = card
            .lines()
            .filter(|l| l.contains("tessera train mnist-ae"))
            .find_map(|l| {
                l.split_whitespace()
                    .skip_while(|w| *w != "--dir")
                    .nth(1)
                    .map(str::to_string)
            });
        let Some(run) = run else {
            return (None, Vec::new());
        };
        // Run folders are named from the repository root, which holds `models/`.
        let candidates = [PathBuf::from(&run), dir.join("..").join(&run)];
        let curve = candidates
            .iter()
            .find_map(|p| std::fs::read_to_string(p.join("train.csv")).ok())
            .map(|t| parse_curve(&t));
        return (Some(run), curve.unwrap_or_default());
    }
    (None, Vec::new())
}

/// `step,loss,bpp,psnr,...` rows; malformed rows are skipped.
fn parse_curve(text: &str) -> Vec<CurvePoint> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some(CurvePoint {
                step: f.first()?.trim().parse().ok()?,
                loss: f.get(1)?.trim().parse().ok()?,
                bpp: f.get(2)?.trim().parse().ok()?,
                psnr: f.get(3)?.trim().parse().ok()?,
            })
        })
        .collect()
}

/// The first digit of each label 0–9 (labels missing from the set are skipped).
fn one_per_label(labels: &[u8]) -> Vec<usize> {
    (0..10u8)
        .filter_map(|l| labels.iter().position(|&x| x == l))
        .collect()
}

/// Runs the study of every shipped model on `digits`, which must carry labels.
pub fn run(digits: &Digits, dataset: &str, opts: &Options) -> Result<Outcome> {
    let t0 = Instant::now();
    let labels = digits.labels.clone().ok_or_else(|| {
        Error::InvalidParam(
            "the study colours digits by label: the set needs its label file".into(),
        )
    })?;
    if digits.is_empty() {
        return Err(Error::InvalidParam("an empty set of digits".into()));
    }
    let models = shipped_models()?;
    let picture = models
        .iter()
        .position(|(n, _)| *n == opts.picture_model)
        .ok_or_else(|| {
            Error::InvalidParam(format!(
                "no model '{}' to draw the latents of (present: {})",
                opts.picture_model,
                models
                    .iter()
                    .map(|m| m.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let examples = one_per_label(&labels);
    let example_set = Digits {
        pixels: examples
            .iter()
            .flat_map(|&i| digits.digit(i).to_vec())
            .collect(),
        labels: None,
    };
    let mut grid = example_set.pixels.clone();
    let mut rows = vec!["original".to_string()];
    let mut results = Vec::new();
    let mut picture_latents = (Vec::new(), Vec::new());
    for (i, (name, m)) in models.iter().enumerate() {
        let ch = m.meta.shape.m;
        let y = codec::latents(&m.model, digits);
        let unquantised = fidelity(&digits.pixels, &codec::synthesise(&m.model, &y, ch).pixels)?;
        let medians: Vec<f32> = m.meta.tables.iter().map(|t| t.median).collect();
        let y_hat = round_latents(&y, &medians);
        let rounded = fidelity(
            &digits.pixels,
            &codec::synthesise(&m.model, &y_hat, ch).pixels,
        )?;
        let shift = y
            .iter()
            .zip(&y_hat)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / y.len().max(1) as f64;
        let q = if m.meta.plain {
            0
        } else {
            name.rsplit_once("-q")
                .and_then(|(_, q)| q.parse().ok())
                .unwrap_or(0)
        };
        let payload = codec::encode_with(m, digits, q)?.payload.len();
        let per = ch * LATENT_POSITIONS;
        let example_latents: Vec<f32> = examples
            .iter()
            .flat_map(|&k| y_hat[k * per..(k + 1) * per].to_vec())
            .collect();
        grid.extend(codec::synthesise(&m.model, &example_latents, ch).pixels);
        rows.push(format!("{name} (rounded latents)"));
        if m.meta.plain {
            let raw: Vec<f32> = examples
                .iter()
                .flat_map(|&k| y[k * per..(k + 1) * per].to_vec())
                .collect();
            grid.extend(codec::synthesise(&m.model, &raw, ch).pixels);
            rows.push(format!("{name} (unquantised latents)"));
        }
        let (analysis, synthesis) = architecture(m.meta.shape);
        let (run, curve) = training_curve(name);
        results.push(ModelStudy {
            name: name.clone(),
            plain: m.meta.plain,
            lambda: m.meta.lambda,
            shape: m.meta.shape,
            latent_values: per,
            analysis,
            synthesis,
            weight_bytes: weights::find(name).map(|b| b.len()).unwrap_or(0),
            steps: m.meta.step,
            training_seconds: m.meta.seconds,
            unquantised,
            rounded,
            payload_bpp: payload as f64 * 8.0 / digits.pixels.len() as f64,
            rounding_shift: shift,
            run,
            curve,
        });
        if i == picture {
            picture_latents = (y, y_hat);
        }
    }
    let (y, y_hat) = picture_latents;
    let pm = &models[picture].1;
    let dim = pm.meta.shape.m * LATENT_POSITIONS;
    let pca = projection::pca(&y, dim, 2)?;
    let pca_xy = pca.project(&y)?;
    let pca_rounded = pca.project(&y_hat)?;
    let rounded_total: f64 = projection::pca(&y_hat, dim, 1)?.total_variance;
    let spread = |xy: &[f64], axis: usize| {
        let v: Vec<f64> = xy.iter().skip(axis).step_by(2).copied().collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64
    };
    let pca_explained_rounded = (0..2)
        .map(|a| {
            if rounded_total > 0.0 {
                spread(&pca_rounded, a) / rounded_total
            } else {
                0.0
            }
        })
        .collect();

    let n_tsne = opts.tsne_digits.min(digits.len());
    let t = Instant::now();
    let tsne = projection::tsne(&y[..n_tsne * dim], dim, opts.tsne)?;
    let tsne_seconds = t.elapsed().as_secs_f64();

    let pairs: Vec<(u8, u8)> = [(0u8, 6u8), (1, 7), (3, 8), (4, 9), (2, 5)]
        .into_iter()
        .filter(|(a, b)| labels.contains(a) && labels.contains(b))
        .collect();
    let interpolation = interpolate(pm, digits, &labels, &y, &pairs, opts.interpolation_steps)?;

    let study = Study {
        dataset: dataset.to_string(),
        digits: digits.len(),
        models: results,
        picture_model: opts.picture_model.clone(),
        pca_explained: pca.explained(),
        pca_explained_rounded,
        tsne_digits: n_tsne,
        tsne_perplexity: opts.tsne.perplexity,
        tsne_epochs: opts.tsne.epochs,
        tsne_seconds,
        interpolation_pairs: pairs,
        reconstruction_rows: rows.clone(),
        pictures: Vec::new(),
        seconds: t0.elapsed().as_secs_f64(),
    };
    let maps = Maps {
        labels,
        pca: pca_xy,
        pca_rounded,
        tsne,
        interpolation,
        reconstructions: Grid {
            rows: rows.len(),
            columns: examples.len(),
            cells: grid,
        },
    };
    Ok(Outcome { study, maps })
}

/// Rows of decoded digits on the straight line between two digits' latents, the originals at
/// both ends.
fn interpolate(
    m: &Loaded,
    digits: &Digits,
    labels: &[u8],
    y: &[f32],
    pairs: &[(u8, u8)],
    steps: usize,
) -> Result<Grid> {
    if steps < 2 {
        return Err(Error::InvalidParam(
            "an interpolation needs at least 2 steps".into(),
        ));
    }
    let ch = m.meta.shape.m;
    let per = ch * LATENT_POSITIONS;
    let mut cells = Vec::new();
    for &(a, b) in pairs {
        let (Some(i), Some(j)) = (
            labels.iter().position(|&l| l == a),
            labels.iter().position(|&l| l == b),
        ) else {
            continue;
        };
        let (ya, yb) = (&y[i * per..(i + 1) * per], &y[j * per..(j + 1) * per]);
        let mut line = Vec::with_capacity(steps * per);
        for s in 0..steps {
            let t = s as f32 / (steps - 1) as f32;
            line.extend(ya.iter().zip(yb).map(|(p, q)| p + t * (q - p)));
        }
        cells.extend_from_slice(digits.digit(i));
        cells.extend(codec::synthesise(&m.model, &line, ch).pixels);
        cells.extend_from_slice(digits.digit(j));
    }
    Ok(Grid {
        rows: cells.len() / (PIXELS * (steps + 2)),
        columns: steps + 2,
        cells,
    })
}

impl Grid {
    /// The grid as a gray image: cells `scale` times enlarged (nearest neighbour), 2-pixel
    /// gray gutters.
    pub fn to_image(&self, scale: usize) -> Result<Image> {
        const GUTTER: usize = 2;
        if self.rows == 0
            || self.columns == 0
            || self.cells.len() != self.rows * self.columns * PIXELS
            || scale == 0
        {
            return Err(Error::InvalidParam(
                "an empty or ragged grid of digits".into(),
            ));
        }
        let cell = SIDE * scale;
        let (w, h) = (
            self.columns * (cell + GUTTER) + GUTTER,
            self.rows * (cell + GUTTER) + GUTTER,
        );
        let mut px = vec![128u8; w * h];
        for r in 0..self.rows {
            for c in 0..self.columns {
                let digit = &self.cells[(r * self.columns + c) * PIXELS..][..PIXELS];
                let (x0, y0) = (GUTTER + c * (cell + GUTTER), GUTTER + r * (cell + GUTTER));
                for y in 0..cell {
                    for x in 0..cell {
                        px[(y0 + y) * w + x0 + x] = digit[(y / scale) * SIDE + x / scale];
                    }
                }
            }
        }
        Image::from_u8(w as u32, h as u32, 1, &px)
    }
}

/// Writes the two digit grids as PNG files into `dir`; returns what they show.
pub fn write_grids(outcome: &Outcome, dir: &Path) -> Result<Vec<Picture>> {
    std::fs::create_dir_all(dir)?;
    let s = &outcome.study;
    let pairs: Vec<String> = s
        .interpolation_pairs
        .iter()
        .map(|(a, b)| format!("{a}→{b}"))
        .collect();
    let grids = [
        (
            &outcome.maps.reconstructions,
            "reconstructions.png",
            "Reconstructions at every rate",
            format!(
                "One test digit of each label (columns). Rows, top to bottom: {}.",
                s.reconstruction_rows.join("; ")
            ),
        ),
        (
            &outcome.maps.interpolation,
            "interpolation.png",
            "Interpolation in latent space",
            format!(
                "{}: straight lines between two test digits' unquantised latents ({}), decoded; the originals at both ends.",
                s.picture_model,
                pairs.join(", ")
            ),
        ),
    ];
    let mut out = Vec::new();
    for (grid, file, title, caption) in grids {
        let png = encode_image(&grid.to_image(3)?, Format::Png)?;
        write_atomic(&dir.join(file), &png, true)?;
        out.push(Picture {
            file: file.into(),
            title: title.into(),
            caption,
        });
    }
    Ok(out)
}

/// Writes `study.json` into `dir`.
pub fn write_json(study: &Study, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("study.json");
    let text = serde_json::to_string_pretty(study)
        .map_err(|e| Error::InvalidParam(format!("study.json: {e}")))?;
    write_atomic(&path, text.as_bytes(), true)?;
    Ok(path)
}

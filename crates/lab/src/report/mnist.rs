//! The MNIST section of the report, from a `tessera study mnist` folder (its `study.json` and
//! pictures) and/or a bench run on the `mnist` dataset: the dataset, the `mnist-ae`
//! architectures, training curves when the runs are present, the rate–fidelity table and curve
//! of every codec in the bench run, the lossless table of the same run, the latent pictures,
//! and what the numbers say about the ratio/fidelity trade-off.
//!
//! The lab does not depend on the neural crate: `study.json` is read here through the fields
//! the page uses. The scatter plots the study writes are drawn here too (plotters lives here).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use serde::Deserialize;

use super::plot::{Series, Style, line_chart};
use super::{CSS, JS, esc, figure, fmt};
use crate::results::{CodecResults, RunDir};
use crate::{Error, Result};

/// Where the MNIST section's material is.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// A folder written by `tessera study mnist --out DIR`.
    pub study: Option<PathBuf>,
    /// A bench run on the `mnist` dataset (`tessera bench --dataset mnist --out DIR`).
    pub run: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Fidelity {
    psnr: Option<f64>,
    exact_pixels: f64,
    exact_digits: f64,
}

#[derive(Deserialize)]
struct Shape {
    m: usize,
}

#[derive(Deserialize)]
struct CurvePoint {
    step: u64,
    psnr: f64,
}

#[derive(Deserialize)]
struct ModelStudy {
    name: String,
    plain: bool,
    lambda: f64,
    shape: Shape,
    latent_values: usize,
    analysis: String,
    synthesis: String,
    weight_bytes: usize,
    steps: u64,
    training_seconds: f64,
    unquantised: Fidelity,
    rounded: Fidelity,
    payload_bpp: f64,
    run: Option<String>,
    #[serde(default)]
    curve: Vec<CurvePoint>,
}

#[derive(Deserialize)]
struct Picture {
    file: String,
    title: String,
    caption: String,
}

/// The parts of `study.json` the page shows.
#[derive(Deserialize)]
struct Study {
    dataset: String,
    digits: usize,
    models: Vec<ModelStudy>,
    picture_model: String,
    pca_explained: Vec<f64>,
    tsne_digits: usize,
    pictures: Vec<Picture>,
}

/// Ten label colours that stay apart (Tableau 10).
const LABEL_COLOURS: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

fn font() -> std::result::Result<(), String> {
    static SET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *SET.get_or_init(|| {
        register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../../assets/fonts/DejaVuSans.ttf"),
        )
        .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".into())
    }
}

/// A PNG scatter plot of 2-D points (`xy`: x, y per point) coloured by their label (0–9), with
/// a legend of the labels. `width` × `height` pixels.
pub fn scatter_png(
    title: &str,
    xy: &[f64],
    labels: &[u8],
    width: u32,
    height: u32,
) -> std::result::Result<Vec<u8>, String> {
    if xy.len() != 2 * labels.len() || labels.is_empty() {
        return Err(format!(
            "{} coordinates for {} labels",
            xy.len(),
            labels.len()
        ));
    }
    if width < 200 || height < 200 {
        return Err("a scatter plot needs at least 200×200 pixels".into());
    }
    font()?;
    let pts: Vec<(f64, f64, u8)> = xy
        .chunks(2)
        .zip(labels)
        .filter(|(p, _)| p[0].is_finite() && p[1].is_finite())
        .map(|(p, &l)| (p[0], p[1], l))
        .collect();
    if pts.is_empty() {
        return Err("no finite point to draw".into());
    }
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = |lo: f64, hi: f64| {
        let d = (hi - lo).max(1e-9) * 0.04;
        (lo - d, hi + d)
    };
    let (xr, yr) = (pad(x0, x1), pad(y0, y1));
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        area.fill(&WHITE).map_err(e)?;
        let legend_w = (width / 8).max(60);
        let (plot, legend) = area.split_horizontally(width - legend_w);
        let s = f64::from(height) / 800.0;
        let px = |v: f64| (v * s).round().max(1.0) as i32;
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, px(30.0)).into_font().color(&INK))
            .margin(px(14.0))
            .x_label_area_size(px(40.0))
            .y_label_area_size(px(60.0))
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .label_style((FONT, px(20.0)).into_font().color(&INK))
            .light_line_style(WHITE.stroke_width(0))
            .x_labels(6)
            .y_labels(6)
            .draw()
            .map_err(e)?;
        let r = px(if pts.len() > 3000 { 2.0 } else { 3.0 });
        chart
            .draw_series(pts.iter().map(|&(x, y, l)| {
                Circle::new(
                    (x, y),
                    r,
                    LABEL_COLOURS[usize::from(l) % 10].mix(0.7).filled(),
                )
            }))
            .map_err(e)?;
        for l in 0..10u8 {
            let y = px(80.0 + f64::from(l) * 44.0);
            let x = px(14.0);
            legend
                .draw(&Circle::new(
                    (x, y),
                    px(9.0),
                    LABEL_COLOURS[usize::from(l)].filled(),
                ))
                .map_err(e)?;
            legend
                .draw(&Text::new(
                    l.to_string(),
                    (x + px(18.0), y - px(12.0)),
                    (FONT, px(24.0)).into_font().color(&INK),
                ))
                .map_err(e)?;
        }
        area.present().map_err(e)?;
    }
    let image = tessera_core::Image::from_u8(width, height, 3, &rgb).map_err(|e| e.to_string())?;
    tessera_core::io::encode_image(&image, tessera_core::io::Format::Png).map_err(|e| e.to_string())
}

fn read_study(dir: &Path) -> Result<Study> {
    let path = dir.join("study.json");
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Json(path.display().to_string(), e.to_string()))
}

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// The MNIST section: reads the inputs, copies the study's pictures to `out/mnist/`, draws its
/// charts into `plots` (as `mnist-*.png`).
pub fn section(inputs: &Inputs, out: &Path, plots: &Path) -> Result<String> {
    let study = inputs.study.as_deref().map(read_study).transpose()?;
    let bench = match &inputs.run {
        Some(r) => {
            let run = RunDir::new(r);
            Some((run.read_info()?, run.read_results()?))
        }
        None => None,
    };
    let mut html = String::from("<section id=\"mnist\"><h2>MNIST</h2>");
    let dataset = match (&study, &bench) {
        (Some(s), _) => format!("{}, {} digits of 28×28 8-bit gray", s.dataset, s.digits),
        (None, Some((info, _))) => format!("dataset {}", info.dataset),
        (None, None) => return Ok(String::new()),
    };
    let _ = write!(
        html,
        "<p class=\"sub\">{}{}</p>",
        esc(&dataset),
        bench.as_ref().map_or(String::new(), |(info, r)| format!(
            " · bench run <code>{}</code> ({} codecs)",
            esc(&info.command),
            r.len()
        ))
    );
    if let Some(s) = &study {
        html.push_str(&architecture(s));
        html.push_str(&curves(s, plots)?);
    }
    if let Some((_, results)) = &bench {
        html.push_str(&rate_fidelity(results, plots)?);
        html.push_str(&lossless(results));
    }
    if let (Some(s), Some(dir)) = (&study, &inputs.study) {
        html.push_str(&identity(s));
        html.push_str(&pictures(s, dir, out)?);
    }
    html.push_str(&discussion(
        study.as_ref(),
        bench.as_ref().map(|b| b.1.as_slice()),
    ));
    html.push_str("</section>");
    Ok(html)
}

fn architecture(s: &Study) -> String {
    let mut rows = String::new();
    for m in &s.models {
        let objective = if m.plain {
            format!(
                "MSE (λ = {}) + L2 on the latents, no rate term, no noise",
                m.lambda
            )
        } else {
            format!("λ·255²·MSE + bpp, λ = {}", m.lambda)
        };
        let _ = write!(
            rows,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}×7×7 = {}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            esc(&m.name),
            esc(&objective),
            m.shape.m,
            m.latent_values,
            m.weight_bytes,
            m.steps,
            m.run
                .as_deref()
                .map_or("—".into(), |r| format!("<code>{}</code>", esc(r))),
            m.training_seconds / 60.0
        );
    }
    let first = s.models.first();
    format!(
        "<h3>Models</h3><table><thead><tr><th>model</th><th>objective</th><th>latent</th><th>weight bytes</th><th>steps</th><th>run</th><th>training min</th></tr></thead><tbody>{rows}</tbody></table>\
         <p class=\"note\">Analysis: {}. Synthesis: {}. Latents rounded around each channel's median and range-coded with the learned factorised prior's integer tables.</p>",
        esc(first.map_or("", |m| &m.analysis)),
        esc(first.map_or("", |m| &m.synthesis))
    )
}

fn curves(s: &Study, plots: &Path) -> Result<String> {
    let series: Vec<Series> = s
        .models
        .iter()
        .filter(|m| !m.curve.is_empty())
        .map(|m| Series {
            name: m.name.clone(),
            points: m.curve.iter().map(|p| (p.step as f64, p.psnr)).collect(),
            style: Style::Ours,
        })
        .collect();
    if series.is_empty() {
        return Ok("<p class=\"note\">Training curves: the runs the model cards name are not in this checkout (their <code>train.csv</code> is drawn here when they are).</p>".into());
    }
    figure(
        line_chart("mnist-ae training", "step", "training PSNR (dB)", &series),
        plots,
        "mnist-training",
        "Training PSNR (noisy latents for the rate–distortion models, unquantised for the plain one), mean of 50 steps.",
    )
}

fn rate_fidelity(results: &[CodecResults], plots: &Path) -> Result<String> {
    let lossy: Vec<&CodecResults> = results.iter().filter(|r| !r.lossless).collect();
    if lossy.is_empty() {
        return Ok(String::new());
    }
    let series: Vec<Series> = lossy
        .iter()
        .map(|r| Series {
            name: r.name.clone(),
            points: super::points(r, |p| p.psnr_rgb),
            style: if r.kind == "ours" {
                Style::Ours
            } else {
                Style::Reference
            },
        })
        .collect();
    let mut rows = String::new();
    for r in &lossy {
        let mut pts: Vec<_> = r.points.iter().collect();
        pts.sort_by(|a, b| a.bpp.total_cmp(&b.bpp));
        for p in pts {
            let _ = write!(
                rows,
                "<tr><td><b>{}</b>{}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.name),
                if r.kind == "ours" {
                    " <span class=\"tag\">Tessera</span>"
                } else {
                    ""
                },
                esc(&p.setting),
                p.bpp,
                if p.bpp > 0.0 { 8.0 / p.bpp } else { f64::NAN },
                fmt(p.psnr_rgb, 2),
                fmt(p.ms_ssim_rgb, 4)
            );
        }
    }
    Ok(format!(
        "<h3>Rate and fidelity</h3><div class=\"charts\">{}</div>\
         <table><thead><tr><th>codec</th><th>setting</th><th>bpp</th><th>ratio</th><th>PSNR (dB)</th><th>MS-SSIM</th></tr></thead><tbody>{rows}</tbody></table>\
         <p class=\"note\">Rates are whole files (8 × bytes / pixels); ratio = 8 / bpp against the 8-bit original.</p>",
        figure(
            line_chart(
                "MNIST: PSNR against rate",
                "bits per pixel",
                "PSNR (dB)",
                &series
            ),
            plots,
            "mnist-psnr",
            "PSNR against rate on MNIST. Solid: Tessera; dashed: reference codecs."
        )?
    ))
}

fn lossless(results: &[CodecResults]) -> String {
    let mut rows: Vec<(&CodecResults, f64, bool)> = results
        .iter()
        .filter(|r| r.lossless)
        .filter_map(|r| r.points.first().map(|p| (r, p.bpp, p.exact)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let body: String = rows
        .iter()
        .map(|(r, bpp, exact)| {
            format!(
                "<tr><td><b>{}</b></td><td>{bpp:.4}</td><td>{:.2}</td><td>{}</td></tr>",
                esc(&r.name),
                8.0 / bpp,
                if *exact {
                    "yes"
                } else {
                    "<b class=\"bad\">NO</b>"
                }
            )
        })
        .collect();
    format!(
        "<h3>Lossless</h3><table><thead><tr><th>codec</th><th>bits per pixel</th><th>ratio</th><th>bit-exact</th></tr></thead><tbody>{body}</tbody></table>"
    )
}

fn identity(s: &Study) -> String {
    let mut rows = String::new();
    for m in &s.models {
        let _ = write!(
            rows,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td></tr>",
            esc(&m.name),
            m.latent_values,
            fmt(m.unquantised.psnr, 2),
            pct(m.unquantised.exact_pixels),
            pct(m.unquantised.exact_digits),
            fmt(m.rounded.psnr, 2),
            pct(m.rounded.exact_pixels),
            pct(m.rounded.exact_digits),
            m.payload_bpp
        );
    }
    format!(
        "<h3>Is a latent as large as the input lossless?</h3>\
         <table><thead><tr><th>model</th><th>latent values</th><th>PSNR unquantised</th><th>exact pixels</th><th>exact digits</th><th>PSNR rounded</th><th>exact pixels</th><th>exact digits</th><th>payload bpp</th></tr></thead><tbody>{rows}</tbody></table>\
         <p class=\"note\">Reconstructions rounded to 8-bit pixels; PSNR over the whole set. Unquantised: the analysis output decoded as it is. Rounded: latents rounded around the channel medians, what the coder sends (payload bpp: the range-coded latents without the container header).</p>"
    )
}

fn pictures(s: &Study, dir: &Path, out: &Path) -> Result<String> {
    let dest = out.join("mnist");
    std::fs::create_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    let mut html = format!(
        "<h3>Latent space</h3><p class=\"lead\">Latents of <b>{}</b>; PCA share of variance on the first two axes: {}. t-SNE on the first {} digits.</p><div class=\"charts\">",
        esc(&s.picture_model),
        s.pca_explained
            .iter()
            .map(|v| pct(*v))
            .collect::<Vec<_>>()
            .join(", "),
        s.tsne_digits
    );
    for p in &s.pictures {
        // Only plain file names: a study.json cannot make the report read or write elsewhere.
        if p.file.contains(['/', '\\']) || p.file.starts_with('.') {
            return Err(Error::Invalid(format!("study picture name '{}'", p.file)));
        }
        let from = dir.join(&p.file);
        std::fs::copy(&from, dest.join(&p.file)).map_err(|e| Error::io(&from, e))?;
        let _ = write!(
            html,
            "<figure><img class=\"mnist\" src=\"mnist/{0}\" alt=\"{1}\"><figcaption><b>{1}</b>. {2} <a href=\"mnist/{0}\">PNG</a></figcaption></figure>",
            esc(&p.file),
            esc(&p.title),
            esc(&p.caption)
        );
    }
    html.push_str("</div>");
    Ok(html)
}

fn discussion(study: Option<&Study>, results: Option<&[CodecResults]>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = study {
        if let Some(p) = s.models.iter().find(|m| m.plain) {
            parts.push(format!(
                "The plain model's latent holds {} values per digit, as many as the digit has pixels, yet it is no identity: unquantised it reaches {} dB with {} of pixels and {} of digits exact, and with its latents rounded as the coder sends them {} dB ({} of pixels, {} of digits). Its transforms are a learned bottleneck trained for mean squared error, not for exactness, and latents that never saw rounding noise in training lose most of their detail to it.",
                p.latent_values,
                fmt(p.unquantised.psnr, 2),
                pct(p.unquantised.exact_pixels),
                pct(p.unquantised.exact_digits),
                fmt(p.rounded.psnr, 2),
                pct(p.rounded.exact_pixels),
                pct(p.rounded.exact_digits)
            ));
        }
        let ladder: Vec<&ModelStudy> = s.models.iter().filter(|m| !m.plain).collect();
        if let (Some(lo), Some(hi)) = (ladder.first(), ladder.last()) {
            let drops: Vec<f64> = ladder
                .iter()
                .filter_map(|m| Some(m.unquantised.psnr? - m.rounded.psnr?))
                .collect();
            let (dmin, dmax) = drops
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &d| (a.min(d), b.max(d)));
            let plain_drop = s
                .models
                .iter()
                .find(|m| m.plain)
                .and_then(|p| Some(p.unquantised.psnr? - p.rounded.psnr?));
            parts.push(format!(
                "Along the rate ladder, {} at {:.3} bpp (ratio {:.0}:1) reaches {} dB, {} at {:.3} bpp (ratio {:.1}:1) {} dB. Rounding costs the rate–distortion models {} dB, trained as they were with noise standing in for it{}; {}.",
                esc(&lo.name),
                lo.payload_bpp,
                8.0 / lo.payload_bpp,
                fmt(lo.rounded.psnr, 2),
                esc(&hi.name),
                hi.payload_bpp,
                8.0 / hi.payload_bpp,
                fmt(hi.rounded.psnr, 2),
                if drops.is_empty() { "—".to_string() } else { format!("{dmin:.1}–{dmax:.1}") },
                plain_drop.map_or(String::new(), |d| format!(", against {d:.1} dB for the plain model")),
                match ladder.iter().map(|m| m.rounded.exact_digits).fold(0.0, f64::max) {
                    e if e > 0.0 => format!("at most {} of digits come back exact", pct(e)),
                    _ => "no rung gives back a single digit exactly".into(),
                }
            ));
        }
    }
    if let Some(results) = results {
        if let Some(best) = results
            .iter()
            .filter(|r| r.lossless)
            .filter_map(|r| r.points.first().map(|p| (r, p.bpp)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
        {
            parts.push(format!(
                "Exact digits cost {:.3} bpp with the best lossless codec of the run ({}, ratio {:.1}:1): every lossy rung below that rate trades fidelity for ratio.",
                best.1,
                esc(&best.0.name),
                8.0 / best.1
            ));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "<h3>Ratio and fidelity</h3>{}",
        parts
            .iter()
            .map(|p| format!("<p>{p}</p>"))
            .collect::<String>()
    )
}

/// A page of its own holding only the MNIST section (`out/index.html`).
pub fn write_page(inputs: &Inputs, out: &Path) -> Result<PathBuf> {
    if inputs.study.is_none() && inputs.run.is_none() {
        return Err(Error::Invalid(
            "an MNIST report needs a study folder or an MNIST bench run".into(),
        ));
    }
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let body = format!(
        "<header><h1>Tessera lab report — MNIST</h1></header>{}",
        section(inputs, out, &plots)?
    );
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Tessera lab report — MNIST</title><style>{CSS}{MNIST_CSS}</style></head><body>{body}<script>{JS}</script></body></html>"
    );
    let path = out.join("index.html");
    tessera_core::io::write_atomic(&path, page.as_bytes(), true)?;
    Ok(path)
}

/// Pictures of digits stay sharp when the page scales them.
pub(super) const MNIST_CSS: &str =
    "img.mnist{width:100%;height:auto;image-rendering:pixelated;border:1px solid var(--line)}";

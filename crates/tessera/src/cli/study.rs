//! `study`: what the learned digit codecs do with their latents, as numbers (`study.json`) and
//! pictures (PNG) in one folder that `tessera report --mnist-study DIR` shows.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use tessera_neural::mnist::autoencoder::projection::TsneParams;
use tessera_neural::mnist::autoencoder::study::{self, Options, Outcome, Picture};
use tessera_neural::mnist::data;

#[derive(Subcommand)]
pub enum Command {
    /// Measure and draw the latents of a family of learned models.
    Study {
        #[command(subcommand)]
        what: What,
    },
}

#[derive(Subcommand)]
pub enum What {
    /// The mnist-ae models on the MNIST test set: fidelity with unquantised and rounded latents
    /// (PSNR, exact pixels, exact digits), PCA and t-SNE maps, interpolations, reconstructions.
    Mnist {
        /// Folder for study.json and the PNG pictures.
        #[arg(long)]
        out: PathBuf,
        /// The model whose latents the maps and interpolations show.
        #[arg(long, default_value = "mnist-ae-q3")]
        model: String,
        /// Study the first N digits only (default: the whole set).
        #[arg(long)]
        digits: Option<usize>,
        /// Digits in the t-SNE map (the first of the set).
        #[arg(long, default_value_t = 2000)]
        tsne_digits: usize,
        #[arg(long, default_value_t = 750)]
        tsne_epochs: usize,
        #[arg(long, default_value_t = 30.0)]
        perplexity: f32,
        /// A folder with MNIST's t10k files (images and labels, gzip or not) instead of the
        /// embedded test set.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Replace a study already in the folder.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: Command) -> Result<()> {
    let Command::Study {
        what:
            What::Mnist {
                out,
                model,
                digits,
                tsne_digits,
                tsne_epochs,
                perplexity,
                data,
                force,
            },
    } = cmd;
    if out.join("study.json").exists() && !force {
        bail!(
            "{} already holds a study (--force replaces it)",
            out.display()
        );
    }
    let (set, mut name) = match &data {
        Some(dir) => (
            data::load_split(dir, "t10k")?,
            format!("MNIST test set from {}", dir.display()),
        ),
        None => (data::embedded_test_set()?, "MNIST test set".to_string()),
    };
    let set = match digits {
        Some(0) => bail!("--digits must be positive"),
        Some(n) if n < set.len() => {
            name = format!("{name} (first {n} digits)");
            set.take(n)
        }
        _ => set,
    };
    let opts = Options {
        picture_model: model,
        tsne_digits,
        tsne: TsneParams {
            perplexity,
            epochs: tsne_epochs,
            ..TsneParams::default()
        },
        ..Options::default()
    };
    let mut outcome = study::run(&set, &name, &opts)?;
    let mut pictures = study::write_grids(&outcome, &out)?;
    pictures.extend(draw_maps(&outcome, &out)?);
    outcome.study.pictures = pictures;
    let path = study::write_json(&outcome.study, &out)?;
    print_table(&outcome);
    eprintln!(
        "study written to {} ({:.1} s)",
        path.display(),
        outcome.study.seconds
    );
    Ok(())
}

/// The PCA and t-SNE scatter plots, drawn with the lab's plotting.
fn draw_maps(o: &Outcome, out: &Path) -> Result<Vec<Picture>> {
    let s = &o.study;
    let m = &o.maps;
    let explained = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.1}%", 100.0 * x))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let maps = [
        (
            "pca.png",
            "PCA of the latents",
            &m.pca,
            &m.labels[..],
            format!(
                "{}: unquantised latents of all {} digits on their first two principal axes ({} of the variance).",
                s.picture_model,
                s.digits,
                explained(&s.pca_explained)
            ),
        ),
        (
            "pca-rounded.png",
            "PCA of the rounded latents",
            &m.pca_rounded,
            &m.labels[..],
            format!(
                "{}: the latents rounded as the coder sends them, on the same axes ({} of their variance).",
                s.picture_model,
                explained(&s.pca_explained_rounded)
            ),
        ),
        (
            "tsne.png",
            "t-SNE of the latents",
            &m.tsne,
            &m.labels[..s.tsne_digits],
            format!(
                "{}: Barnes-Hut t-SNE of the first {} digits' unquantised latents (perplexity {}, {} epochs, started from the PCA map; {:.1} s).",
                s.picture_model, s.tsne_digits, s.tsne_perplexity, s.tsne_epochs, s.tsne_seconds
            ),
        ),
    ];
    let mut pictures = Vec::new();
    for (file, title, xy, labels, caption) in maps {
        let png = tessera_lab::report::mnist::scatter_png(title, xy, labels, 1000, 800)
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        tessera_core::io::write_atomic(&out.join(file), &png, true)
            .with_context(|| format!("writing {file}"))?;
        pictures.push(Picture {
            file: file.into(),
            title: title.into(),
            caption,
        });
    }
    Ok(pictures)
}

fn print_table(o: &Outcome) {
    let psnr = |v: Option<f64>| v.map_or("exact".to_string(), |p| format!("{p:.2}"));
    println!(
        "{:<16} {:>8} {:>10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>8}",
        "model",
        "latent",
        "PSNR unq",
        "px exact",
        "dig exact",
        "PSNR rnd",
        "px exact",
        "dig exact",
        "bpp"
    );
    for m in &o.study.models {
        println!(
            "{:<16} {:>8} {:>10} {:>8.2}% {:>8.2}% {:>10} {:>8.2}% {:>8.2}% {:>8.4}",
            m.name,
            m.latent_values,
            psnr(m.unquantised.psnr),
            100.0 * m.unquantised.exact_pixels,
            100.0 * m.unquantised.exact_digits,
            psnr(m.rounded.psnr),
            100.0 * m.rounded.exact_pixels,
            100.0 * m.rounded.exact_digits,
            m.payload_bpp
        );
    }
}

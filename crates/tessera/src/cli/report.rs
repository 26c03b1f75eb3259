//! `report`: the HTML page of a bench run; with no run given, benches the embedded Kodak
//! images first (resumable), so one command goes from a fresh clone to a report.

use std::path::PathBuf;
use std::process::Command as Process;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use tessera_lab::report::{self, Options};
use tessera_lab::results::RunDir;

/// Images of the default run: enough for curves with a spread, short enough to wait for.
const DEFAULT_IMAGES: &str = "4";
const DEFAULT_RUN: &str = "runs/report-kodak";
const DEFAULT_STUDY: &str = "runs/study-mnist";

#[derive(Subcommand)]
pub enum Command {
    /// Write an HTML report of a bench run (default: bench 4 Kodak images with every codec first).
    Report {
        /// A run directory made by `tessera bench --out DIR`.
        #[arg(long)]
        run: Option<PathBuf>,
        /// Where to write index.html and its images.
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// Anchors for the BD tables, the first present is used.
        #[arg(long, default_value = "x265,cjpeg", value_delimiter = ',')]
        anchor: Vec<String>,
        /// Rate at which reconstructions are shown side by side, bits per pixel.
        #[arg(long, default_value_t = 0.5)]
        crop_bpp: f64,
        /// A published results file in CompressAI's JSON layout to draw beside the measured
        /// curves (repeatable), e.g. CompressAI's results/image/kodak/*.json. Default: the
        /// files in data/published when the run is on Kodak.
        #[arg(long, value_name = "FILE")]
        published: Vec<PathBuf>,
        /// A folder written by `tessera study mnist`: adds the MNIST section (default with no
        /// --run: runs/study-mnist when it holds a study).
        #[arg(long, value_name = "DIR")]
        mnist_study: Option<PathBuf>,
        /// A bench run on the mnist dataset (`tessera bench --dataset mnist --out DIR`) for the
        /// MNIST section's rate–fidelity and lossless tables. With --mnist-study or --mnist-run
        /// and no --run, the page holds the MNIST section alone.
        #[arg(long, value_name = "DIR")]
        mnist_run: Option<PathBuf>,
    },
}

pub fn run(cmd: Command) -> Result<()> {
    let Command::Report { run, out, anchor, crop_bpp, mut published, mnist_study, mnist_run } = cmd;
    if !(crop_bpp > 0.0) {
        bail!("--crop-bpp must be positive");
    }
    if run.is_none() && (mnist_study.is_some() || mnist_run.is_some()) {
        let page = report::mnist::write_page(&report::mnist::Inputs { study: mnist_study, run: mnist_run }, &out)?;
        eprintln!("report written to {}", page.display());
        return Ok(());
    }
    let mut mnist = mnist_run.map(|r| report::mnist::Inputs { study: None, run: Some(r) });
    if let Some(s) = mnist_study {
        mnist.get_or_insert_with(Default::default).study = Some(s);
    }
    if published.is_empty() && run.as_ref().is_none_or(|r| r.to_string_lossy().contains("kodak")) {
        published = default_published();
    }
    let published = published
        .iter()
        .map(|p| tessera_lab::results::read_compressai(p))
        .collect::<Result<Vec<_>, _>>()?;
    let run = match run {
        Some(r) => r,
        None => {
            let dir = PathBuf::from(DEFAULT_RUN);
            eprintln!("benchmarking the first {DEFAULT_IMAGES} Kodak images with every codec into {} (resumable; `tessera bench --images 24` for the full set)", dir.display());
            let exe = std::env::current_exe().context("finding the tessera executable")?;
            let status = Process::new(&exe)
                .args(["bench", "--dataset", "kodak", "--images", DEFAULT_IMAGES, "--codecs", "all", "--out"])
                .arg(&dir)
                .status()
                .context("running the bench")?;
            if !status.success() {
                bail!("the bench failed");
            }
            if mnist.as_ref().is_none_or(|m| m.study.is_none()) {
                if let Some(study) = default_study() {
                    mnist.get_or_insert_with(Default::default).study = Some(study);
                }
            }
            dir
        }
    };
    let page = report::write(&RunDir::new(&run), &out, &Options { anchors: anchor, crop_bpp, published, mnist })?;
    eprintln!("report written to {}", page.display());
    Ok(())
}

/// The MNIST study of the default report when one was made into runs/study-mnist (making it
/// takes a minute or two, more than the default report should add, so it is not made here).
fn default_study() -> Option<PathBuf> {
    let dir = PathBuf::from(DEFAULT_STUDY);
    if dir.join("study.json").is_file() {
        Some(dir)
    } else {
        eprintln!("no MNIST study in {0}: `tessera study mnist --out {0}` adds the MNIST section", dir.display());
        None
    }
}

/// CompressAI's published Kodak curves shipped in data/published (none when run elsewhere).
fn default_published() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/published");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
        .unwrap_or_default();
    files.sort();
    files
}

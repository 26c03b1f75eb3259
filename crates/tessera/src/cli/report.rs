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
    },
}

pub fn run(cmd: Command) -> Result<()> {
    let Command::Report { run, out, anchor, crop_bpp, mut published } = cmd;
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
            let status = Process::new(exe)
                .args(["bench", "--dataset", "kodak", "--images", DEFAULT_IMAGES, "--codecs", "all", "--out"])
                .arg(&dir)
                .status()
                .context("running the bench")?;
            if !status.success() {
                bail!("the bench failed");
            }
            dir
        }
    };
    if !(crop_bpp > 0.0) {
        bail!("--crop-bpp must be positive");
    }
    let page = report::write(&RunDir::new(&run), &out, &Options { anchors: anchor, crop_bpp, published })?;
    eprintln!("report written to {}", page.display());
    Ok(())
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

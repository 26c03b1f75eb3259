//! `compress`, `decompress`, `info`, `codecs`, `truncate`: images through the codec registry;
//! `compare`: every metric for a pair of images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use tessera::registry;
use tessera_core::io::{decode_image, encode_image, Format};
use tessera_core::{Container, EncodeParams, TruncateTarget};

use std::fmt::Write as _;

use super::io::{output_path, print, read_input, write_output};

#[derive(Subcommand)]
pub enum Command {
    /// Compress an image (PNG, PPM/PGM, IDX, or anything the `image` crate reads) into a .tsr file.
    Compress(CompressArgs),
    /// Decompress a .tsr file to PNG (or PPM/PGM/IDX when the output name ends so).
    Decompress(DecompressArgs),
    /// Show what a .tsr file holds.
    Info {
        /// The .tsr file (`-` for stdin).
        file: PathBuf,
    },
    /// List every codec.
    Codecs,
    /// Cut an embedded (progressive) .tsr file to a lower rate without re-encoding.
    Truncate(TruncateArgs),
    /// Every quality metric for a pair of images (PSNR, SSIM, MS-SSIM, PSNR-HVS, PSNR-HVS-M).
    Compare {
        /// The original image.
        original: PathBuf,
        /// The decoded image (or a .tsr file, decoded first).
        decoded: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct CompressArgs {
    /// Input image (`-` for stdin).
    input: PathBuf,
    /// Output .tsr file (`-` for stdout; default: the input name with .tsr).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Codec name (see `tessera codecs`); default: the best lossless codec.
    #[arg(short, long)]
    codec: Option<String>,
    /// Quality 1..100, higher is better (lossy codecs).
    #[arg(short, long)]
    quality: Option<f32>,
    /// Use the best lossless codec (same as `--codec lossless`).
    #[arg(long, conflicts_with = "codec")]
    lossless: bool,
    /// Effort 0..9: higher is slower and smaller. `lossless`: 0 is the fastest coder (six
    /// fitted predictor taps, static rANS tables), 1 a fast one (twelve taps, adaptive rANS
    /// tables), 2 the same taps with context trees fitted to the image and static tables, 3
    /// context mixing, 4 and up adds least-squares prediction.
    #[arg(short, long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=9))]
    effort: u8,
    /// Aim for at most this many bits per pixel.
    #[arg(long)]
    target_bpp: Option<f64>,
    /// Aim for at least this RGB PSNR in dB.
    #[arg(long)]
    target_psnr: Option<f64>,
    /// Codec-specific option KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// `rnn`: the network, UNIT-FRAMEWORK (gru-additive, resgru-scaling, …; the same as
    /// `--set variant=`).
    #[arg(long)]
    variant: Option<String>,
    /// Overwrite the output if it exists.
    #[arg(short, long)]
    force: bool,
}

#[derive(Args)]
pub struct DecompressArgs {
    /// Input .tsr file (`-` for stdin).
    input: PathBuf,
    /// Output image (`-` for stdout as PNG; default: the input name with .png).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Overwrite the output if it exists.
    #[arg(short, long)]
    force: bool,
}

#[derive(Args)]
pub struct TruncateArgs {
    /// Input .tsr file.
    input: PathBuf,
    /// Output .tsr file.
    #[arg(short, long)]
    output: PathBuf,
    /// Keep at most this many bits per pixel (the whole file counted).
    #[arg(long, conflicts_with = "iterations", required_unless_present = "iterations")]
    target_bpp: Option<f64>,
    /// Keep the first K iterations (recurrent codecs).
    #[arg(long)]
    iterations: Option<u32>,
    /// Overwrite the output if it exists.
    #[arg(short, long)]
    force: bool,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Compress(a) => compress(a),
        Command::Decompress(a) => decompress(a),
        Command::Info { file } => info(&file),
        Command::Codecs => {
            let mut text = String::new();
            for c in registry::codecs() {
                let kind = if c.is_lossless() { "lossless" } else { "lossy" };
                writeln!(text, "{:<16} {:<9} {}", c.name(), kind, c.summary())?;
            }
            print(&text)
        }
        Command::Truncate(a) => truncate(a),
        Command::Compare { original, decoded, json } => compare(&original, &decoded, json),
    }
}

fn compare(original: &Path, decoded: &Path, json: bool) -> Result<()> {
    let a = decode_image(&read_input(original)?).with_context(|| format!("reading {}", original.display()))?;
    let bytes = read_input(decoded)?;
    let b = if bytes.starts_with(&tessera_core::container::MAGIC) {
        registry::decompress(&bytes)?
    } else {
        decode_image(&bytes).with_context(|| format!("reading {}", decoded.display()))?
    };
    let c = tessera_metrics::compare(&a, &b)?;
    if json {
        print(&format!("{}\n", serde_json::to_string_pretty(&c)?))
    } else {
        print(&format!("{c}\n"))
    }
}

fn parse_options(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("--set expects KEY=VALUE, got '{item}'");
        };
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(map)
}

fn compress(a: CompressArgs) -> Result<()> {
    let name = a.codec.clone().unwrap_or_else(|| registry::DEFAULT_LOSSLESS.to_string());
    let codec = registry::find(&name)?;
    if let Some(q) = a.quality {
        if !(1.0..=100.0).contains(&q) {
            bail!("quality {q} is outside 1..=100");
        }
    }
    let mut options = parse_options(&a.options)?;
    if let Some(variant) = a.variant {
        if options.get("variant").is_some_and(|v| *v != variant) {
            bail!("--variant {variant} and --set variant={} disagree", options["variant"]);
        }
        options.insert("variant".into(), variant);
    }
    let params = EncodeParams {
        quality: a.quality,
        effort: a.effort,
        target_bpp: a.target_bpp,
        target_psnr: a.target_psnr,
        options,
    };
    let bytes = read_input(&a.input)?;
    let image = decode_image(&bytes).with_context(|| format!("reading {}", a.input.display()))?;
    let out = output_path(a.output, &a.input, "tsr")?;
    let tsr = registry::compress(codec.as_ref(), &image, &params)?;
    write_output(&out, &tsr, a.force, Some(&a.input))?;
    if out != Path::new("-") {
        let bpp = tsr.len() as f64 * 8.0 / image.pixel_count() as f64;
        eprintln!(
            "{} → {} ({} bytes, {:.4} bpp, ratio {:.2}:1)",
            a.input.display(),
            out.display(),
            tsr.len(),
            bpp,
            bytes.len() as f64 / tsr.len() as f64
        );
    }
    Ok(())
}

fn decompress(a: DecompressArgs) -> Result<()> {
    let bytes = read_input(&a.input)?;
    let image = registry::decompress(&bytes).with_context(|| format!("decoding {}", a.input.display()))?;
    let out = output_path(a.output, &a.input, "png")?;
    let format = if out == Path::new("-") { Format::Png } else { Format::from_path(&out) };
    let encoded = encode_image(&image, format)?;
    write_output(&out, &encoded, a.force, Some(&a.input))
}

fn info(file: &Path) -> Result<()> {
    let bytes = read_input(file)?;
    let c = Container::from_bytes(&bytes).with_context(|| format!("reading {}", file.display()))?;
    let h = &c.header;
    let pixels = h.pixel_count();
    let mut t = String::new();
    writeln!(t, "codec       {}", h.codec)?;
    writeln!(t, "size        {}x{}", h.width, h.height)?;
    if h.frames > 1 {
        writeln!(t, "frames      {}", h.frames)?;
    }
    writeln!(t, "channels    {}", h.channels)?;
    writeln!(t, "bit depth   {}", h.bit_depth)?;
    if let Some(m) = &h.model {
        let hash = tessera_core::hex(&m.hash);
        writeln!(t, "model       {} (sha256 {hash})", m.name)?;
    }
    writeln!(t, "params      {} bytes", c.params.len())?;
    writeln!(t, "payload     {} bytes", c.payload.len())?;
    writeln!(t, "file        {} bytes, {:.4} bpp", bytes.len(), bytes.len() as f64 * 8.0 / pixels as f64)?;
    print(&t)
}

fn truncate(a: TruncateArgs) -> Result<()> {
    let bytes = read_input(&a.input)?;
    let c = Container::from_bytes(&bytes)?;
    let codec = registry::find(&c.header.codec)?;
    let target = match (a.target_bpp, a.iterations) {
        (Some(b), _) => TruncateTarget::Bpp(b),
        (None, Some(k)) => TruncateTarget::Iterations(k),
        (None, None) => bail!("give --target-bpp or --iterations"),
    };
    let (params, payload) = codec.truncate(&c.header, &c.params, &c.payload, target)?;
    let out = Container { header: c.header, params, payload }.to_bytes()?;
    write_output(&a.output, &out, a.force, Some(&a.input))
}

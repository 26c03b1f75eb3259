//! `data` and `bench`: the measurement lab's datasets and its bench runner.

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use tessera::registry;
use tessera_lab::bench::{self, LadderSpec, Plan};
use tessera_lab::dataset::{self, store, sums::Pins};
use tessera_lab::results::RunDir;

use super::io::print;

#[derive(Subcommand)]
pub enum Command {
    /// Datasets: list them, verify them against their SHA-256 pins, import or fetch the larger ones.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Measure codecs (ours and the reference tools) on a dataset at every setting of their
    /// quality ladders; results go to OUT/results/*.json (CompressAI's layout), resumable.
    Bench(BenchArgs),
}

#[derive(Subcommand)]
pub enum DataAction {
    /// List the datasets, where they are and how complete.
    List,
    /// Check the files of the given datasets (default: every stored one) against their pins.
    Verify { names: Vec<String> },
    /// Copy every pinned file found under DIR (laid out as kodak/, cid22/, mnist/, …) into the
    /// data directory ($TESSERA_DATA, default ~/.local/share/tessera), checking each.
    Import { dir: PathBuf },
    /// Download a dataset from its official address (needs curl and internet), checking each file.
    Fetch { name: String },
}

#[derive(Args)]
pub struct BenchArgs {
    /// A dataset name (kodak, mnist, synthetic, cid22-valid, …) or a folder of images.
    #[arg(long, default_value = "kodak")]
    dataset: String,
    /// Codecs: all, ours, reference, lossless, lossy, reference-lossy, reference-lossless, or a
    /// comma list of names (see --list); `ours:lossless` is Tessera's codec of that name;
    /// `NAME+KEY=VALUE` runs one of Tessera's codecs with a `--set` option (`+effort=N`: at
    /// that effort).
    #[arg(long, default_value = "all")]
    codecs: String,
    /// The first N images, or a comma list of image names (for mnist: the first N digits).
    #[arg(long)]
    images: Option<String>,
    /// Quality ladder: `10,30,50` for every lossy codec, `cjxl=1,2,4;x265=30:40:2` per codec.
    /// Default: each codec's own ladder, spanning about 0.1–2 bpp on Kodak.
    #[arg(long)]
    qualities: Option<String>,
    /// Instead of ladders, bisect each lossy codec's knob per image to meet these bpp (comma list).
    #[arg(long, value_delimiter = ',')]
    target_bpp: Option<Vec<f64>>,
    /// Run directory (results, cache, kept reconstructions). Default: runs/bench-DATASET.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Parallel jobs (default: the number of CPUs); Tessera's own codecs run on CPUs / jobs threads each.
    #[arg(long)]
    jobs: Option<usize>,
    /// Images whose reconstructions are kept as PNG (comma list; default: the first two).
    #[arg(long, value_delimiter = ',')]
    keep: Option<Vec<String>>,
    /// List the codecs the bench knows, with their knobs, and exit.
    #[arg(long)]
    list: bool,
    /// Anchors of the BD-rate table printed at the end (lossy codecs of the run).
    #[arg(long, value_delimiter = ',', default_value = "cjpeg,x265")]
    anchors: Vec<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Data { action } => data(action),
        Command::Bench(a) => run_bench(a),
    }
}

fn data(action: DataAction) -> Result<()> {
    let pins = Pins::builtin();
    let mut o = String::new();
    match action {
        DataAction::List => {
            writeln!(o, "{:<14} {:<9} {:>9}  what / where", "name", "origin", "files")?;
            for spec in dataset::SETS {
                let st = store::status(spec, &pins);
                let origin = format!("{:?}", spec.origin).to_lowercase();
                let files = if spec.origin == dataset::Origin::Generated {
                    "-".to_string()
                } else {
                    format!("{}/{}", st.present, st.total)
                };
                let place = st.root.map(|r| format!(" [{}]", r.display())).unwrap_or_default();
                writeln!(o, "{:<14} {:<9} {:>9}  {}{place}", spec.name, origin, files, spec.about)?;
            }
            writeln!(o, "data directory for imports: {}", store::target_dir().display())?;
        }
        DataAction::Verify { names } => {
            let specs: Vec<&'static dataset::Spec> = if names.is_empty() {
                dataset::SETS.iter().filter(|s| s.origin != dataset::Origin::Generated).collect()
            } else {
                names.iter().map(|n| dataset::spec(n)).collect::<tessera_lab::Result<_>>()?
            };
            let mut any = false;
            for spec in specs {
                let (ok, missing) = store::verify(spec, &pins)?;
                any |= ok > 0;
                let note = if missing > 0 { format!(", {missing} not present") } else { String::new() };
                writeln!(o, "{:<14} {ok} files match their pins{note}", spec.name)?;
            }
            if !any {
                bail!("no dataset files found to verify");
            }
        }
        DataAction::Import { dir } => {
            let to = store::target_dir();
            let r = store::import(&dir, &to, &pins)?;
            writeln!(o, "{} files copied, {} already present, into {}", r.copied, r.present, to.display())?;
        }
        DataAction::Fetch { name } => {
            let spec = dataset::spec(&name)?;
            let to = store::target_dir();
            let r = store::fetch(spec, &to, &pins)?;
            writeln!(o, "{} files downloaded, {} already present, into {}", r.copied, r.present, to.display())?;
        }
    }
    print(&o)
}

fn run_bench(a: BenchArgs) -> Result<()> {
    let ours = registry::codecs();
    let mut o = String::new();
    if a.list {
        writeln!(o, "{:<20} {:<9} {:<8} {:<4} description", "name", "kind", "lossless", "knob")?;
        for (name, kind, lossless, knob, about) in bench::list_codecs(&ours) {
            writeln!(o, "{name:<20} {kind:<9} {:<8} {knob:<4} {about}", if lossless { "yes" } else { "no" })?;
        }
        return print(&o);
    }
    // Everything that can be wrong is checked before any work starts.
    let ladders = a.qualities.as_deref().map(LadderSpec::parse).transpose()?;
    let (contenders, skipped) = bench::select(&a.codecs, &ours)?;
    if contenders.is_empty() {
        for note in skipped.values() {
            eprintln!("note: {note}");
        }
        bail!("none of the selected codecs is available");
    }
    let (limit, names) = match a.images.as_deref() {
        None => (None, None),
        Some(s) => match s.parse::<usize>() {
            Ok(0) => bail!("--images 0 selects nothing"),
            Ok(n) => (Some(n), None),
            Err(_) => (None, Some(s.split(',').map(|x| x.trim().to_string()).collect::<Vec<_>>())),
        },
    };
    let (set_name, mut items) = dataset::load(&a.dataset, limit)?;
    if let Some(names) = names {
        for n in &names {
            if !items.iter().any(|i| &i.name == n) {
                bail!("no image '{n}' in {set_name}");
            }
        }
        items.retain(|i| names.contains(&i.name));
    }
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let out = a.out.unwrap_or_else(|| {
        let stem: String = set_name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        PathBuf::from("runs").join(format!("bench-{stem}"))
    });
    let mut plan = Plan::new(
        set_name,
        items,
        contenders,
        skipped,
        ladders.as_ref(),
        a.target_bpp.as_deref(),
        RunDir::new(&out),
        jobs,
    )?;
    if let Some(keep) = a.keep {
        for k in &keep {
            if !plan.items.iter().any(|i| &i.name == k) {
                bail!("--keep: no image '{k}' in the selection");
            }
        }
        plan.keep = keep;
    }
    for note in plan.skipped.values() {
        eprintln!("note: {note}");
    }
    plan.command = std::env::args().collect::<Vec<_>>().join(" ");
    plan.progress = !a.quiet;
    let total: usize = plan.codecs.iter().map(|(_, s)| s.len()).sum::<usize>() * plan.items.len();
    eprintln!(
        "bench: {} images x {} codecs ({} measurements) on {} jobs -> {}",
        plan.items.len(),
        plan.codecs.len(),
        total,
        plan.jobs,
        out.display()
    );
    let s = bench::run(&plan).with_context(|| format!("bench run in {}", out.display()))?;
    writeln!(o, 
        "{} measured, {} from cache, {} failed, {:.1} s",
        s.computed, s.cached, s.failed, s.elapsed_s
    )?;
    writeln!(o, "{:<20} {:>7} {:>8} {:>8} {:>8} {:>9} {:>9}", "codec", "points", "bpp", "bpsp", "PSNR", "enc MP/s", "dec MP/s")?;
    for r in &s.results {
        for p in &r.points {
            let psnr = p.psnr_rgb.map(|v| format!("{v:.2}")).unwrap_or_else(|| if p.exact { "exact".into() } else { "-".into() });
            writeln!(o, 
                "{:<20} {:>7} {:>8.4} {:>8.4} {:>8} {:>9.2} {:>9.2}{}",
                r.name,
                p.setting,
                p.bpp,
                p.bpsp,
                psnr,
                p.encode_mps,
                p.decode_mps,
                if p.failures > 0 { format!("  ({} failed)", p.failures) } else { String::new() }
            )?;
        }
        for f in r.failures.iter().take(3) {
            writeln!(o, "{:<20} failed {} {} at {}: {}", r.name, f.setting, f.image, f.stage, f.message)?;
        }
    }
    writeln!(o)?;
    if s.results.iter().any(|r| r.lossless) {
        writeln!(o, "{}", bench::table::lossless_table(&s.results))?;
    }
    if s.results.iter().any(|r| !r.lossless) {
        let anchors: Vec<&str> = a.anchors.iter().map(String::as_str).collect();
        writeln!(o, "{}", bench::table::lossy_table(&s.results, &anchors))?;
    }
    writeln!(o, "results: {}", RunDir::new(&out).results_dir().display())?;
    print(&o)
}

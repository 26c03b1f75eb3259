//! The bench runner: every codec × every setting × every image, in parallel over a fixed number
//! of jobs (Tessera's codecs get the cores that the jobs leave them), with a progress bar; each
//! result cached as a small JSON file under the run directory the moment it is made, so an
//! interrupted run resumes with only what is missing.
//!
//! A codec that errors, panics, or writes a file that does not decode is recorded as a
//! [`Failure`] for that image and setting, and the run goes on. Everything that can be checked
//! before work starts — the dataset, codec names, ladders — is checked first.

pub mod contender;
pub mod ladder;
pub mod measure;
pub mod summary;
pub mod table;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tessera_core::io::{encode_image, Format};
use tessera_core::{Codec, Image};

pub use contender::{Contender, Ours};
pub use ladder::{LadderSpec, Setting};

use crate::dataset::{mnist::tile, Item};
use crate::reference;
use crate::results::{read_json, write_json, CodecResults, Failure, ImageRecord, Machine, Outcome, RunDir, RunInfo};
use crate::{Error, Result};

/// Picks codecs by name or group: `all`, `ours`, `reference`, `lossless`, `lossy`,
/// `reference-lossy`, `reference-lossless`, or a comma list mixing Tessera's codec names and
/// reference recipe names (`ours:NAME` / `ref:NAME` where a name is also a group word, as
/// Tessera's `lossless` codec is); `NAME+KEY=VALUE` runs one of Tessera's codecs with a codec
/// option (`rnn+variant=lstm-oneshot`). Returns the contenders and
/// the references that were asked for but are not installed (with the reason). Unknown names
/// are an error.
pub fn select<'a>(spec: &str, ours: &'a [Box<dyn Codec>]) -> Result<(Vec<Contender<'a>>, BTreeMap<String, String>)> {
    let refs = reference::catalog();
    let mut wanted: Vec<String> = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let group: Vec<String> = match name {
            "all" => ours.iter().map(|c| c.name().to_string()).chain(refs.iter().map(|r| r.name.clone())).collect(),
            "ours" => ours.iter().map(|c| c.name().to_string()).collect(),
            "reference" => refs.iter().map(|r| r.name.clone()).collect(),
            "lossless" => ours
                .iter()
                .filter(|c| c.is_lossless())
                .map(|c| c.name().to_string())
                .chain(refs.iter().filter(|r| r.lossless).map(|r| r.name.clone()))
                .collect(),
            "lossy" => ours
                .iter()
                .filter(|c| !c.is_lossless())
                .map(|c| c.name().to_string())
                .chain(refs.iter().filter(|r| !r.lossless).map(|r| r.name.clone()))
                .collect(),
            "reference-lossy" => refs.iter().filter(|r| !r.lossless).map(|r| r.name.clone()).collect(),
            "reference-lossless" => refs.iter().filter(|r| r.lossless).map(|r| r.name.clone()).collect(),
            other => {
                // `ours:NAME` and `ref:NAME` pick one side when a name is also a group word
                // (Tessera's codec called `lossless`).
                let (in_ours, in_refs, bare) = match other.split_once(':') {
                    Some(("ours", n)) => (true, false, n),
                    Some(("ref", n)) => (false, true, n),
                    _ => (true, true, other),
                };
                let (codec, options) = codec_options(bare)?;
                let found = (in_ours && ours.iter().any(|c| c.name() == codec))
                    || (in_refs && options.is_empty() && refs.iter().any(|r| r.name == codec));
                if !found {
                    return Err(Error::UnknownCodec(other.to_string()));
                }
                vec![bare.to_string()]
            }
        };
        for g in group {
            if !wanted.contains(&g) {
                wanted.push(g);
            }
        }
    }
    if wanted.is_empty() {
        return Err(Error::Invalid("no codecs selected".into()));
    }
    let mut out = Vec::new();
    let mut skipped = BTreeMap::new();
    for name in wanted {
        let (codec, options) = codec_options(&name)?;
        if let Some(c) = ours.iter().find(|c| c.name() == codec) {
            match c.unavailable() {
                None => {
                    let name = std::iter::once(codec.to_string()).chain(options.iter().map(|(k, v)| format!("{k}={v}"))).collect::<Vec<_>>().join("+");
                    out.push(Contender::Ours(Ours { codec: c.as_ref(), name, options }));
                }
                Some(note) => {
                    skipped.insert(name, note);
                }
            }
        } else if let Some(r) = refs.iter().find(|r| r.name == name) {
            match r.clone().detect() {
                Ok(r) => out.push(Contender::Reference(r)),
                Err(note) => {
                    skipped.insert(name, note);
                }
            }
        }
    }
    Ok((out, skipped))
}

/// Splits `NAME+KEY=VALUE+…` (one of Tessera's codecs with options, as `--set` gives them) into
/// the codec's name and its options.
fn codec_options(spec: &str) -> Result<(&str, BTreeMap<String, String>)> {
    let mut parts = spec.split('+');
    let name = parts.next().unwrap_or_default();
    let mut options = BTreeMap::new();
    for part in parts {
        let (key, value) = part
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| Error::Invalid(format!("'{part}' in '{spec}' is not KEY=VALUE")))?;
        if key == "effort" && !value.parse::<u8>().is_ok_and(|e| e <= 9) {
            return Err(Error::Invalid(format!("effort '{value}' in '{spec}' is not 0 to 9")));
        }
        options.insert(key.to_string(), value.to_string());
    }
    Ok((name, options))
}

/// Lists every codec the bench knows: (name, kind, lossless, knob, description).
pub fn list_codecs(ours: &[Box<dyn Codec>]) -> Vec<(String, &'static str, bool, String, String)> {
    let mut v: Vec<_> = ours
        .iter()
        .map(|c| (c.name().to_string(), "ours", c.is_lossless(), if c.is_lossless() { String::new() } else { "q".into() }, c.summary().to_string()))
        .collect();
    v.extend(reference::catalog().into_iter().map(|r| (r.name, "reference", r.lossless, r.knob, r.description)));
    v
}

/// A bench run, fully checked, ready to go.
pub struct Plan<'a> {
    /// Dataset name.
    pub dataset: String,
    /// The images.
    pub items: Vec<Item>,
    /// The codecs, each with its settings.
    pub codecs: Vec<(Contender<'a>, Vec<Setting>)>,
    /// Codecs skipped, with why: their programs are missing, or they do not take the images.
    pub skipped: BTreeMap<String, String>,
    /// Where results go.
    pub run: RunDir,
    /// Parallel jobs.
    pub jobs: usize,
    /// Images whose reconstructions are kept as PNG.
    pub keep: Vec<String>,
    /// The command line, for the record.
    pub command: String,
    /// Show a progress bar.
    pub progress: bool,
}

impl<'a> Plan<'a> {
    /// Checks codecs against ladders and builds a plan. `ladders` (from `--qualities`) and
    /// `targets` (from `--target-bpp`) are optional; a per-codec ladder for a codec that is not
    /// selected, or for a lossless one, is an error.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dataset: String,
        items: Vec<Item>,
        contenders: Vec<Contender<'a>>,
        skipped: BTreeMap<String, String>,
        ladders: Option<&LadderSpec>,
        targets: Option<&[f64]>,
        run: RunDir,
        jobs: usize,
    ) -> Result<Plan<'a>> {
        if items.is_empty() {
            return Err(Error::Dataset("no images selected".into()));
        }
        // A codec that cannot take the dataset's images at all (a digit codec on photos) is
        // skipped with its reason rather than failing on every image.
        let mut skipped = skipped;
        let contenders: Vec<Contender<'a>> = contenders
            .into_iter()
            .filter(|c| match c {
                Contender::Ours(ours) => match ours.codec.accepts(&items[0].image) {
                    Ok(()) => true,
                    Err(e) => {
                        let name = ours.name.clone();
                        skipped.insert(name.clone(), format!("{name}: skipped, it does not take these images ({e})"));
                        false
                    }
                },
                Contender::Reference(_) => true,
            })
            .collect();
        if contenders.is_empty() {
            return Err(Error::Invalid("none of the selected codecs is available and takes these images".into()));
        }
        if let Some(spec) = ladders {
            for name in spec.per_codec.keys() {
                match contenders.iter().find(|c| c.name() == name || c.name().split('+').next() == Some(name)) {
                    None if skipped.contains_key(name) => {}
                    None => return Err(Error::Invalid(format!("a ladder is given for '{name}', which is not selected"))),
                    Some(c) if c.lossless() => return Err(Error::Invalid(format!("'{name}' is lossless and takes no ladder"))),
                    Some(_) => {}
                }
            }
        }
        if let Some(t) = targets {
            if t.is_empty() || t.iter().any(|&b| !(b.is_finite() && b > 0.0)) {
                return Err(Error::Invalid("--target-bpp needs positive numbers".into()));
            }
        }
        let mut codecs = Vec::new();
        for c in contenders {
            let settings = match targets {
                Some(t) if !c.lossless() => t.iter().map(|&b| Setting::TargetBpp(b)).collect(),
                _ => c.settings(ladders.and_then(|l| l.for_codec(c.name()))).map_err(Error::Invalid)?,
            };
            codecs.push((c, settings));
        }
        let keep = items.iter().take(2).map(|i| i.name.clone()).collect();
        Ok(Plan { dataset, items, codecs, skipped, run, jobs: jobs.max(1), keep, command: String::new(), progress: false })
    }
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Measurements made now.
    pub computed: usize,
    /// Measurements taken from the cache.
    pub cached: usize,
    /// Failures among all of them.
    pub failed: usize,
    /// Per-codec results as written to `results/`.
    pub results: Vec<CodecResults>,
    /// Wall time.
    pub elapsed_s: f64,
}

/// Runs the plan: reuses cached outcomes, computes the missing ones in parallel, writes
/// `results/*.json` and `run.json`.
pub fn run(plan: &Plan) -> Result<Summary> {
    let start = Instant::now();
    let machine = Machine::current(plan.jobs);
    let previous = plan.run.read_info().ok();
    if let Some(prev) = &previous {
        if prev.dataset != plan.dataset {
            return Err(Error::Invalid(format!(
                "{} holds a run on '{}', not '{}': choose another --out",
                plan.run.root.display(),
                prev.dataset,
                plan.dataset
            )));
        }
    }
    // The pictures the metrics and the kept files see: stacks tiled into one.
    let flat: Vec<Image> = plan.items.iter().map(|i| tile(&i.image)).collect::<Result<_>>()?;
    for (item, img) in plan.items.iter().zip(&flat) {
        if plan.keep.contains(&item.name) {
            let p = plan.run.original(&item.name);
            if !p.exists() {
                write_png(&p, img)?;
            }
        }
    }
    // Every task, and which are already done.
    let mut tasks = Vec::new();
    for (ci, (_, settings)) in plan.codecs.iter().enumerate() {
        for si in 0..settings.len() {
            for ii in 0..plan.items.len() {
                tasks.push((ci, si, ii));
            }
        }
    }
    let cache_path = |&(ci, si, ii): &(usize, usize, usize)| {
        let (c, s) = &plan.codecs[ci];
        plan.run.cache(c.name(), &c.cache_label(&s[si]), &plan.items[ii].name)
    };
    let mut outcomes: BTreeMap<(usize, usize, usize), Outcome> = BTreeMap::new();
    let mut missing = Vec::new();
    for t in &tasks {
        match read_json::<Outcome>(&cache_path(t)) {
            Ok(o) => {
                outcomes.insert(*t, o);
            }
            Err(_) => missing.push(*t),
        }
    }
    let cached = outcomes.len();
    let bar = if plan.progress { ProgressBar::new(missing.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Each job is a thread of its own that takes the next task and measures it in its own pool
    // of `threads` threads, made once. Not a rayon pool of jobs: a rayon worker waiting for
    // another pool runs the next task from its own queue meanwhile, and the two measurements
    // would time each other.
    let threads = threads_per_job(plan.jobs, std::thread::available_parallelism().map_or(1, |n| n.get()));
    let next = AtomicUsize::new(0);
    let job = || -> Result<Vec<((usize, usize, usize), Outcome)>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Invalid(format!("thread pool: {e}")))?;
        let mut done = Vec::new();
        while let Some(t) = missing.get(next.fetch_add(1, Ordering::Relaxed)) {
            let (c, settings) = &plan.codecs[t.0];
            let item = &plan.items[t.2];
            bar.set_message(format!("{} {} {}", c.name(), settings[t.1].label(), item.name));
            let outcome = pool.install(|| one(plan, c, &settings[t.1], item, &flat[t.2]))?;
            write_json(&cache_path(t), &outcome)?;
            bar.inc(1);
            done.push((*t, outcome));
        }
        Ok(done)
    };
    let computed: Vec<Result<Vec<_>>> = std::thread::scope(|s| {
        let jobs: Vec<_> = (0..plan.jobs.clamp(1, missing.len().max(1))).map(|_| s.spawn(job)).collect();
        jobs.into_iter()
            .map(|j| j.join().unwrap_or_else(|_| Err(Error::Invalid("a measurement thread panicked".into()))))
            .collect()
    });
    bar.finish_and_clear();
    let mut n_computed = 0;
    for done in computed {
        for (t, o) in done? {
            outcomes.insert(t, o);
            n_computed += 1;
        }
    }
    // Per-codec results.
    let mut results = Vec::new();
    let mut failed = 0;
    for (ci, (c, settings)) in plan.codecs.iter().enumerate() {
        let mut records = Vec::new();
        let mut failures = Vec::new();
        for ((cj, _, _), o) in outcomes.range((ci, 0, 0)..(ci + 1, 0, 0)) {
            debug_assert_eq!(*cj, ci);
            match o {
                Outcome::Measured(r) => records.push(r.clone()),
                Outcome::Failed(f) => failures.push(f.clone()),
            }
        }
        failed += failures.len();
        let info = summary::CodecInfo {
            name: c.name(),
            description: c.description(),
            kind: c.kind(),
            lossless: c.lossless(),
            dataset: &plan.dataset,
            command: &plan.command,
            machine: &machine,
        };
        let labels: Vec<(String, String, f64)> =
            settings.iter().map(|s| (s.label(), s.knob().to_string(), s.value())).collect();
        let r = summary::codec_results(&info, &labels, records, failures);
        write_json(&plan.run.results(c.name()), &r)?;
        results.push(r);
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    // A run directory grows over invocations (lossy codecs first, lossless later): run.json
    // lists everything its results/ holds.
    let union = |old: Option<&Vec<String>>, new: Vec<String>| -> Vec<String> {
        let mut v = old.cloned().unwrap_or_default();
        for n in new {
            if !v.contains(&n) {
                v.push(n);
            }
        }
        v
    };
    let mut skipped = previous.as_ref().map(|p| p.skipped.clone()).unwrap_or_default();
    for (c, _) in &plan.codecs {
        skipped.remove(c.name());
    }
    skipped.extend(plan.skipped.clone());
    let info = RunInfo {
        dataset: plan.dataset.clone(),
        images: union(previous.as_ref().map(|p| &p.images), plan.items.iter().map(|i| i.name.clone()).collect()),
        codecs: union(previous.as_ref().map(|p| &p.codecs), plan.codecs.iter().map(|(c, _)| c.name().to_string()).collect()),
        kept: union(previous.as_ref().map(|p| &p.kept), plan.keep.clone()),
        skipped,
        command: plan.command.clone(),
        machine,
        elapsed_s,
    };
    write_json(&plan.run.info(), &info)?;
    Ok(Summary { computed: n_computed, cached, failed, results, elapsed_s })
}

/// The threads each of `jobs` parallel measurements gets on `cpus` cores: Tessera's codecs
/// run in a pool of that many, so that `--jobs 1` measures a codec on the whole machine, as
/// the reference codecs' own threads do, and more jobs share it out.
fn threads_per_job(jobs: usize, cpus: usize) -> usize {
    (cpus / jobs.max(1)).max(1)
}

/// Measures one (codec, setting, image). Codec trouble becomes a `Failed` outcome; only
/// trouble writing the run directory is an error.
fn one(plan: &Plan, c: &Contender, setting: &Setting, item: &Item, flat: &Image) -> Result<Outcome> {
    let label = setting.label();
    let failure = |stage: &str, message: String| {
        Outcome::Failed(Failure {
            codec: c.name().into(),
            setting: label.clone(),
            image: item.name.clone(),
            stage: stage.into(),
            message,
        })
    };
    let (value, trial) = match c.run(&item.image, setting) {
        Ok(x) => x,
        Err(e) => return Ok(failure(e.stage, e.message)),
    };
    let q = match measure::judge(flat, &trial.decoded) {
        Ok(q) => q,
        Err(m) => return Ok(failure("measure", m)),
    };
    if c.lossless() && !q.exact {
        return Ok(failure("decode", "a lossless codec did not give the image back exactly".into()));
    }
    if plan.keep.contains(&item.name) {
        write_png(&plan.run.decoded(c.name(), &label, &item.name), &trial.decoded)?;
    }
    let (w, h, ch) = (flat.width(), flat.height(), flat.channels());
    let pixels = f64::from(w) * f64::from(h);
    Ok(Outcome::Measured(ImageRecord {
        codec: c.name().into(),
        setting: label,
        value,
        image: item.name.clone(),
        width: w,
        height: h,
        channels: ch,
        bytes: trial.bytes,
        bpp: trial.bytes as f64 * 8.0 / pixels,
        bpsp: trial.bytes as f64 * 8.0 / (pixels * f64::from(ch)),
        psnr_rgb: q.psnr_rgb,
        ms_ssim_rgb: q.ms_ssim_rgb,
        psnr_hvs: q.psnr_hvs,
        psnr_hvs_m: q.psnr_hvs_m,
        exact: q.exact,
        encode_s: contender::secs(trial.encode),
        decode_s: contender::secs(trial.decode),
    }))
}

fn write_png(path: &Path, img: &Image) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let bytes = encode_image(img, Format::Png)?;
    tessera_core::io::write_atomic(path, &bytes, true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{codec_options, threads_per_job};

    #[test]
    fn codec_options_split_and_efforts_are_checked() {
        let (name, options) = codec_options("lossless+effort=0+transform=none").unwrap();
        assert_eq!(name, "lossless");
        assert_eq!(options.get("effort").map(String::as_str), Some("0"));
        assert_eq!(options.get("transform").map(String::as_str), Some("none"));
        assert!(codec_options("lossless+effort=10").is_err());
        assert!(codec_options("lossless+effort=fast").is_err());
        assert!(codec_options("lossless+effort").is_err());
    }

    #[test]
    fn jobs_share_the_cores_out() {
        assert_eq!(threads_per_job(1, 2), 2);
        assert_eq!(threads_per_job(2, 2), 1);
        assert_eq!(threads_per_job(3, 2), 1);
        assert_eq!(threads_per_job(3, 16), 5);
        assert_eq!(threads_per_job(0, 4), 4);
    }
}

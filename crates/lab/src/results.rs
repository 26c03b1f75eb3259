//! The lab's results: one JSON file per codec in CompressAI's layout, plus Tessera's extra fields.
//!
//! A bench run writes `runs/NAME/`:
//!
//! ```text
//! runs/NAME/run.json                         RunInfo: dataset, images, codecs, command, machine
//! runs/NAME/results/CODEC.json               CodecResults, one per codec (this module)
//! runs/NAME/cache/CODEC/SETTING/IMAGE.json   Outcome of one (codec, setting, image): the resume cache
//! runs/NAME/decoded/CODEC/SETTING/IMAGE.png  reconstructions of the kept images (for crops)
//! runs/NAME/originals/IMAGE.png              the kept originals, same names
//! ```
//!
//! `CodecResults` opens with CompressAI's fields (`name`, `description`, `results` holding
//! `bpp`, `psnr-rgb`, `ms-ssim-rgb`, `psnr-hvs`, `encoding_time`, `decoding_time`, one entry per
//! setting, averaged over images), so a CompressAI plotting script reads our files and
//! [`read_compressai`] reads theirs. The extra fields hold the per-setting summaries with
//! failures and speeds, every per-image record, the command and the machine.
//!
//! A small real run to develop against lives at `runs/sample-kodak3/` (three Kodak images, the six
//! lossy and three lossless references and Tessera's `vq`; made with
//! `tessera bench --dataset kodak --images 3 --codecs cjpeg,cwebp,openjpeg,cjxl,avif,x265,optipng,jxl-lossless-e3,jpegls,vq --out runs/sample-kodak3 --jobs 2`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Results of one codec over one dataset: CompressAI's layout plus Tessera's extra fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CodecResults {
    /// Codec name (`cjpeg`, `vq`, …); CompressAI: the model or codec name.
    pub name: String,
    /// What the codec is and how it was run (tool version and flags for the references).
    #[serde(default)]
    pub description: String,
    /// One entry per setting, averaged over the images (CompressAI's `results`).
    pub results: Curve,
    /// Whether the codec is lossless (one setting; `psnr-rgb` is then `null`).
    #[serde(default)]
    pub lossless: bool,
    /// `ours` for Tessera's codecs, `reference` for external tools, `published` for curves read
    /// from someone else's file.
    #[serde(default)]
    pub kind: String,
    /// The dataset name (`kodak`, `mnist`, `synthetic`, or a folder).
    #[serde(default)]
    pub dataset: String,
    /// Per-setting summaries, in the same order as the arrays of `results`.
    #[serde(default)]
    pub points: Vec<PointSummary>,
    /// Every successful (setting, image) measurement.
    #[serde(default)]
    pub images: Vec<ImageRecord>,
    /// Every (setting, image) that failed; the run went on without it.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// The command line of the run.
    #[serde(default)]
    pub command: String,
    /// Where it ran.
    #[serde(default)]
    pub machine: Machine,
}

/// CompressAI's `results` object: parallel arrays, one entry per setting.
///
/// Metric entries are `null` where undefined (PSNR of a lossless codec is infinite). When reading
/// published files, `psnr` and `ms-ssim` are accepted for `psnr-rgb` and `ms-ssim-rgb`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Curve {
    /// Bits per pixel of the whole file, averaged over images.
    #[serde(default)]
    pub bpp: Vec<f64>,
    /// RGB PSNR in dB (MSE over all channels), averaged over images.
    #[serde(rename = "psnr-rgb", alias = "psnr", default)]
    pub psnr_rgb: Vec<Option<f64>>,
    /// MS-SSIM on RGB (mean of the channels), averaged over images.
    #[serde(rename = "ms-ssim-rgb", alias = "ms-ssim", default)]
    pub ms_ssim_rgb: Vec<Option<f64>>,
    /// PSNR-HVS in dB, averaged over images.
    #[serde(rename = "psnr-hvs", default)]
    pub psnr_hvs: Vec<Option<f64>>,
    /// Seconds per image to encode (wall clock, including process start for external tools).
    #[serde(default)]
    pub encoding_time: Vec<f64>,
    /// Seconds per image to decode.
    #[serde(default)]
    pub decoding_time: Vec<f64>,
}

/// One setting of one codec, averaged over the images that succeeded.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PointSummary {
    /// The setting's label, as used in cache paths (`q50`, `d1.5`, `qp32`, `lossless`).
    pub setting: String,
    /// The knob (`q`, `d`, `r`, `qp`, `Q`, or empty for lossless) and its value.
    pub knob: String,
    /// The knob's value.
    pub value: f64,
    /// Images measured at this setting.
    pub images: usize,
    /// Images that failed at this setting.
    pub failures: usize,
    /// Mean bits per pixel.
    pub bpp: f64,
    /// Bits per sub-pixel over all images together: 8 × total bytes / total samples.
    pub bpsp: f64,
    /// Mean RGB PSNR (dB); `None` when every image came back exact.
    pub psnr_rgb: Option<f64>,
    /// Mean MS-SSIM.
    pub ms_ssim_rgb: Option<f64>,
    /// Mean PSNR-HVS (dB).
    pub psnr_hvs: Option<f64>,
    /// Mean PSNR-HVS-M (dB).
    pub psnr_hvs_m: Option<f64>,
    /// Whether every image came back bit-exact.
    pub exact: bool,
    /// Mean encode seconds per image.
    pub encoding_time: f64,
    /// Mean decode seconds per image.
    pub decoding_time: f64,
    /// Encode speed: total megapixels / total encode seconds.
    pub encode_mps: f64,
    /// Decode speed: total megapixels / total decode seconds.
    pub decode_mps: f64,
}

/// One measurement: a codec at one setting on one image.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// Codec name.
    pub codec: String,
    /// Setting label (see [`PointSummary::setting`]).
    pub setting: String,
    /// The knob's value.
    pub value: f64,
    /// Image name (file stem).
    pub image: String,
    /// Geometry of the image as measured (MNIST stacks are tiled into one picture).
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    /// File size in bytes (the whole .tsr container for ours, the output file for references).
    pub bytes: u64,
    /// 8 × bytes / pixels.
    pub bpp: f64,
    /// 8 × bytes / (pixels × channels).
    pub bpsp: f64,
    /// RGB PSNR in dB; `None` when exact.
    pub psnr_rgb: Option<f64>,
    /// MS-SSIM; `None` where the metric is undefined for the image (too small).
    pub ms_ssim_rgb: Option<f64>,
    /// PSNR-HVS in dB; `None` when exact.
    pub psnr_hvs: Option<f64>,
    /// PSNR-HVS-M in dB; `None` when exact.
    pub psnr_hvs_m: Option<f64>,
    /// Whether the decoded image equals the original sample for sample.
    pub exact: bool,
    /// Encode wall time in seconds.
    pub encode_s: f64,
    /// Decode wall time in seconds.
    pub decode_s: f64,
}

/// A (codec, setting, image) that did not produce a measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    pub codec: String,
    pub setting: String,
    pub image: String,
    /// `encode`, `decode` or `measure`.
    pub stage: String,
    /// What went wrong (the tool's exit status and the end of its stderr, or our error).
    pub message: String,
}

/// What a cache file holds: the result of one (codec, setting, image).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A measurement.
    Measured(ImageRecord),
    /// A failure, recorded so that a resumed run does not retry it.
    Failed(Failure),
}

/// The machine a run ran on.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    /// Parallel jobs the bench used.
    pub jobs: usize,
    /// Tessera's version.
    pub tessera: String,
}

impl Machine {
    /// The machine this process runs on.
    pub fn current(jobs: usize) -> Self {
        let hostname = std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            hostname,
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            jobs,
            tessera: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What a run directory was made from (`run.json`). A directory can be filled by several
/// invocations on the same dataset; the lists are the union of them all.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// Dataset name.
    pub dataset: String,
    /// Image names in order.
    pub images: Vec<String>,
    /// Codec names in order.
    pub codecs: Vec<String>,
    /// Images whose reconstructions are kept under `decoded/`.
    pub kept: Vec<String>,
    /// Codecs that were asked for but not found on this machine, with the reason.
    #[serde(default)]
    pub skipped: BTreeMap<String, String>,
    /// The command line.
    pub command: String,
    pub machine: Machine,
    /// Seconds the last invocation spent.
    pub elapsed_s: f64,
}

/// The paths inside a run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }
    /// `run.json`.
    pub fn info(&self) -> PathBuf {
        self.root.join("run.json")
    }
    /// The folder of per-codec results.
    pub fn results_dir(&self) -> PathBuf {
        self.root.join("results")
    }
    /// `results/CODEC.json`.
    pub fn results(&self, codec: &str) -> PathBuf {
        self.results_dir().join(format!("{codec}.json"))
    }
    /// The cache file of one (codec, setting, image).
    pub fn cache(&self, codec: &str, setting: &str, image: &str) -> PathBuf {
        self.root.join("cache").join(codec).join(setting).join(format!("{image}.json"))
    }
    /// The kept reconstruction of one (codec, setting, image).
    pub fn decoded(&self, codec: &str, setting: &str, image: &str) -> PathBuf {
        self.root.join("decoded").join(codec).join(setting).join(format!("{image}.png"))
    }
    /// The kept original of an image.
    pub fn original(&self, image: &str) -> PathBuf {
        self.root.join("originals").join(format!("{image}.png"))
    }

    /// Reads `run.json`.
    pub fn read_info(&self) -> Result<RunInfo> {
        read_json(&self.info())
    }

    /// Reads every `results/*.json`, sorted by file name.
    pub fn read_results(&self) -> Result<Vec<CodecResults>> {
        let dir = self.results_dir();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| read_json(p)).collect()
    }
}

/// Reads a JSON file into `T`.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json(path.display().to_string(), e.to_string()))
}

/// Writes `value` as pretty JSON atomically (temporary file, then rename), creating folders.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Json(path.display().to_string(), e.to_string()))?;
    bytes.push(b'\n');
    tessera_core::io::write_atomic(path, &bytes, true)?;
    Ok(())
}

/// Reads a CompressAI-style results file (`{"name", "description", "results": {...}}`), such as
/// the published curves in CompressAI's `results/image/kodak/*.json`, marking it `published`.
pub fn read_compressai(path: &Path) -> Result<CodecResults> {
    let bad = |e: String| Error::Json(path.display().to_string(), e);
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    // Files that carry both spellings (`psnr` and `psnr-rgb`) keep the explicit one.
    if let Some(res) = v.get_mut("results").and_then(|r| r.as_object_mut()) {
        for (alias, name) in [("psnr", "psnr-rgb"), ("ms-ssim", "ms-ssim-rgb")] {
            if res.contains_key(name) {
                res.remove(alias);
            }
        }
    }
    let mut r: CodecResults = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    if r.kind.is_empty() {
        r.kind = "published".into();
    }
    let n = r.results.bpp.len();
    let c = &r.results;
    for (field, len) in [
        ("psnr-rgb", c.psnr_rgb.len()),
        ("ms-ssim-rgb", c.ms_ssim_rgb.len()),
        ("psnr-hvs", c.psnr_hvs.len()),
    ] {
        if len != 0 && len != n {
            return Err(Error::Json(
                path.display().to_string(),
                format!("'{field}' has {len} entries but 'bpp' has {n}"),
            ));
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compressai_published_layout_with_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bpg.json");
        std::fs::write(
            &p,
            r#"{"name": "BPG", "description": "BPG 4:4:4", "results": {
                "psnr": [30.1, 33.2], "ms-ssim": [0.94, 0.97], "bpp": [0.25, 0.5]}}"#,
        )
        .unwrap();
        let r = read_compressai(&p).unwrap();
        assert_eq!(r.name, "BPG");
        assert_eq!(r.kind, "published");
        assert_eq!(r.results.bpp, vec![0.25, 0.5]);
        assert_eq!(r.results.psnr_rgb, vec![Some(30.1), Some(33.2)]);
        assert_eq!(r.results.ms_ssim_rgb, vec![Some(0.94), Some(0.97)]);
    }

    #[test]
    fn reads_files_with_metadata_and_both_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("elic.json");
        std::fs::write(
            &p,
            r#"{"name": "elic2022", "description": "official results",
                "meta": {"source": "paper", "dataset": "kodak", "device": null},
                "results": {"bpp": [0.12, 0.2], "psnr-rgb": [29.1, 30.7], "psnr": [0, 0]}}"#,
        )
        .unwrap();
        let r = read_compressai(&p).unwrap();
        assert_eq!(r.results.psnr_rgb, vec![Some(29.1), Some(30.7)]);
        assert!(r.results.ms_ssim_rgb.is_empty());
    }

    #[test]
    fn rejects_ragged_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        std::fs::write(&p, r#"{"name": "x", "results": {"psnr-rgb": [1, 2, 3], "bpp": [0.1]}}"#)
            .unwrap();
        assert!(read_compressai(&p).is_err());
    }

    #[test]
    fn writes_compressai_field_names_and_round_trips() {
        let r = CodecResults {
            name: "cjpeg".into(),
            results: Curve {
                bpp: vec![0.5],
                psnr_rgb: vec![Some(29.6)],
                ms_ssim_rgb: vec![None],
                ..Curve::default()
            },
            ..CodecResults::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.json");
        write_json(&p, &r).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"psnr-rgb\"") && text.contains("\"ms-ssim-rgb\""));
        assert!(text.contains("\"encoding_time\""));
        let back: CodecResults = read_json(&p).unwrap();
        assert_eq!(back, r);
    }
}

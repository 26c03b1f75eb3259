//! The mainstream codecs, driven from PATH as the same-run reference: each [`Reference`] is a
//! recipe — how to write the input, the encoder's command line, the decoder's — run in a private
//! temporary folder. The rate is the size of the file the encoder wrote; the decoded pixels are
//! read back and judged by Tessera's metric code like every other codec's.
//!
//! A recipe whose programs are not on PATH is skipped with a note ([`Reference::detect`]).
//! `scripts/setup.sh` installs them all from Debian's packages.

pub mod catalog;
pub mod library;
pub mod tool;

use std::path::Path;
use std::time::{Duration, Instant};

use tessera_core::io::{encode_image, read_image, Format};
use tessera_core::Image;

pub use catalog::catalog;

/// The file format a recipe feeds its encoder, or gets from its decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Binary PPM for colour, PGM for gray (OpenJPEG must be fed these: its PNG reader alters
    /// the Kodak pixels).
    Pnm,
    /// PNG.
    Png,
}

impl FileKind {
    fn ext(self, gray: bool) -> &'static str {
        match (self, gray) {
            (FileKind::Pnm, true) => "pgm",
            (FileKind::Pnm, false) => "ppm",
            (FileKind::Png, _) => "png",
        }
    }
}

/// A recipe for one external codec.
///
/// Command lines are templates: `{in}` is the input image, `{out}` the encoded file, `{dec}` the
/// decoded image and `{v}` the setting's value.
#[derive(Clone, Debug)]
pub struct Reference {
    /// Name on the command line (`cjpeg`, `x265`, `jxl-lossless-e7`, …).
    pub name: String,
    /// What it is and how it is run; the tool's version is appended by [`Reference::detect`].
    pub description: String,
    /// Whether it is lossless (one setting).
    pub lossless: bool,
    /// The knob the ladder sets (`q`, `d`, `r`, `qp`, `Q`); empty for lossless recipes.
    pub knob: String,
    /// Valid range of the knob's values.
    pub range: (f64, f64),
    /// The default ladder, spanning about 0.1–2 bpp on Kodak.
    pub ladder: Vec<f64>,
    /// What the encoder reads.
    pub input: FileKind,
    /// Extension of the encoded file.
    pub ext: String,
    /// Encoder command line.
    pub encode: Vec<String>,
    /// Decoder command line; `None` when the encoded file is itself a PNG Tessera reads.
    pub decode: Option<Vec<String>>,
    /// What the decoder writes.
    pub output: FileKind,
    /// An ffmpeg encoder this recipe needs (`libx265`, `jpegls`), checked at detection.
    pub ffmpeg_encoder: Option<String>,
    /// The command that prints the tool's version.
    pub version: Vec<String>,
    /// For a reference linked in as a library: its functions, run instead of the commands.
    pub library: Option<library::Library>,
}

/// One external encode and decode.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Size of the encoded file.
    pub bytes: u64,
    /// The decoded image, with the original's channel count.
    pub decoded: Image,
    /// Encoder wall time (process start included).
    pub encode: Duration,
    /// Decoder wall time (process start included; in-process PNG read for PNG recipes).
    pub decode: Duration,
}

/// Why a trial failed: the stage and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrialError {
    /// `encode`, `decode` or `input`.
    pub stage: &'static str,
    /// What happened.
    pub message: String,
}

fn fail(stage: &'static str, message: impl Into<String>) -> TrialError {
    TrialError { stage, message: message.into() }
}

impl Reference {
    /// The programs a recipe runs (encoder, decoder, and the one its version command asks).
    pub fn programs(&self) -> Vec<&str> {
        if self.library.is_some() {
            return Vec::new();
        }
        // A recipe run through `sh -c` names its real tool in the version command.
        let decode = self.decode.as_ref().map(|d| d[0].as_str());
        let mut p: Vec<&str> = Vec::new();
        for name in [Some(self.encode[0].as_str()), decode, self.version.first().map(String::as_str)].into_iter().flatten() {
            if !p.contains(&name) {
                p.push(name);
            }
        }
        p
    }

    /// Checks that the recipe's programs (and ffmpeg encoder) are here; on success returns
    /// the recipe with the tool's version in its description, else a note saying what is
    /// missing and which package gives it.
    pub fn detect(mut self) -> Result<Reference, String> {
        for p in self.programs() {
            if tool::which(p).is_none() {
                return Err(format!(
                    "{}: '{p}' is not on PATH (skipped; `bash scripts/setup.sh` installs it)",
                    self.name
                ));
            }
        }
        if let Some(enc) = &self.ffmpeg_encoder {
            let out = std::process::Command::new(&self.encode[0])
                .args(["-hide_banner", "-encoders"])
                .output()
                .map_err(|e| format!("{}: {e}", self.name))?;
            let list = String::from_utf8_lossy(&out.stdout);
            if !list.lines().any(|l| l.split_whitespace().nth(1) == Some(enc.as_str())) {
                return Err(format!("{}: this ffmpeg has no '{enc}' encoder (skipped)", self.name));
            }
        }
        if !self.version.is_empty() {
            let argv: Vec<&str> = self.version.iter().map(String::as_str).collect();
            if let Some(v) = tool::banner(&argv) {
                self.description = format!("{} [{v}]", self.description);
            }
        }
        Ok(self)
    }

    /// Checks a ladder value against the knob's range.
    pub fn check_value(&self, v: f64) -> Result<(), String> {
        if self.lossless {
            return Err(format!("{} is lossless and takes no ladder", self.name));
        }
        if !v.is_finite() || v < self.range.0 || v > self.range.1 {
            return Err(format!(
                "{}: {}={v} is outside {}..={}",
                self.name, self.knob, self.range.0, self.range.1
            ));
        }
        Ok(())
    }

    /// Encodes and decodes `image` at setting `value` in a private temporary folder.
    ///
    /// The image must be 8-bit gray or RGB without alpha. A gray image that comes back as RGB
    /// (WebP, HEVC) is turned back into gray from its first channel when the channels agree, or
    /// by BT.601 luma when they do not.
    pub fn trial(&self, image: &Image, value: f64) -> Result<Trial, TrialError> {
        if image.bit_depth() != 8 || !(image.channels() == 1 || image.channels() == 3) || image.frames() != 1 {
            return Err(fail(
                "input",
                format!("{} takes single 8-bit gray or RGB images (got {image:?})", self.name),
            ));
        }
        if let Some(lib) = &self.library {
            return in_process(lib, image, value);
        }
        let gray = image.channels() == 1;
        let dir = tempfile::Builder::new()
            .prefix("tessera-ref-")
            .tempdir()
            .map_err(|e| fail("input", format!("temporary folder: {e}")))?;
        let d = dir.path();
        let input = d.join(format!("in.{}", self.input.ext(gray)));
        let encoded = d.join(format!("out.{}", self.ext));
        let decoded = d.join(format!("dec.{}", self.output.ext(gray)));
        let format = match self.input {
            FileKind::Pnm => Format::Pnm,
            FileKind::Png => Format::Png,
        };
        let bytes = encode_image(image, format).map_err(|e| fail("input", e.to_string()))?;
        std::fs::write(&input, bytes).map_err(|e| fail("input", e.to_string()))?;
        let fill = |t: &[String]| -> Vec<String> {
            t.iter()
                .map(|a| {
                    a.replace("{in}", &input.to_string_lossy())
                        .replace("{out}", &encoded.to_string_lossy())
                        .replace("{dec}", &decoded.to_string_lossy())
                        .replace("{v}", &format_value(value))
                })
                .collect()
        };
        let encode = tool::run(&fill(&self.encode), d, tool::TIME_LIMIT).map_err(|m| fail("encode", m))?;
        let size = std::fs::metadata(&encoded)
            .map_err(|_| fail("encode", format!("{} wrote no output file", self.encode[0])))?
            .len();
        if size == 0 {
            return Err(fail("encode", format!("{} wrote an empty file", self.encode[0])));
        }
        let (back, decode) = match &self.decode {
            Some(t) => {
                let took = tool::run(&fill(t), d, tool::TIME_LIMIT).map_err(|m| fail("decode", m))?;
                (read_back(&decoded)?, took)
            }
            None => {
                let start = Instant::now();
                let img = read_back(&encoded)?;
                (img, start.elapsed())
            }
        };
        let back = match_channels(back, image.channels()).map_err(|m| fail("decode", m))?;
        if (back.width(), back.height()) != (image.width(), image.height()) {
            return Err(fail(
                "decode",
                format!(
                    "decoded {}x{} from a {}x{} image",
                    back.width(),
                    back.height(),
                    image.width(),
                    image.height()
                ),
            ));
        }
        Ok(Trial { bytes: size, decoded: back, encode, decode })
    }
}

/// A trial of a library reference: encode and decode in memory.
fn in_process(lib: &library::Library, image: &Image, value: f64) -> Result<Trial, TrialError> {
    let start = Instant::now();
    let file = (lib.encode)(image, value).map_err(|m| fail("encode", m))?;
    let encode = start.elapsed();
    let start = Instant::now();
    let back = (lib.decode)(&file, image.channels()).map_err(|m| fail("decode", m))?;
    let decode = start.elapsed();
    if (back.width(), back.height()) != (image.width(), image.height()) {
        return Err(fail("decode", "the decoded image has another size"));
    }
    Ok(Trial { bytes: file.len() as u64, decoded: back, encode, decode })
}

fn read_back(p: &Path) -> Result<Image, TrialError> {
    let img = read_image(p).map_err(|e| fail("decode", format!("cannot read the decoded image: {e}")))?;
    if img.bit_depth() != 8 {
        return Err(fail("decode", format!("decoded image is {}-bit", img.bit_depth())));
    }
    Ok(img)
}

/// Brings a decoded image to `channels` (1 or 3): drops alpha, turns gray into RGB by copying,
/// RGB into gray by its first channel when all agree, else by BT.601 luma.
pub fn match_channels(img: Image, channels: u8) -> Result<Image, String> {
    let have = img.channels();
    if have == channels {
        return Ok(img);
    }
    let (w, h) = (img.width(), img.height());
    let px = img.samples().chunks(usize::from(have));
    let out: Vec<u16> = match (have, channels) {
        (3 | 4, 1) => px
            .map(|p| {
                if p[0] == p[1] && p[1] == p[2] {
                    p[0]
                } else {
                    ((299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]) + 500) / 1000) as u16
                }
            })
            .collect(),
        (1 | 2, 3) => px.flat_map(|p| [p[0], p[0], p[0]]).collect(),
        (4, 3) => px.flat_map(|p| [p[0], p[1], p[2]]).collect(),
        (2, 1) => px.map(|p| p[0]).collect(),
        _ => return Err(format!("cannot turn {have} channels into {channels}")),
    };
    Image::new(w, h, channels, img.bit_depth(), out).map_err(|e| e.to_string())
}

/// A ladder value as a tool argument: `5` rather than `5.0`, `1.5` as it is.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Image {
        let px: Vec<u8> = (0..48 * 40 * 3).map(|i| ((i * 7 + i / 97) % 251) as u8).collect();
        Image::from_u8(48, 40, 3, &px).unwrap()
    }

    fn recipe(encode: &[&str], decode: Option<&[&str]>) -> Reference {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Reference {
            name: "fake".into(),
            description: "a test recipe".into(),
            lossless: true,
            knob: String::new(),
            range: (0.0, 0.0),
            ladder: vec![],
            input: FileKind::Pnm,
            ext: "bin".into(),
            encode: s(encode),
            decode: decode.map(s),
            output: FileKind::Pnm,
            ffmpeg_encoder: None,
            version: vec![],
            library: None,
        }
    }

    #[test]
    fn a_copying_recipe_round_trips_and_counts_file_bytes() {
        let r = recipe(&["cp", "{in}", "{out}"], Some(&["cp", "{out}", "{dec}"]));
        let img = sample();
        let t = r.trial(&img, 0.0).unwrap();
        assert_eq!(t.decoded, img);
        assert_eq!(t.bytes as usize, encode_image(&img, Format::Pnm).unwrap().len());
    }

    #[test]
    fn a_failing_or_silent_tool_is_a_trial_error() {
        let img = sample();
        let e = recipe(&["false"], None).trial(&img, 0.0).unwrap_err();
        assert_eq!(e.stage, "encode");
        let e = recipe(&["true"], None).trial(&img, 0.0).unwrap_err();
        assert!(e.message.contains("no output"), "{e:?}");
        let e = recipe(&["cp", "{in}", "{out}"], Some(&["false"])).trial(&img, 0.0).unwrap_err();
        assert_eq!(e.stage, "decode");
        // A decoder that writes garbage is a decode failure, not a crash.
        let garbage = recipe(&["cp", "{in}", "{out}"], Some(&["sh", "-c", "echo junk > {dec}"]));
        assert_eq!(garbage.trial(&img, 0.0).unwrap_err().stage, "decode");
    }

    #[test]
    fn missing_programs_are_skipped_with_a_note() {
        let r = recipe(&["no-such-encoder-tessera", "{in}"], Some(&["cp", "{out}", "{dec}"]));
        let note = r.detect().unwrap_err();
        assert!(note.contains("no-such-encoder-tessera") && note.contains("skipped"), "{note}");
        assert!(recipe(&["cp", "{in}", "{out}"], None).detect().is_ok());
    }

    #[test]
    fn channels_are_matched_and_values_formatted() {
        let rgb = Image::from_u8(2, 1, 3, &[5, 5, 5, 30, 60, 90]).unwrap();
        let g = match_channels(rgb, 1).unwrap();
        assert_eq!(g.samples(), &[5, 54]);
        assert_eq!(format_value(5.0), "5");
        assert_eq!(format_value(1.5), "1.5");
    }
}

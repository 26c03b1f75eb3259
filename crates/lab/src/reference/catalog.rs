//! The recipes: the six lossy references (JPEG, WebP, JPEG 2000, JPEG XL, AVIF, HEVC intra) and
//! the lossless ones (optimised PNG, WebP lossless, JPEG-LS, JPEG 2000 lossless, JPEG XL
//! lossless at two efforts), with flags as ANCHORS.md gives them, and gzip and xz on the raw samples
//! as the general-purpose baseline.
//!
//! Default ladders span about 0.1–2 bpp on Kodak (measured on this kind of machine; photos with
//! more detail go higher).

use super::{FileKind, Reference};

fn argv(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[allow(clippy::too_many_arguments)]
fn lossy(
    name: &str,
    description: &str,
    knob: &str,
    range: (f64, f64),
    ladder: &[f64],
    input: FileKind,
    ext: &str,
    encode: &[&str],
    decode: &[&str],
    output: FileKind,
    version: &[&str],
) -> Reference {
    Reference {
        name: name.into(),
        description: description.into(),
        lossless: false,
        knob: knob.into(),
        range,
        ladder: ladder.to_vec(),
        input,
        ext: ext.into(),
        encode: argv(encode),
        decode: Some(argv(decode)),
        output,
        ffmpeg_encoder: None,
        version: argv(version),
        library: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn lossless(
    name: &str,
    description: &str,
    input: FileKind,
    ext: &str,
    encode: &[&str],
    decode: Option<&[&str]>,
    output: FileKind,
    version: &[&str],
) -> Reference {
    Reference {
        name: name.into(),
        description: description.into(),
        lossless: true,
        knob: String::new(),
        range: (0.0, 0.0),
        ladder: vec![],
        input,
        ext: ext.into(),
        encode: argv(encode),
        decode: decode.map(argv),
        output,
        ffmpeg_encoder: None,
        version: argv(version),
        library: None,
    }
}

/// A general-purpose compressor run through `sh -c` on the PNM file (the tools write to standard
/// output; the paths travel as positional arguments, never inside the script).
fn general_purpose(name: &str, description: &str, ext: &str, encode: &str, decode: &str) -> Reference {
    lossless(
        name,
        description,
        FileKind::Pnm,
        ext,
        &["sh", "-c", encode, "sh", "{in}", "{out}"],
        Some(&["sh", "-c", decode, "sh", "{out}", "{dec}"]),
        FileKind::Pnm,
        &[name, "--version"],
    )
}

const FFMPEG: &[&str] = &["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"];

/// Every recipe, lossy first.
pub fn catalog() -> Vec<Reference> {
    let ff = |rest: &[&str]| -> Vec<String> { FFMPEG.iter().chain(rest).map(|s| s.to_string()).collect() };
    let mut hevc = lossy(
        "x265",
        "HEVC intra 4:4:4 (BPG equivalent): ffmpeg libx265 -preset veryslow -tune psnr, qp ladder, BT.601 full range",
        "qp",
        (0.0, 51.0),
        &[46.0, 42.0, 38.0, 35.0, 32.0, 29.0, 26.0, 23.0, 20.0],
        FileKind::Png,
        "hevc",
        &[],
        &[],
        FileKind::Png,
        &["ffmpeg", "-version"],
    );
    hevc.encode = ff(&[
        "-i", "{in}",
        "-vf", "scale=out_color_matrix=bt601:out_range=full",
        "-pix_fmt", "yuv444p",
        "-c:v", "libx265", "-preset", "veryslow", "-tune", "psnr",
        "-x265-params", "keyint=1:qp={v}:range=full:colormatrix=smpte170m",
        "-frames:v", "1", "-f", "hevc", "{out}",
    ]);
    hevc.decode = Some(ff(&[
        "-i", "{out}",
        "-vf", "scale=in_color_matrix=bt601:in_range=full",
        "-pix_fmt", "rgb24", "-frames:v", "1", "{dec}",
    ]));
    hevc.ffmpeg_encoder = Some("libx265".into());

    let mut jpegls = lossless(
        "jpegls",
        "JPEG-LS (ffmpeg's encoder, no colour transform)",
        FileKind::Pnm,
        "jls",
        &[],
        None,
        FileKind::Pnm,
        &["ffmpeg", "-version"],
    );
    jpegls.encode = ff(&["-i", "{in}", "-c:v", "jpegls", "-frames:v", "1", "-f", "rawvideo", "{out}"]);
    jpegls.decode = Some(ff(&["-f", "jpegls_pipe", "-i", "{out}", "-frames:v", "1", "-f", "image2", "-c:v", "ppm", "{dec}"]));
    jpegls.ffmpeg_encoder = Some("jpegls".into());
    // ffmpeg's PPM writer keeps gray as gray (P5) whatever the name; the decoded file is read
    // by content, so its extension does not matter.

    let all = vec![
        lossy(
            "cjpeg",
            "JPEG, libjpeg-turbo cjpeg -optimize, 4:2:0",
            "q",
            (1.0, 100.0),
            &[5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 85.0, 92.0],
            FileKind::Pnm,
            "jpg",
            &["cjpeg", "-quality", "{v}", "-optimize", "-sample", "2x2", "-outfile", "{out}", "{in}"],
            &["djpeg", "-pnm", "-outfile", "{dec}", "{out}"],
            FileKind::Pnm,
            &["cjpeg", "-version"],
        ),
        lossy(
            "cwebp",
            "WebP, cwebp -m 6",
            "q",
            (0.0, 100.0),
            &[2.0, 8.0, 20.0, 35.0, 50.0, 65.0, 78.0, 88.0, 94.0],
            FileKind::Png,
            "webp",
            &["cwebp", "-quiet", "-m", "6", "-q", "{v}", "{in}", "-o", "{out}"],
            &["dwebp", "-quiet", "{out}", "-ppm", "-o", "{dec}"],
            FileKind::Pnm,
            &["cwebp", "-version"],
        ),
        lossy(
            "openjpeg",
            "JPEG 2000, OpenJPEG opj_compress -r (compression ratio ladder), PPM input",
            "r",
            (1.0, 10_000.0),
            &[240.0, 160.0, 96.0, 64.0, 48.0, 32.0, 24.0, 16.0, 12.0],
            FileKind::Pnm,
            "j2k",
            &["opj_compress", "-i", "{in}", "-o", "{out}", "-r", "{v}"],
            &["opj_decompress", "-i", "{out}", "-o", "{dec}"],
            FileKind::Pnm,
            &[],
        ),
        lossy(
            "cjxl",
            "JPEG XL, cjxl -e 7, distance ladder (tuned for perception, not PSNR)",
            "d",
            (0.01, 25.0),
            &[15.0, 10.0, 7.0, 5.0, 3.5, 2.5, 1.7, 1.1, 0.7],
            FileKind::Png,
            "jxl",
            &["cjxl", "{in}", "{out}", "-d", "{v}", "-e", "7", "--quiet"],
            &["djxl", "{out}", "{dec}", "--quiet"],
            FileKind::Png,
            &["cjxl", "--version"],
        ),
        lossy(
            "avif",
            "AVIF, avifenc (aom) -s 6, 4:4:4, quantiser ladder (--min Q --max Q)",
            "Q",
            (1.0, 63.0),
            &[58.0, 52.0, 46.0, 40.0, 34.0, 28.0, 22.0, 16.0, 10.0],
            FileKind::Png,
            "avif",
            &["avifenc", "-c", "aom", "-s", "6", "-y", "444", "-j", "1", "--min", "{v}", "--max", "{v}", "{in}", "{out}"],
            &["avifdec", "-j", "1", "{out}", "{dec}"],
            FileKind::Png,
            &["avifenc", "--version"],
        ),
        hevc,
        lossless(
            "optipng",
            "PNG, optipng -o2",
            FileKind::Png,
            "png",
            &["optipng", "-quiet", "-o2", "-out", "{out}", "{in}"],
            None,
            FileKind::Png,
            &["optipng", "-v"],
        ),
        lossless(
            "webp-lossless",
            "WebP lossless, cwebp -lossless -z 9",
            FileKind::Png,
            "webp",
            &["cwebp", "-quiet", "-lossless", "-z", "9", "{in}", "-o", "{out}"],
            Some(&["dwebp", "-quiet", "{out}", "-ppm", "-o", "{dec}"]),
            FileKind::Pnm,
            &["cwebp", "-version"],
        ),
        jpegls,
        lossless(
            "openjpeg-lossless",
            "JPEG 2000 lossless, OpenJPEG opj_compress (5/3 wavelet, RCT), PPM input",
            FileKind::Pnm,
            "j2k",
            &["opj_compress", "-i", "{in}", "-o", "{out}"],
            Some(&["opj_decompress", "-i", "{out}", "-o", "{dec}"]),
            FileKind::Pnm,
            &[],
        ),
        lossless(
            "jxl-lossless-e3",
            "JPEG XL lossless, cjxl -d 0 -e 3",
            FileKind::Png,
            "jxl",
            &["cjxl", "{in}", "{out}", "-d", "0", "-e", "3", "--quiet"],
            Some(&["djxl", "{out}", "{dec}", "--quiet"]),
            FileKind::Png,
            &["cjxl", "--version"],
        ),
        lossless(
            "jxl-lossless-e7",
            "JPEG XL lossless, cjxl -d 0 -e 7",
            FileKind::Png,
            "jxl",
            &["cjxl", "{in}", "{out}", "-d", "0", "-e", "7", "--quiet"],
            Some(&["djxl", "{out}", "{dec}", "--quiet"]),
            FileKind::Png,
            &["cjxl", "--version"],
        ),
        general_purpose("gzip", "gzip -9 on the raw PNM samples (a general-purpose compressor, no image model)", "gz", "gzip -9 -n -c -- \"$1\" > \"$2\"", "gzip -d -c -- \"$1\" > \"$2\""),
        general_purpose("xz", "xz -9e on the raw PNM samples (a general-purpose compressor, no image model)", "xz", "xz -9e -c -- \"$1\" > \"$2\"", "xz -d -c -- \"$1\" > \"$2\""),
    ];
    #[cfg(feature = "mozjpeg")]
    let all = {
        let mut all = all;
        all.insert(1, mozjpeg());
        all
    };
    all
}

/// mozjpeg linked in through its crate (`--features mozjpeg`): the JPEG encoder that squeezes
/// the most out of the format, beside libjpeg-turbo's `cjpeg`.
#[cfg(feature = "mozjpeg")]
fn mozjpeg() -> Reference {
    use super::library::{mozjpeg_lib, Library};
    let mut r = lossy(
        "mozjpeg",
        "JPEG, mozjpeg 4 through the mozjpeg crate 0.10 (its default profile: trellis quantisation, optimised progressive scans, 4:2:0)",
        "q",
        (1.0, 100.0),
        &[5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 85.0, 92.0],
        FileKind::Pnm,
        "jpg",
        &[],
        &[],
        FileKind::Pnm,
        &[],
    );
    r.library = Some(Library { encode: mozjpeg_lib::encode, decode: mozjpeg_lib::decode });
    r
}

/// The recipe called `name`.
pub fn find(name: &str) -> Option<Reference> {
    catalog().into_iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_ladders_valid() {
        let all = catalog();
        let mut names: Vec<_> = all.iter().map(|r| r.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(all.iter().filter(|r| !r.lossless).count(), 6 + usize::from(cfg!(feature = "mozjpeg")));
        for r in all.iter().filter(|r| !r.lossless) {
            assert!(r.ladder.len() >= 6, "{}", r.name);
            for &v in &r.ladder {
                r.check_value(v).unwrap();
            }
            assert!(r.check_value(f64::NAN).is_err());
            assert!(r.check_value(r.range.1 + 1.0).is_err());
        }
    }

    #[test]
    fn gzip_round_trips_a_gray_picture_through_sh() {
        // gzip is part of every Debian system; its recipe exercises the `sh -c` path.
        let r = find("gzip").unwrap().detect().unwrap();
        assert_eq!(r.programs(), ["sh", "gzip"]);
        let samples: Vec<u8> = (0..37u32 * 23).map(|i| (i * 7 % 256) as u8).collect();
        let img = tessera_core::Image::from_u8(37, 23, 1, &samples).unwrap();
        let t = r.trial(&img, 0.0).unwrap();
        assert_eq!(t.decoded, img);
        assert!(t.bytes > 0 && t.bytes < 37 * 23);
    }
}

//! Turning per-image outcomes into per-codec results: per-setting means, bpsp over the whole
//! set, speeds, and CompressAI's parallel arrays.

use crate::results::{CodecResults, Curve, Failure, ImageRecord, Machine, PointSummary};

/// Everything the summary needs to know about a codec besides its outcomes.
pub struct CodecInfo<'a> {
    pub name: &'a str,
    pub description: String,
    pub kind: &'a str,
    pub lossless: bool,
    pub dataset: &'a str,
    pub command: &'a str,
    pub machine: &'a Machine,
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// The summary of one setting over its records. `None` when no image succeeded.
pub fn summarise(setting: &str, knob: &str, value: f64, recs: &[&ImageRecord], failures: usize) -> Option<PointSummary> {
    if recs.is_empty() {
        return None;
    }
    let pixels: f64 = recs.iter().map(|r| f64::from(r.width) * f64::from(r.height)).sum();
    let samples: f64 = recs.iter().map(|r| f64::from(r.width) * f64::from(r.height) * f64::from(r.channels)).sum();
    let bytes: f64 = recs.iter().map(|r| r.bytes as f64).sum();
    let enc: f64 = recs.iter().map(|r| r.encode_s).sum();
    let dec: f64 = recs.iter().map(|r| r.decode_s).sum();
    let n = recs.len() as f64;
    let mps = |s: f64| if s > 0.0 { pixels / 1e6 / s } else { 0.0 };
    Some(PointSummary {
        setting: setting.into(),
        knob: knob.into(),
        value,
        images: recs.len(),
        failures,
        bpp: mean(recs.iter().map(|r| r.bpp)).unwrap_or(0.0),
        bpsp: 8.0 * bytes / samples,
        psnr_rgb: mean(recs.iter().filter_map(|r| r.psnr_rgb)),
        ms_ssim_rgb: mean(recs.iter().filter_map(|r| r.ms_ssim_rgb)),
        psnr_hvs: mean(recs.iter().filter_map(|r| r.psnr_hvs)),
        psnr_hvs_m: mean(recs.iter().filter_map(|r| r.psnr_hvs_m)),
        exact: recs.iter().all(|r| r.exact),
        encoding_time: enc / n,
        decoding_time: dec / n,
        encode_mps: mps(enc),
        decode_mps: mps(dec),
    })
}

/// Builds a codec's results from its records and failures. `settings` gives (label, knob,
/// value) in ladder order; points come out sorted by rate.
pub fn codec_results(
    info: &CodecInfo,
    settings: &[(String, String, f64)],
    records: Vec<ImageRecord>,
    failures: Vec<Failure>,
) -> CodecResults {
    let mut points: Vec<PointSummary> = settings
        .iter()
        .filter_map(|(label, knob, value)| {
            let recs: Vec<&ImageRecord> = records.iter().filter(|r| &r.setting == label).collect();
            let failed = failures.iter().filter(|f| &f.setting == label).count();
            summarise(label, knob, *value, &recs, failed)
        })
        .collect();
    points.sort_by(|a, b| a.bpp.total_cmp(&b.bpp));
    let results = Curve {
        bpp: points.iter().map(|p| p.bpp).collect(),
        psnr_rgb: points.iter().map(|p| p.psnr_rgb).collect(),
        ms_ssim_rgb: points.iter().map(|p| p.ms_ssim_rgb).collect(),
        psnr_hvs: points.iter().map(|p| p.psnr_hvs).collect(),
        encoding_time: points.iter().map(|p| p.encoding_time).collect(),
        decoding_time: points.iter().map(|p| p.decoding_time).collect(),
    };
    CodecResults {
        name: info.name.into(),
        description: info.description.clone(),
        results,
        lossless: info.lossless,
        kind: info.kind.into(),
        dataset: info.dataset.into(),
        points,
        images: records,
        failures,
        command: info.command.into(),
        machine: info.machine.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(setting: &str, image: &str, bytes: u64, psnr: Option<f64>) -> ImageRecord {
        ImageRecord {
            codec: "c".into(),
            setting: setting.into(),
            image: image.into(),
            width: 10,
            height: 10,
            channels: 3,
            bytes,
            bpp: bytes as f64 * 8.0 / 100.0,
            bpsp: bytes as f64 * 8.0 / 300.0,
            psnr_rgb: psnr,
            exact: psnr.is_none(),
            encode_s: 0.5,
            decode_s: 0.25,
            ..ImageRecord::default()
        }
    }

    #[test]
    fn means_per_setting_sorted_by_rate_with_failures_counted() {
        let machine = Machine::default();
        let info = CodecInfo { name: "c", description: "d".into(), kind: "ours", lossless: false, dataset: "k", command: "", machine: &machine };
        let settings = vec![("q90".to_string(), "q".to_string(), 90.0), ("q10".to_string(), "q".to_string(), 10.0)];
        let records = vec![rec("q90", "a", 100, Some(40.0)), rec("q90", "b", 50, Some(30.0)), rec("q10", "a", 10, Some(20.0))];
        let failures = vec![Failure { setting: "q10".into(), image: "b".into(), ..Failure::default() }];
        let r = codec_results(&info, &settings, records, failures);
        assert_eq!(r.results.bpp, vec![0.8, 6.0]);
        assert_eq!(r.results.psnr_rgb, vec![Some(20.0), Some(35.0)]);
        assert_eq!(r.points[0].failures, 1);
        assert_eq!(r.points[1].images, 2);
        assert!((r.points[1].bpsp - 8.0 * 150.0 / 600.0).abs() < 1e-12);
        // 200 pixels in 1.0 s of encoding.
        assert!((r.points[1].encode_mps - 200.0 / 1e6).abs() < 1e-12);
    }
}

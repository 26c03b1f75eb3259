//! The same-run reference tables as Markdown: lossless bits per sub-pixel and speeds; lossy PSNR
//! at fixed rates and BD-rates against chosen anchors (by `tessera_metrics::bd_rate`).

use std::fmt::Write;

use crate::results::CodecResults;

/// RGB PSNR at `bpp`, interpolated linearly in log(bpp) between the two nearest points of the
/// curve; `None` outside the measured range.
pub fn psnr_at(r: &CodecResults, bpp: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> = r.points.iter().filter_map(|p| Some((p.bpp, p.psnr_rgb?))).filter(|(b, _)| *b > 0.0).collect();
    pts.windows(2).find_map(|w| {
        let ((b0, p0), (b1, p1)) = (w[0], w[1]);
        if b0 <= bpp && bpp <= b1 && b1 > b0 {
            let t = (bpp.ln() - b0.ln()) / (b1.ln() - b0.ln());
            Some(p0 + t * (p1 - p0))
        } else {
            None
        }
    })
}

/// BD-rate (percent) of `test` against `anchor` on PSNR, or `None` when the curves do not
/// overlap enough.
pub fn bd_rate_psnr(anchor: &CodecResults, test: &CodecResults) -> Option<f64> {
    let curve = |r: &CodecResults| -> Vec<(f64, f64)> {
        r.points.iter().filter_map(|p| Some((p.bpp, p.psnr_rgb?))).collect()
    };
    let (a, t) = (curve(anchor), curve(test));
    if a.len() < 4 || t.len() < 4 {
        return None;
    }
    crate::bench::measure::bd_rate(&a, &t)
}

/// The lossless table: codec, bpsp over the set, encode and decode MP/s.
pub fn lossless_table(results: &[CodecResults]) -> String {
    let mut s = String::from("| lossless | bpsp | encode MP/s | decode MP/s |\n|---|---|---|---|\n");
    for r in results.iter().filter(|r| r.lossless) {
        if let Some(p) = r.points.first() {
            let _ = writeln!(s, "| {} | {:.3} | {:.2} | {:.2} |", r.name, p.bpsp, p.encode_mps, p.decode_mps);
        }
    }
    s
}

/// The lossy table: PSNR at 0.25 / 0.5 / 1.0 bpp and BD-rate against each anchor present.
pub fn lossy_table(results: &[CodecResults], anchors: &[&str]) -> String {
    let anchors: Vec<&CodecResults> = anchors.iter().filter_map(|a| results.iter().find(|r| r.name == *a && !r.lossless)).collect();
    let mut s = String::from("| lossy | PSNR at 0.25 / 0.5 / 1.0 bpp |");
    for a in &anchors {
        let _ = write!(s, " BD-rate vs {} |", a.name);
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(anchors.len()));
    s.push('\n');
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into());
    for r in results.iter().filter(|r| !r.lossless) {
        let _ = write!(s, "| {} | {} / {} / {} |", r.name, fmt(psnr_at(r, 0.25)), fmt(psnr_at(r, 0.5)), fmt(psnr_at(r, 1.0)));
        for a in &anchors {
            let cell = if a.name == r.name {
                "0".to_string()
            } else {
                bd_rate_psnr(a, r).map(|v| format!("{v:+.1}%")).unwrap_or_else(|| "—".into())
            };
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::PointSummary;

    fn curve(name: &str, pts: &[(f64, f64)]) -> CodecResults {
        CodecResults {
            name: name.into(),
            points: pts.iter().map(|&(bpp, p)| PointSummary { bpp, psnr_rgb: Some(p), ..PointSummary::default() }).collect(),
            ..CodecResults::default()
        }
    }

    #[test]
    fn interpolates_in_log_rate() {
        let r = curve("a", &[(0.25, 30.0), (1.0, 40.0)]);
        assert!((psnr_at(&r, 0.5).unwrap() - 35.0).abs() < 1e-12);
        assert_eq!(psnr_at(&r, 0.1), None);
        assert_eq!(psnr_at(&r, 2.0), None);
    }
}

//! `tessera report`: one self-contained HTML page from a bench run — rate–distortion plots,
//! BD-rate / BD-PSNR / AUC tables against an anchor, lossless sizes and speeds, failures, and
//! zoomable crops of every codec's reconstruction at a matched rate beside the original.
//!
//! The page is `index.html` with the crops in `img/` and every plot as a PNG in `plots/`
//! beside it; it needs no network, no script library and no font files (the plots on the page
//! are inline SVG).

pub mod mnist;
pub mod plot;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::results::{CodecResults, PointSummary, RunDir};
use crate::{Error, Result};
use plot::{bar_chart, line_chart, Chart, Series, Style};

/// What the report compares against and where it looks.
#[derive(Clone, Debug)]
pub struct Options {
    /// The anchor of the BD tables (a lossy codec of the run); the first of these present.
    pub anchors: Vec<String>,
    /// The rate at which crops are compared, bits per pixel.
    pub crop_bpp: f64,
    /// Published curves (CompressAI's JSON layout) drawn beside the measured ones, dotted;
    /// they are not part of the tables, which hold only what ran here.
    pub published: Vec<CodecResults>,
    /// An MNIST section (study folder and/or MNIST bench run) added to the page.
    pub mnist: Option<mnist::Inputs>,
}

impl Default for Options {
    fn default() -> Self {
        Options { anchors: vec!["x265".into(), "cjpeg".into()], crop_bpp: 0.5, published: Vec::new(), mnist: None }
    }
}

/// Writes `out/index.html` (and `out/img/`) for the run in `run`; returns the page's path.
pub fn write(run: &RunDir, out: &Path, opts: &Options) -> Result<PathBuf> {
    let info = run.read_info()?;
    let results = run.read_results()?;
    if results.is_empty() {
        return Err(Error::Invalid(format!("{} holds no results: run `tessera bench` first", run.root.display())));
    }
    let img_dir = out.join("img");
    std::fs::create_dir_all(&img_dir).map_err(|e| Error::io(&img_dir, e))?;
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let (lossless, lossy): (Vec<&CodecResults>, Vec<&CodecResults>) = results.iter().partition(|r| r.lossless);
    let anchor = opts.anchors.iter().find_map(|a| lossy.iter().find(|r| &r.name == a)).copied();

    let mut body = String::new();
    let _ = write!(
        body,
        "<header><h1>Tessera lab report</h1><p class=\"sub\">Dataset <b>{}</b>, {} images · {} codecs · rates are whole files (8 × bytes / pixels) · every metric computed by <code>tessera-metrics</code></p></header>",
        esc(&info.dataset),
        info.images.len(),
        results.len()
    );
    if !lossy.is_empty() {
        body.push_str(&lossy_section(&lossy, anchor, &opts.published, &plots)?);
        body.push_str(&crops_section(run, &img_dir, &lossy, &info.kept, opts.crop_bpp)?);
    }
    if !lossless.is_empty() {
        body.push_str(&lossless_section(&lossless, &plots)?);
    }
    body.push_str(&failures_section(&results));
    if let Some(m) = &opts.mnist {
        body.push_str(&mnist::section(m, out, &plots)?);
    }
    let _ = write!(
        body,
        "<section><h2>How this was made</h2><p><code>{}</code></p><p>Machine: {} {} ({} CPUs, {} jobs), tessera {}.</p>{}</section>",
        esc(&info.command),
        esc(&info.machine.os),
        esc(&info.machine.arch),
        info.machine.cpus,
        info.machine.jobs,
        esc(&info.machine.tessera),
        if info.skipped.is_empty() {
            String::new()
        } else {
            format!(
                "<p>Skipped: {}</p>",
                info.skipped.iter().map(|(k, v)| format!("<b>{}</b> ({})", esc(k), esc(v))).collect::<Vec<_>>().join(", ")
            )
        }
    );
    let page = format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Tessera lab report — {}</title><style>{CSS}{}</style></head><body>{body}<script>{JS}</script></body></html>", esc(&info.dataset), mnist::MNIST_CSS);
    let path = out.join("index.html");
    tessera_core::io::write_atomic(&path, page.as_bytes(), true)?;
    Ok(path)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn points(r: &CodecResults, f: impl Fn(&PointSummary) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = r.points.iter().filter_map(|s| f(s).map(|v| (s.bpp, v))).filter(|p| p.0 > 0.0 && p.1.is_finite()).collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p.dedup_by(|a, b| a.0 == b.0);
    p
}

fn ms_ssim_db(v: f64) -> Option<f64> {
    (v < 1.0).then(|| -10.0 * (1.0 - v).log10())
}

/// Quality at `bpp` by linear interpolation in log-rate, when the curve spans it.
fn at_rate(curve: &[(f64, f64)], bpp: f64) -> Option<f64> {
    curve.windows(2).find(|w| w[0].0 <= bpp && bpp <= w[1].0).map(|w| {
        let t = (bpp.ln() - w[0].0.ln()) / (w[1].0.ln() - w[0].0.ln());
        w[0].1 + t * (w[1].1 - w[0].1)
    })
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.digits$}"))
}

/// A chart as a figure: the SVG inline, the PNG written to `plots/NAME.png` and linked.
fn figure(chart: std::result::Result<Chart, String>, plots: &Path, name: &str, caption: &str) -> Result<String> {
    let chart = chart.map_err(|m| Error::Invalid(format!("plot {name}: {m}")))?;
    let link = if chart.png.is_empty() {
        String::new()
    } else {
        let path = plots.join(format!("{name}.png"));
        tessera_core::io::write_atomic(&path, &chart.png, true)?;
        format!(" <a href=\"plots/{name}.png\">PNG</a>")
    };
    Ok(format!("<figure><div class=\"chart\">{}</div><figcaption>{caption}{link}</figcaption></figure>", chart.svg))
}

fn lossy_section(lossy: &[&CodecResults], anchor: Option<&CodecResults>, published: &[CodecResults], plots: &Path) -> Result<String> {
    let style = |r: &CodecResults| if r.kind == "ours" { Style::Ours } else { Style::Reference };
    let series = |f: &dyn Fn(&PointSummary) -> Option<f64>| -> Vec<Series> {
        lossy.iter().map(|r| Series { name: r.name.clone(), points: points(r, f), style: style(r) }).collect()
    };
    let psnr = series(&|p| p.psnr_rgb);
    let msssim = series(&|p| p.ms_ssim_rgb.and_then(ms_ssim_db));
    let hvs = series(&|p| p.psnr_hvs);
    // Published files give averaged curves only.
    let with_published = |mut measured: Vec<Series>, f: &dyn Fn(&CodecResults, usize) -> Option<f64>| {
        for r in published {
            let mut pts: Vec<(f64, f64)> = (0..r.results.bpp.len()).filter_map(|i| f(r, i).map(|v| (r.results.bpp[i], v))).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            measured.push(Series { name: format!("{} (published)", r.name), points: pts, style: Style::Published });
        }
        measured
    };
    let psnr_plot = with_published(psnr.clone(), &|r, i| r.results.psnr_rgb.get(i).copied().flatten());
    let msssim_plot = with_published(msssim.clone(), &|r, i| r.results.ms_ssim_rgb.get(i).copied().flatten().and_then(ms_ssim_db));
    let spans: Vec<(f64, f64)> = psnr.iter().filter_map(|s| Some((s.points.first()?.0, s.points.last()?.0))).collect();
    let (lo, hi, covered) = auc_range(&spans).unwrap_or((0.0, 0.0, 0));
    let mut rows = String::new();
    let mut best: Vec<(f64, String, f64)> = Vec::new();
    for (i, r) in lossy.iter().enumerate() {
        let p = &psnr[i].points;
        let at: Vec<Option<f64>> = [0.25, 0.5, 1.0].iter().map(|&b| at_rate(p, b)).collect();
        for (k, &b) in [0.25, 0.5, 1.0].iter().enumerate() {
            if let Some(v) = at[k] {
                if best.iter().find(|x| x.0 == b).is_none_or(|x| v > x.2) {
                    best.retain(|x| x.0 != b);
                    best.push((b, r.name.clone(), v));
                }
            }
        }
        let (bd, bdp) = match anchor {
            Some(a) => {
                let ap = points(a, |p| p.psnr_rgb);
                (tessera_metrics::bd_rate(&ap, p).ok(), tessera_metrics::bd_psnr(&ap, p).ok())
            }
            None => (None, None),
        };
        // `auc` refuses an empty range and a curve that does not span it: those show —.
        let auc = |pts: &[(f64, f64)]| tessera_metrics::auc(pts, lo, hi).ok();
        let tag = if r.kind == "ours" { "<span class=\"tag\">Tessera</span>" } else { "" };
        let _ = write!(
            rows,
            "<tr><td><b>{}</b> {tag}<div class=\"desc\">{}</div></td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.name),
            esc(&r.description),
            fmt(at[0], 2),
            fmt(at[1], 2),
            fmt(at[2], 2),
            if bd.is_some_and(|v| v < 0.0) { "good" } else { "" },
            bd.map_or("—".into(), |v| format!("{v:+.1}%")),
            bdp.map_or("—".into(), |v| format!("{v:+.2}")),
            fmt(auc(p), 2),
            fmt(auc(&msssim[i].points), 2),
            fmt(auc(&hvs[i].points), 2),
        );
    }
    best.sort_by(|a, b| a.0.total_cmp(&b.0));
    let summary: Vec<String> = best.iter().map(|(b, n, v)| format!("at <b>{b} bpp</b>: <b>{}</b> ({v:.2} dB)", esc(n))).collect();
    let anchor_name = anchor.map_or("(no anchor in this run)".to_string(), |a| a.name.clone());
    Ok(format!(
        "<section><h2>Lossy codecs</h2><p class=\"lead\">Highest RGB PSNR {}.</p>\
         <div class=\"charts\">{}{}{}</div>\
         <table><thead><tr><th>codec</th><th>PSNR @0.25</th><th>@0.5</th><th>@1.0 bpp</th><th>BD-rate vs {}</th><th>BD-PSNR (dB)</th><th>AUC PSNR</th><th>AUC MS-SSIM dB</th><th>AUC PSNR-HVS</th></tr></thead><tbody>{rows}</tbody></table>\
         <p class=\"note\">BD-rate and BD-PSNR: Bjøntegaard with PCHIP over the overlapping range (negative BD-rate: fewer bits for the same PSNR). AUC: mean quality over {lo:.3}–{hi:.3} bpp, the widest range the most curves cover ({covered} of {}; — for a curve that does not span it).</p></section>",
        if summary.is_empty() { "—".into() } else { summary.join(", ") },
        figure(
            line_chart("PSNR", "bits per pixel", "RGB PSNR (dB)", &psnr_plot),
            plots,
            "psnr",
            "RGB PSNR against rate. Solid: Tessera; dashed: reference codecs run here; dotted: published results."
        )?,
        figure(
            line_chart("MS-SSIM", "bits per pixel", "MS-SSIM (dB)", &msssim_plot),
            plots,
            "ms-ssim",
            "MS-SSIM in dB, −10·log10(1 − MS-SSIM)."
        )?,
        figure(
            line_chart("PSNR-HVS", "bits per pixel", "PSNR-HVS (dB)", &hvs),
            plots,
            "psnr-hvs",
            "PSNR-HVS (luma, contrast-sensitivity weighted DCT error)."
        )?,
        esc(&anchor_name),
        spans.len(),
    ))
}

/// The bpp range for the AUC columns from the curves' spans `(first, last)`: the one the most
/// curves cover, the widest among those, bounded to 0.1–2 bpp, with how many cover it. A
/// curve far outside the others (a model that collapsed to a few bits) then costs only its
/// own AUC, not everyone's.
fn auc_range(spans: &[(f64, f64)]) -> Option<(f64, f64, usize)> {
    let mut best: Option<(f64, f64, usize)> = None;
    for &(lo, _) in spans {
        for &(_, hi) in spans {
            let (lo, hi) = (lo.max(0.1), hi.min(2.0));
            if lo >= hi {
                continue;
            }
            let n = spans.iter().filter(|s| s.0 <= lo && s.1 >= hi).count();
            if best.is_none_or(|(l, h, m)| n > m || (n == m && hi - lo > h - l)) {
                best = Some((lo, hi, n));
            }
        }
    }
    best
}

fn lossless_section(lossless: &[&CodecResults], plots: &Path) -> Result<String> {
    let mut rows = String::new();
    let mut sizes = Vec::new();
    let mut speeds = Vec::new();
    let mut sorted: Vec<&&CodecResults> = lossless.iter().collect();
    sorted.sort_by(|a, b| bpsp(a).total_cmp(&bpsp(b)));
    for r in sorted {
        let Some(p) = r.points.first() else { continue };
        let ours = r.kind == "ours";
        sizes.push((r.name.clone(), p.bpsp, ours));
        speeds.push((r.name.clone(), p.decode_mps, ours));
        let _ = write!(
            rows,
            "<tr><td><b>{}</b>{}<div class=\"desc\">{}</div></td><td>{:.3}</td><td>{:.3}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&r.name),
            if ours { " <span class=\"tag\">Tessera</span>" } else { "" },
            esc(&r.description),
            p.bpsp,
            p.bpp,
            p.encode_mps,
            p.decode_mps,
            if p.exact { "yes" } else { "<b class=\"bad\">NO</b>" }
        );
    }
    Ok(format!(
        "<section><h2>Lossless codecs</h2><div class=\"charts\">{}{}</div>\
         <table><thead><tr><th>codec</th><th>bpsp</th><th>bpp</th><th>encode MP/s</th><th>decode MP/s</th><th>bit-exact</th></tr></thead><tbody>{rows}</tbody></table></section>",
        figure(bar_chart("bpsp", "bpsp", sizes, true), plots, "lossless-bpsp", "Bits per sub-pixel (smaller is better).")?,
        figure(
            bar_chart("decode MP/s", "MP/s", speeds, false),
            plots,
            "lossless-decode-speed",
            "Decoding speed, megapixels per second (process included for external tools)."
        )?
    ))
}

fn bpsp(r: &CodecResults) -> f64 {
    r.points.first().map_or(f64::INFINITY, |p| p.bpsp)
}

fn crops_section(run: &RunDir, img_dir: &Path, lossy: &[&CodecResults], kept: &[String], bpp: f64) -> Result<String> {
    let mut out = format!("<section><h2>Reconstructions at about {bpp} bpp</h2><p class=\"lead\">For each codec, the setting whose file for this image is closest to {bpp} bpp. Click a picture to zoom (pixels stay sharp); all crops move together when you drag.</p>");
    for image in kept {
        let original = run.original(image);
        if !original.exists() {
            continue;
        }
        let name = format!("{image}-original.png");
        copy(&original, &img_dir.join(&name))?;
        let _ = write!(out, "<h3>{}</h3><div class=\"crops\"><figure class=\"crop\"><div class=\"view\"><img src=\"img/{}\" alt=\"original\"></div><figcaption><b>original</b></figcaption></figure>", esc(image), esc(&name));
        for r in lossy {
            let Some(rec) = r.images.iter().filter(|i| &i.image == image).min_by(|a, b| (a.bpp - bpp).abs().total_cmp(&(b.bpp - bpp).abs())) else { continue };
            let src = run.decoded(&r.name, &rec.setting, image);
            if !src.exists() {
                continue;
            }
            let name = format!("{image}-{}-{}.png", r.name, rec.setting);
            copy(&src, &img_dir.join(&name))?;
            let _ = write!(
                out,
                "<figure class=\"crop\"><div class=\"view\"><img src=\"img/{}\" alt=\"{}\"></div><figcaption><b>{}</b> {} · {:.3} bpp · {} dB</figcaption></figure>",
                esc(&name),
                esc(&r.name),
                esc(&r.name),
                esc(&rec.setting),
                rec.bpp,
                fmt(rec.psnr_rgb, 2)
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    Ok(out)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| Error::io(from, e))
}

fn failures_section(results: &[CodecResults]) -> String {
    let all: Vec<_> = results.iter().flat_map(|r| r.failures.iter()).collect();
    if all.is_empty() {
        return "<section><h2>Failures</h2><p>None: every file decoded.</p></section>".into();
    }
    let rows: String = all
        .iter()
        .map(|f| format!("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&f.codec), esc(&f.setting), esc(&f.image), esc(&f.stage), esc(&f.message)))
        .collect();
    format!("<section><h2>Failures</h2><table><thead><tr><th>codec</th><th>setting</th><th>image</th><th>stage</th><th>message</th></tr></thead><tbody>{rows}</tbody></table></section>")
}

const CSS: &str = r#"
:root{--fg:#1d232b;--muted:#5b6673;--line:#e3e7ec;--accent:#1f6feb;--good:#137333;--bad:#b3261e}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:1200px;padding:24px 32px 64px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}h3{font-size:16px;margin:20px 0 8px}
.sub,.note,.desc,figcaption{color:var(--muted)}.desc{font-size:12px;max-width:420px}.lead{font-size:16px}
table{border-collapse:collapse;width:100%;margin:12px 0;font-variant-numeric:tabular-nums}th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:right;vertical-align:top}th:first-child,td:first-child{text-align:left}th{font-size:13px;color:var(--muted);font-weight:600}
td.good{color:var(--good);font-weight:600}.bad{color:var(--bad)}.tag{background:#e8f0fe;color:var(--accent);border-radius:8px;padding:1px 7px;font-size:11px;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}figure{margin:0}
.chart svg{width:100%;height:auto;background:#fff}

.crops{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}.view{width:100%;aspect-ratio:1;overflow:hidden;border:1px solid var(--line);cursor:zoom-in;position:relative;background:#eee}
.view img{position:absolute;image-rendering:pixelated;transform-origin:0 0;user-select:none;-webkit-user-drag:none}.view.zoom{cursor:zoom-out}
"#;

/// Zoom on click (1×, 2×, 4×), drag to pan; every crop of an image follows, so they stay
/// comparable pixel for pixel. Once loaded, the page marks `body[data-images]` `ok` or
/// `broken`, and a script error sets `body[data-errors]`: the browser test reads both.
const JS: &str = r#"
document.querySelectorAll('.crops').forEach(function(group){
  var views=[].slice.call(group.querySelectorAll('.view')),scale=1,x=0,y=0,drag=null,moved=false;
  function apply(){views.forEach(function(v){var i=v.querySelector('img');i.style.transform='translate('+x+'px,'+y+'px) scale('+scale+')';v.classList.toggle('zoom',scale>1);});}
  views.forEach(function(v){
    var img=v.querySelector('img');
    img.addEventListener('load',function(){if(!group.dataset.init){group.dataset.init=1;x=(v.clientWidth-img.naturalWidth)/2;y=(v.clientHeight-img.naturalHeight)/2;apply();}});
    v.addEventListener('mousedown',function(e){drag=[e.clientX-x,e.clientY-y];moved=false;e.preventDefault();});
    v.addEventListener('click',function(e){if(moved)return;var r=v.getBoundingClientRect(),cx=e.clientX-r.left,cy=e.clientY-r.top,next=scale>=4?1:scale*2;x=cx-(cx-x)*next/scale;y=cy-(cy-y)*next/scale;scale=next;apply();});
  });
  window.addEventListener('mousemove',function(e){if(!drag)return;moved=true;x=e.clientX-drag[0];y=e.clientY-drag[1];apply();});
  window.addEventListener('mouseup',function(){drag=null;});
});
window.addEventListener('error',function(){document.body.dataset.errors='yes';});
window.addEventListener('load',function(){
  var broken=[].slice.call(document.images).filter(function(i){return i.naturalWidth===0;});
  document.body.dataset.images=broken.length?'broken':'ok';
});
"#;

#[cfg(test)]
mod tests {
    use super::auc_range;

    #[test]
    fn auc_range_leaves_out_a_stray_curve_and_is_the_widest_shared() {
        // Every curve spans 0.2–0.8; the last collapsed to 0.01–0.03.
        let spans = [(0.12, 2.4), (0.05, 0.8), (0.2, 1.4), (0.01, 0.03)];
        assert_eq!(auc_range(&spans), Some((0.2, 0.8, 3)));
        // Clamped to 0.1–2 bpp when every curve reaches beyond.
        assert_eq!(auc_range(&[(0.05, 3.0), (0.01, 2.5)]), Some((0.1, 2.0, 2)));
        assert_eq!(auc_range(&[]), None);
    }
}

//! Rate–distortion plots and bar charts as inline SVG: crisp at any zoom, no fonts to bundle
//! (the browser draws the text), no image files to lose.

use std::fmt::Write;

/// How a curve is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Tessera's codecs: solid and thick.
    Ours,
    /// Reference codecs run beside ours: dashed.
    Reference,
    /// Published results read from files (not run here): dotted.
    Published,
}

/// One curve of a plot.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points, in order of increasing x.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// A palette that stays apart for up to a dozen curves.
pub const COLOURS: [&str; 12] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22", "#393b79", "#637939",
];

fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / count as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| span / s <= count as f64).unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A line chart of `series` with the x axis in bits per pixel.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let pts: Vec<(f64, f64)> = series.iter().flat_map(|s| s.points.iter().copied()).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    let mut svg = String::new();
    if pts.is_empty() {
        return format!("<p class=\"empty\">{}: no data</p>", escape(title));
    }
    let (mut x0, mut x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    x0 = 0f64.max(x0 - 0.05 * (x1 - x0));
    x1 += 0.05 * (x1 - x0).max(0.1);
    let pad = 0.05 * (y1 - y0).max(0.5);
    y0 -= pad;
    y1 += pad;
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let _ = write!(svg, "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">", escape(title));
    let _ = write!(svg, "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" class=\"plot-bg\"/>", W - LEFT - RIGHT, H - TOP - BOTTOM);
    for t in nice_ticks(x0, x1, 8) {
        let x = px(t);
        let _ = write!(svg, "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{}\" class=\"grid\"/><text x=\"{x:.1}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", H - BOTTOM, H - BOTTOM + 16.0, trim(t));
    }
    for t in nice_ticks(y0, y1, 7) {
        let y = py(t);
        let _ = write!(svg, "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>", W - RIGHT, LEFT - 6.0, y + 4.0, trim(t));
    }
    let _ = write!(svg, "<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"middle\">{}</text>", (LEFT + W - RIGHT) / 2.0, H - 8.0, escape(x_label));
    let _ = write!(svg, "<text transform=\"translate(14 {}) rotate(-90)\" class=\"axis\" text-anchor=\"middle\">{}</text>", (TOP + H - BOTTOM) / 2.0, escape(y_label));
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = s.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
        if path.is_empty() {
            continue;
        }
        let (dash, width) = match s.style {
            Style::Ours => ("", 2.4),
            Style::Reference => (" stroke-dasharray=\"5 3\"", 1.6),
            Style::Published => (" stroke-dasharray=\"1.5 3\"", 1.8),
        };
        let _ = write!(svg, "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash}><title>{}</title></polyline>", path.join(" "), escape(&s.name));
        for p in &path {
            let (x, y) = p.split_once(',').expect("x,y");
            let _ = write!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.6\" fill=\"{colour}\"/>");
        }
        let ly = TOP + 14.0 + i as f64 * 18.0;
        let lx = W - RIGHT + 12.0;
        let _ = write!(svg, "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash}/><text x=\"{}\" y=\"{}\" class=\"legend\">{}</text>", lx + 22.0, lx + 28.0, ly + 4.0, escape(&s.name));
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart: one bar per `(label, value, ours)`, best (smallest when
/// `smaller_is_better`) first.
pub fn bar_chart(title: &str, unit: &str, mut bars: Vec<(String, f64, bool)>, smaller_is_better: bool) -> String {
    bars.retain(|b| b.1.is_finite());
    if bars.is_empty() {
        return format!("<p class=\"empty\">{}: no data</p>", escape(title));
    }
    bars.sort_by(|a, b| if smaller_is_better { a.1.total_cmp(&b.1) } else { b.1.total_cmp(&a.1) });
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
    let row = 24.0;
    let h = 20.0 + row * bars.len() as f64;
    let (label_w, bar_w) = (170.0, W - 170.0 - 90.0);
    let mut svg = format!("<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\">", escape(title));
    for (i, (label, v, ours)) in bars.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let len = v / max * bar_w;
        let class = if *ours { "bar ours" } else { "bar" };
        let _ = write!(svg, "<text x=\"{}\" y=\"{}\" class=\"legend\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{len:.1}\" height=\"{}\" class=\"{class}\"/><text x=\"{}\" y=\"{}\" class=\"tick\">{} {}</text>", label_w - 8.0, y + 15.0, escape(label), row - 6.0, label_w + len + 6.0, y + 15.0, trim3(*v), escape(unit));
    }
    svg.push_str("</svg>");
    svg
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn trim3(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_hold_every_series_and_escape_names() {
        let s = vec![
            Series { name: "a<b".into(), points: vec![(0.1, 25.0), (1.0, 35.0)], style: Style::Ours },
            Series { name: "ref".into(), points: vec![(0.2, 26.0), (2.0, 38.0)], style: Style::Reference },
        ];
        let svg = line_chart("PSNR", "bpp", "dB", &s);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b") && svg.contains("stroke-dasharray"));
        assert!(line_chart("x", "x", "y", &[]).contains("no data"));
        let bars = bar_chart("bpsp", "bpsp", vec![("x".into(), 3.0, true), ("y".into(), 2.0, false)], true);
        assert!(bars.find(">y<").unwrap() < bars.find(">x<").unwrap());
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = nice_ticks(0.07, 2.1, 8);
        assert!(t.first().unwrap() >= &0.07 && t.last().unwrap() <= &2.1);
        assert!(t.len() >= 4);
    }
}

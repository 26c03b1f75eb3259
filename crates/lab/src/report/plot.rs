//! Rate–distortion plots and bar charts drawn with plotters, twice from one drawing: as SVG for
//! the page (crisp at any zoom; the browser draws the text) and as PNG for slides and papers
//! (text drawn with the bundled DejaVu Sans, so every machine renders the same picture).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use tessera_core::io::{encode_image, Format};
use tessera_core::Image;

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

/// A chart in both forms.
pub struct Chart {
    /// An `<svg>` element, or a short "no data" paragraph.
    pub svg: String,
    /// The same chart as a PNG file at twice the size (empty when there is no data).
    pub png: Vec<u8>,
}

/// Size of a chart in SVG units; the PNG is `PNG_SCALE` times larger.
const W: u32 = 640;
const H: u32 = 400;
const PNG_SCALE: u32 = 2;
/// Width kept right of a line chart for its legend.
const LEGEND: u32 = 200;
const FONT: &str = "sans-serif";

/// A palette that stays apart for up to a dozen curves.
const COLOURS: [RGBColor; 12] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x39, 0x3b, 0x79),
    RGBColor(0x63, 0x79, 0x39),
];
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const BAR_OURS: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const BAR_REFERENCE: RGBColor = RGBColor(0xaa, 0xaa, 0xaa);

type DrawResult = Result<(), String>;

fn font_once() -> DrawResult {
    static FONT_SET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *FONT_SET.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, include_bytes!("../../assets/fonts/DejaVuSans.ttf")).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".into())
    }
}

/// Draws `draw` as SVG and as PNG.
/// (Two closures for one drawing: a closure cannot be generic over the backend.)
fn render(
    height: u32,
    draw: impl Fn(&DrawingArea<SVGBackend, Shift>, f64) -> DrawResult,
    draw_png: impl Fn(&DrawingArea<BitMapBackend, Shift>, f64) -> DrawResult,
) -> Result<Chart, String> {
    font_once()?;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        draw(&area, 1.0)?;
        area.present().map_err(|e| e.to_string())?;
    }
    let (pw, ph) = (W * PNG_SCALE, height * PNG_SCALE);
    let mut rgb = vec![0u8; (pw * ph * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (pw, ph)).into_drawing_area();
        draw_png(&area, f64::from(PNG_SCALE))?;
        area.present().map_err(|e| e.to_string())?;
    }
    let image = Image::from_u8(pw, ph, 3, &rgb).map_err(|e| e.to_string())?;
    let png = encode_image(&image, Format::Png).map_err(|e| e.to_string())?;
    Ok(Chart { svg, png })
}

fn no_data(title: &str) -> Chart {
    Chart { svg: format!("<p class=\"empty\">{}: no data</p>", escape(title)), png: Vec::new() }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn finite(s: &Series) -> Vec<(f64, f64)> {
    s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect()
}

/// A line chart of `series` against bits per pixel (or whatever `x_label` says).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<Chart, String> {
    let pts: Vec<(f64, f64)> = series.iter().flat_map(finite).collect();
    if pts.is_empty() {
        return Ok(no_data(title));
    }
    let (x0, x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let xr = (0f64.max(x0 - 0.05 * (x1 - x0)), x1 + 0.05 * (x1 - x0).max(0.1));
    let pad = 0.05 * (y1 - y0).max(0.5);
    let yr = (y0 - pad, y1 + pad);
    render(
        H,
        |area, s| lines(area, s, title, x_label, y_label, series, xr, yr),
        |area, s| lines(area, s, title, x_label, y_label, series, xr, yr),
    )
}

#[allow(clippy::too_many_arguments)]
fn lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: f64,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    xr: (f64, f64),
    yr: (f64, f64),
) -> DrawResult {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let px = |v: f64| (v * s).round() as i32;
    area.fill(&WHITE).map_err(e)?;
    let (plot, legend) = area.split_horizontally(px(f64::from(W - LEGEND)));
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FONT, px(18.0)).into_font().color(&INK))
        .margin(px(8.0))
        .x_label_area_size(px(38.0))
        .y_label_area_size(px(48.0))
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style((FONT, px(13.5)).into_font().color(&INK))
        .axis_desc_style((FONT, px(15.0)).into_font().color(&INK))
        .bold_line_style(GRID.stroke_width(px(1.0) as u32))
        .light_line_style(WHITE.stroke_width(0))
        .x_labels(8)
        .y_labels(7)
        .draw()
        .map_err(e)?;
    for (i, sr) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts = finite(sr);
        if pts.is_empty() {
            continue;
        }
        let width = px(match sr.style {
            Style::Ours => 2.4,
            _ => 1.6,
        }) as u32;
        let stroke = colour.stroke_width(width.max(1));
        match sr.style {
            Style::Ours => chart.draw_series(LineSeries::new(pts.clone(), stroke)).map(|_| ()),
            Style::Reference => chart.draw_series(DashedLineSeries::new(pts.clone(), px(5.0) as u32, px(3.0) as u32, stroke)).map(|_| ()),
            Style::Published => chart.draw_series(DashedLineSeries::new(pts.clone(), px(1.5) as u32, px(3.0) as u32, stroke)).map(|_| ()),
        }
        .map_err(e)?;
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, px(2.6), colour.filled()))).map_err(e)?;
        // The legend, in its own strip right of the plot.
        let y = px(24.0 + i as f64 * 18.0);
        let x = px(10.0);
        legend.draw(&PathElement::new(vec![(x, y), (x + px(22.0), y)], stroke)).map_err(e)?;
        // Long names are cut to fit the strip (the tables below give them whole).
        let font = (FONT, px(12.5)).into_font().color(&INK);
        let room = legend.dim_in_pixel().0 as i32 - x - px(32.0);
        let name = fit(&legend, &sr.name, &font, room);
        let label = Text::new(name, (x + px(28.0), y - px(6.0)), font);
        legend.draw(&label).map_err(e)?;
    }
    Ok(())
}

/// `name`, cut and ended with an ellipsis where it would be wider than `room` pixels in `font`.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    font: &TextStyle,
    room: i32,
) -> String {
    let fits = |t: &str| area.estimate_text_size(t, font).is_ok_and(|(w, _)| w as i32 <= room);
    let mut chars: Vec<char> = name.chars().collect();
    let mut text = name.to_string();
    while !fits(&text) && !chars.is_empty() {
        chars.pop();
        text = chars.iter().chain(['…'].iter()).collect();
    }
    text
}

/// A horizontal bar chart: one bar per `(label, value, ours)`, best (smallest when
/// `smaller_is_better`) first; Tessera's bars coloured, the references' grey.
pub fn bar_chart(title: &str, unit: &str, mut bars: Vec<(String, f64, bool)>, smaller_is_better: bool) -> Result<Chart, String> {
    bars.retain(|b| b.1.is_finite());
    if bars.is_empty() {
        return Ok(no_data(title));
    }
    bars.sort_by(|a, b| if smaller_is_better { a.1.total_cmp(&b.1) } else { b.1.total_cmp(&a.1) });
    let height = 20 + 24 * bars.len() as u32;
    render(height, |area, s| bar_rows(area, s, unit, &bars), |area, s| bar_rows(area, s, unit, &bars))
}

fn bar_rows<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: f64, unit: &str, bars: &[(String, f64, bool)]) -> DrawResult {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let px = |v: f64| (v * s).round() as i32;
    area.fill(&WHITE).map_err(e)?;
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
    let (label_w, bar_w) = (170.0, f64::from(W) - 170.0 - 90.0);
    let font = (FONT, px(13.5)).into_font().color(&INK);
    for (i, (label, v, ours)) in bars.iter().enumerate() {
        let y = 10.0 + i as f64 * 24.0;
        let len = v / max * bar_w;
        let colour = if *ours { BAR_OURS } else { BAR_REFERENCE };
        let right = font.clone().pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        ));
        area.draw(&Text::new(label.clone(), (px(label_w - 8.0), px(y + 9.0)), right)).map_err(e)?;
        area.draw(&Rectangle::new([(px(label_w), px(y)), (px(label_w + len), px(y + 18.0))], colour.filled())).map_err(e)?;
        let value = format!("{} {unit}", if *v >= 100.0 { format!("{v:.0}") } else { format!("{v:.3}") });
        area.draw(&Text::new(value, (px(label_w + len + 6.0), px(y + 3.0)), font.clone())).map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_hold_every_series_in_svg_and_png() {
        let s = vec![
            Series { name: "a<b".into(), points: vec![(0.1, 25.0), (1.0, 35.0)], style: Style::Ours },
            Series { name: "ref".into(), points: vec![(0.2, 26.0), (2.0, 38.0)], style: Style::Reference },
        ];
        let c = line_chart("PSNR", "bpp", "dB", &s).unwrap();
        // plotters writes each text on a line of its own.
        assert!(c.svg.starts_with("<svg") && c.svg.contains("\na&lt;b\n") && c.svg.contains("\nref\n"));
        let png = tessera_core::io::decode_image(&c.png).unwrap();
        assert_eq!((png.width(), png.height()), (W * PNG_SCALE, H * PNG_SCALE));
        // The curves are drawn: the first series' colour appears in the PNG.
        let blue = png.samples().chunks(3).filter(|p| p == &[0x1f, 0x77, 0xb4]).count();
        assert!(blue > 100, "{blue}");
        assert!(line_chart("x", "x", "y", &[]).unwrap().svg.contains("no data"));

        let bars = bar_chart("bpsp", "bpsp", vec![("x".into(), 3.0, true), ("y".into(), 2.0, false)], true).unwrap();
        assert!(bars.svg.find("\ny\n").unwrap() < bars.svg.find("\nx\n").unwrap());
        assert_eq!(tessera_core::io::decode_image(&bars.png).unwrap().height(), (20 + 48) * PNG_SCALE);
    }

    #[test]
    fn legend_labels_are_whole_when_they_fit_and_cut_to_the_strip_when_not() {
        font_once().unwrap();
        let points = vec![(0.1, 25.0), (1.0, 35.0)];
        let s = |name: &str| Series { name: name.into(), points: points.clone(), style: Style::Ours };
        let long = "checkerboard+refine=60+with-a-much-longer-name";
        let c = line_chart("PSNR", "bpp", "dB", &[s("checkerboard+refine=60"), s(long)]).unwrap();
        assert!(c.svg.contains("\ncheckerboard+refine=60\n"), "{}", c.svg);
        let mut svg = String::new();
        let area = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let font = (FONT, 12.5).into_font().color(&INK);
        let cut = fit(&area, long, &font, 120);
        assert!(cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')), "{cut}");
        assert!(area.estimate_text_size(&cut, &font).unwrap().0 <= 120);
        assert!(!c.svg.contains(long) && c.svg.contains("…\n"));
    }
}

//! The benchmark plots: line charts (figures against a parameter), latency timelines
//! with faults marked, and bar charts (a figure per fault kind). PNG via plotters, text in the embedded DejaVu Sans.

use std::path::Path;
use std::sync::Once;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Registers the embedded font once per process; plotters has no text without it.
pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let _ = plotters::style::register_font(FONT, style, bytes);
        }
    });
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64)>,
    /// Drawn dashed-looking (thin, with hollow markers), e.g. for "cache off".
    pub(crate) secondary: bool,
    /// Index into the palette, so related lines share a colour.
    pub(crate) color: usize,
}

/// A line chart's frame.
#[derive(Debug, Clone)]
pub(crate) struct LineChart {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    /// Plot x as log2 and label ticks with the original values (client counts).
    pub(crate) log2_x: bool,
    pub(crate) series: Vec<Series>,
    /// Shaded x ranges (fault windows), drawn behind the lines.
    pub(crate) windows: Vec<(f64, f64)>,
}

const WINDOW_SHADE: RGBColor = RGBColor(255, 200, 200);

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// `x` on the chart's x axis (log2 when the chart asks for it).
fn axis_x(chart: &LineChart, x: f64) -> f64 {
    if chart.log2_x {
        x.max(1e-9).log2()
    } else {
        x
    }
}

/// The x range on the axis, and the largest y, over every series.
fn extent(chart: &LineChart) -> (f64, f64, f64) {
    let points = || chart.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = bounds(points().map(|p| axis_x(chart, p.0)));
    let (_, y1) = bounds(points().map(|p| p.1));
    (x0, x1, y1)
}

/// Draws a line chart into `area`.
pub(crate) fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LineChart,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let fx = |x: f64| axis_x(chart, x);
    let (x0, x1, y1) = extent(chart);
    let pad = (x1 - x0) * 0.05;
    let mut ctx = ChartBuilder::on(area)
        .caption(&chart.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..(y1 * 1.12).max(1e-6))
        .map_err(|e| anyhow!("chart: {e}"))?;
    let log2 = chart.log2_x;
    let x_fmt = move |x: &f64| {
        if log2 {
            format!("{:.0}", 2f64.powf(*x))
        } else {
            format!("{x:.1}")
        }
    };
    // On a log2 axis, one tick per power of two (client counts 1, 4, 16, ...).
    let x_ticks = if log2 {
        ((x1 - x0).round() as usize + 1).max(2)
    } else {
        10
    };
    ctx.configure_mesh()
        .x_labels(x_ticks)
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&x_fmt)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(|e| anyhow!("mesh: {e}"))?;
    let y_top = (y1 * 1.12).max(1e-6);
    ctx.draw_series(chart.windows.iter().map(|&(a, b)| {
        Rectangle::new(
            [(fx(a), 0.0), (fx(b), y_top)],
            WINDOW_SHADE.mix(0.5).filled(),
        )
    }))
    .map_err(|e| anyhow!("windows: {e}"))?;
    for series in &chart.series {
        let c = color(series.color);
        let points: Vec<(f64, f64)> = series.points.iter().map(|&(x, y)| (fx(x), y)).collect();
        let width = if series.secondary { 1 } else { 3 };
        ctx.draw_series(LineSeries::new(points.clone(), c.stroke_width(width)))
            .map_err(|e| anyhow!("series: {e}"))?
            .label(series.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width))
            });
        let secondary = series.secondary;
        ctx.draw_series(points.into_iter().map(move |p| {
            if secondary {
                Circle::new(p, 4, c.stroke_width(2))
            } else {
                Circle::new(p, 4, c.filled())
            }
        }))
        .map_err(|e| anyhow!("markers: {e}"))?;
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("legend: {e}"))?;
    Ok(())
}

/// Writes one or more line charts side by side into a PNG.
pub(crate) fn write_lines(path: &Path, charts: &[LineChart]) -> anyhow::Result<()> {
    write_grid(path, charts, charts.len())
}

/// Writes line charts into a PNG as a grid, `columns` panels per row, filled row by row.
pub(crate) fn write_grid(path: &Path, charts: &[LineChart], columns: usize) -> anyhow::Result<()> {
    register_font();
    let columns = columns.clamp(1, charts.len().max(1));
    let rows = charts.len().div_ceil(columns).max(1);
    let size = (900 * columns as u32, 560 * rows as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("fill: {e}"))?;
    let panels = root.split_evenly((rows, columns));
    for (panel, chart) in panels.iter().zip(charts) {
        draw_lines(panel, chart)?;
    }
    root.present()
        .map_err(|e| anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}

/// Points of one kind in a timeline: (seconds since start, latency ms).
#[derive(Debug, Clone)]
pub(crate) struct PointGroup {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) color: usize,
}

/// A latency timeline: one point per request, by group, with faults marked.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    pub(crate) title: String,
    pub(crate) groups: Vec<PointGroup>,
    /// Vertical markers: (seconds since start, what happened).
    pub(crate) marks: Vec<(f64, String)>,
    /// Shaded time ranges (fault windows).
    pub(crate) windows: Vec<(f64, f64)>,
    pub(crate) y_label: String,
}

pub(crate) fn write_timeline(path: &Path, timeline: &Timeline) -> anyhow::Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (1200, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("fill: {e}"))?;
    let all = || timeline.groups.iter().flat_map(|g| g.points.iter());
    let (_, t1) = bounds(all().map(|p| p.0).chain(timeline.marks.iter().map(|m| m.0)));
    let (_, y1) = bounds(all().map(|p| p.1));
    let y_top = (y1 * 1.15).max(1.0);
    let mut ctx = ChartBuilder::on(&root)
        .caption(&timeline.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..(t1 * 1.02).max(1.0), 0.0..y_top)
        .map_err(|e| anyhow!("chart: {e}"))?;
    ctx.configure_mesh()
        .x_desc("time since start (s)")
        .y_desc(&timeline.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(|e| anyhow!("mesh: {e}"))?;
    ctx.draw_series(
        timeline
            .windows
            .iter()
            .map(|&(a, b)| Rectangle::new([(a, 0.0), (b, y_top)], WINDOW_SHADE.mix(0.5).filled())),
    )
    .map_err(|e| anyhow!("windows: {e}"))?;
    for (t, label) in &timeline.marks {
        let grey = RGBColor(90, 90, 90);
        ctx.draw_series(LineSeries::new(
            vec![(*t, 0.0), (*t, y_top)],
            grey.stroke_width(2),
        ))
        .map_err(|e| anyhow!("mark: {e}"))?;
        ctx.draw_series(std::iter::once(Text::new(
            label.clone(),
            (*t, y_top * 0.97),
            (FONT, 14).into_font().color(&grey),
        )))
        .map_err(|e| anyhow!("mark label: {e}"))?;
    }
    for group in &timeline.groups {
        let c = color(group.color);
        ctx.draw_series(group.points.iter().map(|&p| Circle::new(p, 2, c.filled())))
            .map_err(|e| anyhow!("points: {e}"))?
            .label(format!("{} ({})", group.label, group.points.len()))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("legend: {e}"))?;
    root.present()
        .map_err(|e| anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pngs_with_lines_and_timelines() {
        // CHART_TEST_DIR keeps the pictures, to look at them.
        let dir = tempfile::tempdir().unwrap();
        let dir = std::env::var_os("CHART_TEST_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| dir.path().to_path_buf());
        let chart = LineChart {
            title: "test".into(),
            x_label: "clients".into(),
            y_label: "ops/s".into(),
            log2_x: true,
            windows: vec![(2.0, 3.0)],
            series: vec![Series {
                label: "buys".into(),
                points: vec![(1.0, 10.0), (4.0, 30.0), (16.0, 50.0)],
                secondary: false,
                color: 0,
            }],
        };
        let lines = dir.join("lines.png");
        write_lines(&lines, &[chart.clone(), chart.clone()]).unwrap();
        let grid = dir.join("grid.png");
        write_grid(&grid, &[chart.clone(), chart.clone(), chart], 2).unwrap();
        let timeline = Timeline {
            title: "t".into(),
            groups: vec![PointGroup {
                label: "ok".into(),
                points: vec![(0.5, 3.0), (1.5, 900.0)],
                color: 2,
            }],
            marks: vec![(1.0, "kill leader".into())],
            windows: vec![(1.0, 1.4)],
            y_label: "latency (ms)".into(),
        };
        let path = dir.join("timeline.png");
        write_timeline(&path, &timeline).unwrap();
        for file in [lines, grid, path] {
            let bytes = std::fs::read(&file).unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{}", file.display());
            assert!(bytes.len() > 5_000, "{} looks empty", file.display());
        }
    }
}

/// A horizontal bar chart: one bar per category, its value printed beside it.
#[derive(Debug, Clone)]
pub(crate) struct Bars {
    pub(crate) title: String,
    pub(crate) x_label: String,
    /// (category, value), drawn top to bottom.
    pub(crate) bars: Vec<(String, f64)>,
    pub(crate) color: usize,
}

/// Writes bar charts side by side into a PNG, sharing the categories' order.
pub(crate) fn write_bars(path: &Path, panels: &[Bars]) -> anyhow::Result<()> {
    register_font();
    let rows = panels
        .iter()
        .map(|p| p.bars.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let size = (
        (480 + label_width(panels)) * panels.len().max(1) as u32,
        120 + 34 * rows as u32,
    );
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("fill: {e}"))?;
    for (area, panel) in root
        .split_evenly((1, panels.len().max(1)))
        .iter()
        .zip(panels)
    {
        draw_bars(area, panel, label_width(panels))?;
    }
    root.present()
        .map_err(|e| anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}

/// Room for the longest category name, in pixels (about 7 per character at 14 px).
fn label_width(panels: &[Bars]) -> u32 {
    let longest = panels
        .iter()
        .flat_map(|p| p.bars.iter().map(|b| b.0.chars().count()))
        .max()
        .unwrap_or(0);
    20 + 7 * longest as u32
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Bars,
    label_width: u32,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let n = panel.bars.len();
    let (_, top) = bounds(panel.bars.iter().map(|b| b.1).chain([0.0]));
    let x_top = (top * 1.25).max(1e-6);
    let names: Vec<String> = panel.bars.iter().map(|b| b.0.clone()).collect();
    // Category i sits at y = n - 1 - i, so the first one is drawn on top.
    let name_of = move |y: &SegmentValue<usize>| match y {
        SegmentValue::CenterOf(i) if *i < n => names[n - 1 - i].clone(),
        _ => String::new(),
    };
    let mut ctx = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0.0..x_top, (0..n.saturating_sub(1)).into_segmented())
        .map_err(|e| anyhow!("chart: {e}"))?;
    ctx.configure_mesh()
        .disable_y_mesh()
        .y_labels(n + 1)
        .y_label_formatter(&name_of)
        .x_desc(&panel.x_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(|e| anyhow!("mesh: {e}"))?;
    let c = color(panel.color);
    ctx.draw_series(panel.bars.iter().enumerate().map(|(i, (_, v))| {
        let y = n - 1 - i;
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(y)),
                (*v, SegmentValue::Exact(y + 1)),
            ],
            c.filled(),
        );
        bar.set_margin(4, 4, 0, 0);
        bar
    }))
    .map_err(|e| anyhow!("bars: {e}"))?;
    ctx.draw_series(panel.bars.iter().enumerate().map(|(i, (_, v))| {
        Text::new(
            format!("{v:.1}"),
            (*v + x_top * 0.01, SegmentValue::CenterOf(n - 1 - i)),
            (FONT, 13).into_font(),
        )
    }))
    .map_err(|e| anyhow!("values: {e}"))?;
    Ok(())
}

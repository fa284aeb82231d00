//! What the runs leave behind: one JSON line per run on stdout, a CSV of every run (`--csv`),
//! and for fan-out an SVG chart of deliveries/s and p99 against members (`--plot`), all from
//! the same rows.

use std::path::Path;

use anyhow::Context as _;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use serde_json::Value;

/// One run's figures, in the order they are printed.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<(&'static str, Value)>);

impl Row {
    pub fn push(&mut self, key: &'static str, value: impl Into<Value>) {
        self.0.push((key, value.into()));
    }

    /// `p50_ms`, `p99_ms`, `p999_ms` and `max_ms`.
    pub fn push_latency(&mut self, latency: &crate::histogram::Percentiles) {
        self.push("p50_ms", crate::ms(latency.p50_us));
        self.push("p99_ms", crate::ms(latency.p99_us));
        self.push("p999_ms", crate::ms(latency.p999_us));
        self.push("max_ms", crate::ms(latency.max_us));
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The row as one JSON object, its fields in order.
    pub fn json(&self) -> String {
        let fields: Vec<String> =
            self.0.iter().map(|(k, v)| format!("{}:{v}", Value::from(*k))).collect();
        format!("{{{}}}", fields.join(","))
    }
}

/// `x / to`, when there is a `to` to divide by.
pub fn ratio(x: f64, to: Option<f64>) -> Option<f64> {
    to.filter(|&to| to > 0.0).map(|to| x / to)
}

/// `x` rounded to `decimals` places, or null when there is no figure.
pub fn round(x: Option<f64>, decimals: i32) -> Value {
    let scale = 10f64.powi(decimals);
    x.filter(|x| x.is_finite()).map_or(Value::Null, |x| Value::from((x * scale).round() / scale))
}

/// A header of the first row's keys and a line per row; no figure is an empty cell.
pub fn csv(rows: &[Row]) -> String {
    let Some(first) = rows.first() else { return String::new() };
    let mut out = first.0.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(",");
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = row
            .0
            .iter()
            .map(|(_, v)| match v {
                Value::Null => String::new(),
                Value::String(s) if s.contains([',', '"', '\n']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

pub fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    std::fs::write(path, csv(rows)).with_context(|| format!("cannot write {}", path.display()))
}

/// One server's line on the chart.
#[derive(Debug, PartialEq)]
pub struct Series {
    pub label: String,
    /// Members, deliveries/s, p99 in ms; by members.
    pub points: Vec<(f64, f64, f64)>,
}

/// What a series over TLS adds to its server's label (`--tls`).
const TLS_SUFFIX: &str = " tls";

/// The fan-out rows as one line per server (the `history` field, and whether over TLS), in the
/// order they first ran, each point a member count.
pub fn series(rows: &[Row]) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    for row in rows {
        let number = |key| row.get(key).and_then(Value::as_f64);
        let (Some(history), Some(members), Some(deliveries), Some(p99)) = (
            row.get("history").and_then(Value::as_str),
            number("members"),
            number("deliveries_per_s"),
            number("p99_ms"),
        ) else {
            continue;
        };
        let tls = row.get("tls").and_then(Value::as_bool) == Some(true);
        let label = if tls { format!("{history}{TLS_SUFFIX}") } else { history.to_owned() };
        let index = match all.iter().position(|s| s.label == label) {
            Some(i) => i,
            None => {
                all.push(Series { label, points: Vec::new() });
                all.len() - 1
            }
        };
        all[index].points.push((members, deliveries, p99));
    }
    for s in &mut all {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    all
}

/// Draws `series` into an SVG file: deliveries/s above, p99 below, members on a log scale.
pub fn plot(path: &Path, series: &[Series], caption: &str) -> anyhow::Result<()> {
    render(SVGBackend::new(path, (900, 960)), series, caption)
        .with_context(|| format!("cannot draw {}", path.display()))
}

/// Smallest p99 drawn on the log scale: a run that timed nothing has a p99 of 0.
const MIN_P99_MS: f64 = 0.001;

fn render(backend: SVGBackend<'_>, series: &[Series], caption: &str) -> anyhow::Result<()> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(caption, ("sans-serif", 18))?;
    let (top, bottom) = root.split_vertically(460);
    let points = || series.iter().flat_map(|s| &s.points);
    // Ticks where the runs are: a sweep's member counts.
    let mut members: Vec<f64> = points().map(|p| p.0.max(1.0)).collect();
    members.sort_by(f64::total_cmp);
    members.dedup();
    let (lo, hi) = span(&members);
    let x = || (lo / 1.5..hi * 1.5).log_scale().with_key_points(members.clone());
    let top_y = points().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.1;
    let mut chart = new_chart(&top, "deliveries / s", x(), 0.0..top_y)?;
    lines(&mut chart, series, |p| p.1)?;
    let p99: Vec<f64> = points().map(|p| p.2.max(MIN_P99_MS)).collect();
    let (p99_lo, p99_hi) = span(&p99);
    let (p99_lo, p99_hi) = (p99_lo / 2.0, p99_hi * 2.0);
    let y = (p99_lo..p99_hi).log_scale().with_key_points(one_two_five(p99_lo, p99_hi));
    let mut chart = new_chart(&bottom, "p99 latency, ms (log)", x(), y)?;
    lines(&mut chart, series, |p| p.2.max(MIN_P99_MS))?;
    root.present()?;
    Ok(())
}

/// The smallest and largest of `values`, or 1 and 10 when there are none.
fn span(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    if lo > hi { (1.0, 10.0) } else { (lo, hi) }
}

/// 1, 2 and 5 times the powers of ten between `lo` and `hi`: the ticks of a log axis.
fn one_two_five(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        ticks.extend(
            [decade, 2.0 * decade, 5.0 * decade].into_iter().filter(|t| (lo..=hi).contains(t)),
        );
        decade *= 10.0;
    }
    ticks
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, X, Y> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>;

/// A chart on `area`, its mesh drawn.
fn new_chart<'a, X, Y>(
    area: &Area<'a>,
    y_desc: &str,
    x: X,
    y: Y,
) -> anyhow::Result<Chart<'a, X::CoordDescType, Y::CoordDescType>>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc("members (log)")
        .y_desc(y_desc)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| short(*y))
        .draw()?;
    Ok(chart)
}

fn lines<'a, X, Y>(
    chart: &mut Chart<'a, X, Y>,
    series: &[Series],
    value: fn(&(f64, f64, f64)) -> f64,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for s in series {
        let colour = colour(&s.label);
        let points: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, value(p))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            // A space more: plotters guesses text widths in SVG, and "memory" overran the box.
            .label(format!("{} ", s.label))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(PointSeries::of_element(points, 4, colour.filled(), &|c, s, st| {
            Circle::new(c, s, st)
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

/// The same colour for a server on every chart; paler over TLS.
fn colour(label: &str) -> RGBAColor {
    const TLS_OPACITY: f64 = 0.5;
    match label.strip_suffix(TLS_SUFFIX) {
        Some(server) => server_colour(server).mix(TLS_OPACITY),
        None => server_colour(label).mix(1.0),
    }
}

fn server_colour(label: &str) -> RGBColor {
    match label {
        "file" => RGBColor(0x1f, 0x77, 0xb4),
        "memory" => RGBColor(0x2c, 0xa0, 0x2c),
        "off" => RGBColor(0xd6, 0x27, 0x28),
        "bare" => RGBColor(0x40, 0x40, 0x40),
        "redis" => RGBColor(0xff, 0x7f, 0x0e),
        "redis2" => RGBColor(0x8c, 0x56, 0x4b),
        _ => RGBColor(0x94, 0x67, 0xbd),
    }
}

/// 2500000 as "2.5M", 1500 as "1.5k", 0.05 as "0.05".
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.0}k", v / 1e3),
        a if a >= 1e3 => format!("{:.1}k", v / 1e3),
        a if a >= 1.0 || a == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.3}").trim_end_matches('0').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(history: &str, members: u64, deliveries: f64, p99: f64) -> Row {
        let mut row = Row::default();
        row.push("scenario", "fanout");
        row.push("history", history);
        row.push("members", members);
        row.push("deliveries_per_s", deliveries);
        row.push("p99_ms", p99);
        row.push("vs_bare", Value::Null);
        row
    }

    #[test]
    fn json_keeps_the_order_of_the_fields() {
        assert_eq!(
            run("file", 10, 1500.0, 0.25).json(),
            r#"{"scenario":"fanout","history":"file","members":10,"deliveries_per_s":1500.0,"p99_ms":0.25,"vs_bare":null}"#
        );
    }

    #[test]
    fn csv_has_a_header_and_a_line_per_run() {
        let mut odd = run("say \"hi\", all", 100, 2.0, 1.5);
        odd.0[5].1 = Value::from(0.5);
        let csv = csv(&[run("file", 10, 1500.0, 0.25), odd]);
        assert_eq!(
            csv,
            "scenario,history,members,deliveries_per_s,p99_ms,vs_bare\n\
             fanout,file,10,1500.0,0.25,\n\
             fanout,\"say \"\"hi\"\", all\",100,2.0,1.5,0.5\n"
        );
        assert_eq!(super::csv(&[]), "");
    }

    #[test]
    fn ratios_need_something_to_divide_by() {
        assert_eq!(ratio(3.0, Some(2.0)), Some(1.5));
        assert_eq!(ratio(3.0, Some(0.0)), None);
        assert_eq!(ratio(3.0, None), None);
    }

    #[test]
    fn rounds_and_leaves_missing_figures_empty() {
        assert_eq!(round(Some(1.23456), 2), Value::from(1.23));
        assert_eq!(round(Some(f64::NAN), 2), Value::Null);
        assert_eq!(round(None, 2), Value::Null);
    }

    #[test]
    fn plot_data_is_a_line_per_server_by_members() {
        let rows = [
            run("file", 100, 20.0, 2.0),
            run("bare", 100, 40.0, 1.0),
            run("file", 10, 10.0, 1.0),
            run("bare", 10, 30.0, 0.5),
        ];
        assert_eq!(
            series(&rows),
            [
                Series {
                    label: "file".into(),
                    points: vec![(10.0, 10.0, 1.0), (100.0, 20.0, 2.0)]
                },
                Series {
                    label: "bare".into(),
                    points: vec![(10.0, 30.0, 0.5), (100.0, 40.0, 1.0)]
                },
            ]
        );
    }

    #[test]
    fn runs_over_tls_are_a_line_of_their_own() {
        let (mut plain, mut tls) = (run("file", 10, 10.0, 1.0), run("file", 10, 5.0, 2.0));
        plain.push("tls", false);
        tls.push("tls", true);
        let labels: Vec<_> = series(&[plain, tls]).into_iter().map(|s| s.label).collect();
        assert_eq!(labels, ["file", "file tls"]);
        assert_eq!(colour("file tls").rgb(), colour("file").rgb());
        assert!(colour("file tls").alpha() < colour("file").alpha());
    }

    #[test]
    fn renders_one_member_count_and_zero_latency() {
        let rows = [run("off", 10, 1000.0, 0.0), run("bare", 10, 2000.0, 0.3)];
        let mut svg = String::new();
        render(SVGBackend::with_string(&mut svg, (900, 960)), &series(&rows), "test").unwrap();
        assert!(svg.starts_with("<svg"), "{svg:.100}");
        assert!(svg.contains(">\nbare \n</text>") && svg.contains(">\noff \n</text>"));
        assert!(svg.contains("deliveries / s"));
    }

    #[test]
    fn log_ticks() {
        assert_eq!(one_two_five(0.3, 60.0), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        assert_eq!(one_two_five(3.0, 4.0), Vec::<f64>::new());
        assert_eq!(span(&[]), (1.0, 10.0));
        assert_eq!(span(&[5.0, 2.0, 9.0]), (2.0, 9.0));
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(2_500_000.0), "2.5M");
        assert_eq!(short(25_000.0), "25k");
        assert_eq!(short(1_500.0), "1.5k");
        assert_eq!(short(12.0), "12");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(0.05), "0.05");
        assert_eq!(short(0.012), "0.012");
    }
}

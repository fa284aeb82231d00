//! One frame of the real client UI, drawn with ratatui's `TestBackend`, with a long scrollback:
//! 100,000 room messages arrive through `App::update` (the window keeps the newest
//! `MAX_SCROLLBACK`), of mixed lengths, some wrapping, some Chinese or emoji. Drawn at 80x24 and
//! 200x60, at the bottom and scrolled to the middle. The target is well under a millisecond per
//! frame, whatever the scrollback holds.
//!
//! Besides criterion's estimates it prints the median of single frames, and the memory each
//! stored message takes. `cargo bench -p chat-tui --bench draw`.

#![allow(clippy::unwrap_used)] // a bench: a panic is the failure report

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::entry::Entry;
use chat_tui::event::Event;
use chat_tui::layout::Panes;
use chat_tui::ui;
use chat_tui::window::MAX_SCROLLBACK;
use criterion::{Criterion, criterion_group, criterion_main};
use protocol::MessageKind;
use ratatui::backend::TestBackend;
use ratatui::{Frame, Terminal};

/// Messages sent to the room before drawing.
const MESSAGES: usize = 100_000;
/// Single frames timed for the printed median.
const MEDIAN_FRAMES: usize = 301;

const NICKS: [&str; 6] = ["Tracy", "小明", "Zoë", "Anne-Sophie_Leclerc", "Bob", "Guest42"];

/// The `i`th message: mostly short chat, every few a long paragraph, Chinese, emoji or two lines.
fn text(i: usize) -> String {
    match i % 10 {
        0 => format!("message {i}"),
        1 | 5 => "ok, sounds good to me".into(),
        2 => format!(
            "message {i} is a longer one, the kind somebody writes when explaining why the build \
             broke last night: a dependency moved, a test depended on the order of a hash map, \
             and the fix took longer to describe than to make. It wraps on any terminal."
        ),
        3 => {
            "你好世界，这是一条很长的中文消息，它应该正确地换行而不破坏布局，宽字符占两列。".into()
        }
        4 => "🎉🎉 shipped! 🚀 thanks everyone 👋 see you tomorrow 🍰".into(),
        6 => "two lines:\n  the second one indented".into(),
        7 => "lol".into(),
        8 => format!("did anyone look at #{}? {}", i % 97, "x".repeat(i % 70)),
        _ => "brb, coffee ☕".into(),
    }
}

/// Michael's client at `width` x `height` after `messages` messages in lobby.
fn busy_app(width: u16, height: u16, messages: usize) -> App {
    let mut app = common::app(width, height);
    for i in 0..messages {
        let kind = if i % 13 == 0 { MessageKind::Action } else { MessageKind::Say };
        common::message(&mut app, NICKS[i % NICKS.len()], kind, &text(i));
    }
    app
}

/// Entries the current window holds.
fn held(app: &App) -> usize {
    app.windows.current_window().unwrap().entries().len()
}

/// Rows of the current conversation at the app's size.
fn total_rows(app: &App) -> usize {
    let width = usize::from(Panes::new(app.view.size).messages_inner().width);
    app.windows.current_window().unwrap().total_rows(width)
}

/// Resizes `app` and scrolls it. Scrolling to the middle counts the rows at the new width, which
/// takes wrapping every entry once; the time that takes is printed.
fn resize(app: &mut App, width: u16, height: u16, scroll: Scroll) {
    app.update(Event::Resize(width, height));
    let scroll = match scroll {
        Scroll::Bottom => 0,
        Scroll::Middle => {
            let start = Instant::now();
            let rows = total_rows(app);
            println!(
                "rows of {} entries counted at {width}x{height}: {:.1} ms, once per width",
                held(app),
                start.elapsed().as_secs_f64() * 1e3
            );
            rows / 2
        }
    };
    app.windows.current_window_mut().unwrap().scroll = scroll;
}

#[derive(Debug, Clone, Copy)]
enum Scroll {
    Bottom,
    Middle,
}

/// Resident memory of this process, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Bytes an entry holds: the struct in its slot and the heap strings it owns (their capacity,
/// without the allocator's own overhead per allocation).
fn entry_bytes(e: &Entry) -> usize {
    size_of::<Entry>()
        + e.time.capacity()
        + e.text.capacity()
        + e.from.as_ref().map_or(0, |n| n.as_str().len())
}

/// Prints the memory per stored message two ways: the growth of resident memory while the
/// messages arrive, and the sum of the stored structs and their strings.
fn report_memory(before: usize, app: &App) {
    let grown = rss().saturating_sub(before);
    let window = app.windows.current_window().unwrap();
    let held = held(app);
    let counted: usize = window.entries().iter().map(entry_bytes).sum::<usize>()
        + (window.entries().capacity() - held) * size_of::<Entry>();
    println!(
        "scrollback: {MESSAGES} messages sent, {held} held (MAX_SCROLLBACK = {MAX_SCROLLBACK})"
    );
    println!(
        "memory per stored message: {} bytes (growth of VmRSS while they arrived / messages held)",
        grown / held
    );
    println!(
        "memory per stored message: {} bytes (size_of::<Entry>() = {} + string capacities, \
         no allocator overhead)",
        counted / held,
        size_of::<Entry>()
    );
}

/// The median time of one frame drawn by `draw`, over [`MEDIAN_FRAMES`] frames.
fn median_frame(terminal: &mut Terminal<TestBackend>, draw: impl Fn(&mut Frame)) -> Duration {
    let mut times: Vec<Duration> = (0..MEDIAN_FRAMES)
        .map(|_| {
            let start = Instant::now();
            terminal.draw(&draw).unwrap();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn bench_frame(c: &mut Criterion, name: &str, app: &App) {
    let mut terminal =
        Terminal::new(TestBackend::new(app.view.size.width, app.view.size.height)).unwrap();
    let median = median_frame(&mut terminal, |f| ui::draw(f, app));
    // What ratatui and the test backend cost alone: clearing, diffing and copying the buffer.
    let empty = median_frame(&mut terminal, |_| {});
    println!(
        "{name}: median {:.1} µs per frame (an empty frame of this size: {:.1} µs)",
        micros(median),
        micros(empty)
    );
    c.bench_function(name, |b| {
        b.iter(|| {
            terminal.draw(|f| ui::draw(f, black_box(app))).unwrap();
        })
    });
}

fn draw(c: &mut Criterion) {
    let before = rss();
    let mut app = busy_app(80, 24, MESSAGES);
    report_memory(before, &app);
    for (width, height) in [(80, 24), (200, 60)] {
        for scroll in [Scroll::Bottom, Scroll::Middle] {
            resize(&mut app, width, height, scroll);
            let name =
                format!("draw {width}x{height} {scroll:?}, {MESSAGES} sent, {} held", held(&app));
            bench_frame(c, &name, &app);
        }
    }
}

/// The middle frame with a tenth of the scrollback, and with ten times what a window keeps:
/// the cost must not depend on it.
fn scrollback_sizes(c: &mut Criterion) {
    let messages = MAX_SCROLLBACK / 10;
    let mut app = busy_app(80, 24, messages);
    resize(&mut app, 80, 24, Scroll::Middle);
    bench_frame(c, &format!("draw 80x24 Middle, {messages} sent, {} held", held(&app)), &app);

    // Past the bound only by putting entries in directly, as no client ever holds them.
    let mut app = busy_app(80, 24, MAX_SCROLLBACK);
    let window = app.windows.current_window_mut().unwrap();
    let kept: Vec<Entry> = window.entries().iter().cloned().collect();
    while window.entries().len() < MESSAGES {
        window.hold_beyond_bound(kept.iter().cloned());
    }
    resize(&mut app, 80, 24, Scroll::Middle);
    bench_frame(c, &format!("draw 80x24 Middle, {} held (put in directly)", held(&app)), &app);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = draw, scrollback_sizes
}
criterion_main!(benches);

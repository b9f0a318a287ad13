//! Space-time (Lamport) diagrams of a run, in the spirit of Maelstrom's
//! `messages.svg`: one vertical timeline per node and per client, simulated
//! time downward, each message a diagonal arrow coloured by type.

use std::fmt::Write as _;

use crate::faults::Shading;
use crate::text::truncate;

/// What the world records for a diagram (only when asked: it costs memory).
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Timeline names: nodes first, then clients.
    pub lanes: Vec<String>,
    pub arrows: Vec<Arrow>,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
    pub end_ms: u64,
}

#[derive(Clone, Debug)]
pub struct Arrow {
    pub from: usize,
    pub to: usize,
    pub sent_ms: u64,
    pub arrived_ms: u64,
    /// Lost, cut by a partition, or sent to a crashed node.
    pub dropped: bool,
    pub kind: &'static str,
    /// The message as JSON, for hovering.
    pub title: String,
}

/// A fault shading a timeline between two moments.
#[derive(Clone, Debug)]
pub struct Span {
    pub lane: usize,
    pub from_ms: u64,
    pub to_ms: u64,
    pub kind: Shading,
    pub title: String,
}

/// A point on a timeline, e.g. a node becoming leader.
#[derive(Clone, Debug)]
pub struct Mark {
    pub lane: usize,
    pub at_ms: u64,
    pub text: String,
}

/// Most arrows drawn; past that the diagram says how many it left out.
pub const ARROWS_MAX: usize = 12_000;
/// Longest hover text per arrow.
const TITLE_CHARS_MAX: usize = 240;

const LANE_GAP_PX: f64 = 110.0;
/// How far across a dropped message's arrow runs before its cross.
const DROP_MARK_PX: f64 = 40.0;
const LEFT_PX: f64 = 70.0;
const TOP_PX: f64 = 50.0;
/// Target height of the time axis, in pixels.
const HEIGHT_PX: f64 = 6_000.0;

/// How a protocol's messages look: a colour per message kind, and the
/// legend that explains them.
pub struct Palette {
    pub colour: fn(&str) -> &'static str,
    /// (a kind to take the colour of, what the colour means)
    pub legend: &'static [(&'static str, &'static str)],
}

/// Replies green, errors red, everything else blue.
pub const PLAIN: Palette = Palette {
    colour: plain_colour,
    legend: &[
        ("request", "requests"),
        ("reply_ok", "replies"),
        ("error", "errors"),
    ],
};

fn plain_colour(kind: &str) -> &'static str {
    match kind {
        "error" => "#c0392b",
        k if k.ends_with("_ok") => "#27ae60",
        _ => "#2471a3",
    }
}

/// One moment a checker points at: a timeline (node or client name), a time
/// and what happened there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Highlight {
    pub lane: String,
    pub at_ms: u64,
    pub what: String,
}

/// A finding to draw: its one-line text and the moments it points at.
pub struct Callout<'a> {
    pub title: String,
    pub highlights: &'a [Highlight],
}

fn span_colour(kind: Shading) -> &'static str {
    match kind {
        Shading::Crash => "#e74c3c",
        Shading::Pause => "#f1c40f",
        Shading::Lag => "#3498db",
        Shading::Link => "#1abc9c",
        Shading::Partition => "#95a5a6",
        Shading::Disk => "#8e44ad",
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

pub fn truncate_title(text: &str) -> String {
    truncate(text, TITLE_CHARS_MAX)
}

/// Width of one character of a label, in pixels (11 px monospace).
const LABEL_CHAR_PX: f64 = 7.0;

const LEADER_COLOUR: &str = "#f39c12";

/// Every kind of fault shading, in the legend's order.
const SHADINGS: [Shading; 6] = [
    Shading::Partition,
    Shading::Lag,
    Shading::Link,
    Shading::Pause,
    Shading::Crash,
    Shading::Disk,
];

/// One violation label to draw: where, and what it says.
struct Label<'a> {
    lane: usize,
    at_ms: u64,
    what: &'a str,
    title: &'a str,
}

/// The highlights inside the window, on known lanes, each (lane, time,
/// text) once however many callouts point at it.
fn highlight_labels<'a>(
    rec: &Recording,
    callouts: &'a [Callout<'a>],
    from_ms: u64,
    to_ms: u64,
) -> Vec<Label<'a>> {
    let mut labels: Vec<Label<'a>> = Vec::new();
    for callout in callouts {
        for h in callout.highlights {
            let Some(lane) = rec.lanes.iter().position(|l| *l == h.lane) else {
                continue;
            };
            let seen = labels
                .iter()
                .any(|l| (l.lane, l.at_ms, l.what) == (lane, h.at_ms, h.what.as_str()));
            if (from_ms..=to_ms).contains(&h.at_ms) && !seen {
                labels.push(Label {
                    lane,
                    at_ms: h.at_ms,
                    what: &h.what,
                    title: &callout.title,
                });
            }
        }
    }
    labels
}

/// Draws the window `from_ms..=to_ms` of a recorded run.
pub fn render(
    rec: &Recording,
    palette: &Palette,
    callouts: &[Callout<'_>],
    from_ms: u64,
    to_ms: u64,
) -> String {
    draw(rec, palette, callouts, from_ms, to_ms).svg
}

/// A drawn diagram and what it had to leave out.
pub struct Drawn {
    pub svg: String,
    /// Messages in the window past [`ARROWS_MAX`], not drawn.
    pub arrows_omitted: usize,
}

/// Draws the window `from_ms..=to_ms` of a recorded run, and says how many
/// messages it left out. Layers go from the back: legend and time axis,
/// fault shading, timelines, messages, leadership marks, violations.
pub fn draw(
    rec: &Recording,
    palette: &Palette,
    callouts: &[Callout<'_>],
    from_ms: u64,
    to_ms: u64,
) -> Drawn {
    let to_ms = to_ms.min(rec.end_ms).max(from_ms + 1);
    let mut canvas = Canvas {
        from_ms,
        to_ms,
        px_per_ms: (HEIGHT_PX / (to_ms - from_ms) as f64).clamp(0.2, 8.0),
        width: 0.0,
        height: 0.0,
    };
    // Violation labels, each once (two checkers may point at one moment),
    // with room on the right for the longest.
    let labels = highlight_labels(rec, callouts, from_ms, to_ms);
    let labels_right_px = labels
        .iter()
        .map(|l| canvas.x(l.lane) + 12.0 + LABEL_CHAR_PX * l.what.chars().count() as f64 + 12.0)
        .fold(0.0, f64::max);
    canvas.width = (LEFT_PX + LANE_GAP_PX * rec.lanes.len() as f64 + 300.0).max(labels_right_px);
    // Messages sent inside the window may land after it: make room for them.
    let last_arrival_ms = rec
        .arrows
        .iter()
        .filter(|a| a.sent_ms <= to_ms && a.arrived_ms >= from_ms)
        .map(|a| a.arrived_ms)
        .max()
        .unwrap_or(to_ms)
        .max(to_ms);
    canvas.height = canvas.y(last_arrival_ms) + 40.0;
    let mut svg = String::with_capacity(1 << 20);
    canvas.header(&mut svg);
    legend(&mut svg, palette);
    canvas.time_axis(&mut svg);
    canvas.shading(&mut svg, rec);
    canvas.timelines(&mut svg, rec);
    let arrows_omitted = canvas.messages(&mut svg, rec, palette);
    canvas.leadership(&mut svg, rec);
    canvas.violations(&mut svg, rec, &labels);
    svg.push_str("</svg>\n");
    Drawn {
        svg,
        arrows_omitted,
    }
}

/// Where things go: time runs down, one lane per node or client.
struct Canvas {
    from_ms: u64,
    to_ms: u64,
    px_per_ms: f64,
    width: f64,
    height: f64,
}

/// The legend: what the colours mean, the fault shading (faint, as drawn)
/// and the leader mark.
fn legend(svg: &mut String, palette: &Palette) {
    let colour = palette.colour;
    let mut lx = LEFT_PX;
    let _ = write!(svg, r#"<g class="legend">"#);
    let messages = palette
        .legend
        .iter()
        .map(|&(kind, label)| (colour(kind), label, 1.0));
    let shades = SHADINGS
        .iter()
        .map(|&kind| (span_colour(kind), kind.name(), 0.35));
    let leader = std::iter::once((LEADER_COLOUR, "leader elected", 1.0));
    for (fill, label, opacity) in messages.chain(shades).chain(leader) {
        let _ = write!(
            svg,
            r#"<rect x="{lx:.0}" y="4" width="10" height="10" fill="{fill}" fill-opacity="{opacity}"/><text x="{:.0}" y="13">{label}</text>"#,
            lx + 14.0
        );
        lx += 24.0 + LABEL_CHAR_PX * label.len() as f64;
    }
    let _ = writeln!(svg, "</g>");
}

impl Canvas {
    fn x(&self, lane: usize) -> f64 {
        LEFT_PX + LANE_GAP_PX * (lane as f64 + 0.5)
    }

    fn y(&self, ms: u64) -> f64 {
        TOP_PX + (ms.saturating_sub(self.from_ms)) as f64 * self.px_per_ms
    }

    fn header(&self, svg: &mut String) {
        let (width, height) = (self.width, self.height);
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="monospace" font-size="11">"#
        );
        svg.push_str(
            r##"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke"/></marker></defs>
<style>.arrow{stroke-width:1.2}.arrow:hover{stroke-width:3}.dropped{stroke-dasharray:4 3}.violation{stroke:#ff0000;stroke-width:4}</style>
"##,
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    }

    fn time_axis(&self, svg: &mut String) {
        let width = self.width;
        let step_ms = [1u64, 5, 10, 50, 100, 500, 1000, 5000]
            .into_iter()
            .find(|s| *s as f64 * self.px_per_ms >= 60.0)
            .unwrap_or(10_000);
        let mut t = self.from_ms.div_ceil(step_ms) * step_ms;
        while t <= self.to_ms {
            let _ = writeln!(
                svg,
                r##"<text x="4" y="{:.1}" fill="#555">{t} ms</text><line x1="{LEFT_PX}" y1="{:.1}" x2="{width:.0}" y2="{:.1}" stroke="#eee"/>"##,
                self.y(t) + 4.0,
                self.y(t),
                self.y(t)
            );
            t += step_ms;
        }
    }

    /// Fault shading, under everything else.
    fn shading(&self, svg: &mut String, rec: &Recording) {
        for span in rec
            .spans
            .iter()
            .filter(|s| s.to_ms >= self.from_ms && s.from_ms <= self.to_ms)
        {
            let top = self.y(span.from_ms.max(self.from_ms));
            let bottom = self.y(span.to_ms.min(self.to_ms));
            let _ = writeln!(
                svg,
                r#"<rect class="fault {}" x="{:.1}" y="{top:.1}" width="24" height="{:.1}" fill="{}" opacity="0.35"><title>{}</title></rect>"#,
                span.kind.name(),
                self.x(span.lane) - 12.0,
                (bottom - top).max(1.0),
                span_colour(span.kind),
                escape(&span.title)
            );
        }
    }

    fn timelines(&self, svg: &mut String, rec: &Recording) {
        for (lane, name) in rec.lanes.iter().enumerate() {
            let _ = writeln!(
                svg,
                r##"<g class="timeline"><text x="{:.1}" y="30" text-anchor="middle" font-weight="bold">{}</text><line x1="{:.1}" y1="{TOP_PX}" x2="{:.1}" y2="{:.1}" stroke="#333"/></g>"##,
                self.x(lane),
                escape(name),
                self.x(lane),
                self.x(lane),
                self.y(self.to_ms)
            );
        }
    }

    /// The messages of the window, at most [`ARROWS_MAX`]; returns how many
    /// it left out.
    fn messages(&self, svg: &mut String, rec: &Recording, palette: &Palette) -> usize {
        let colour = palette.colour;
        let visible: Vec<&Arrow> = rec
            .arrows
            .iter()
            .filter(|a| a.arrived_ms >= self.from_ms && a.sent_ms <= self.to_ms)
            .collect();
        for arrow in visible.iter().take(ARROWS_MAX) {
            let (x1, y1) = (self.x(arrow.from), self.y(arrow.sent_ms));
            let (mut x2, mut y2) = (self.x(arrow.to), self.y(arrow.arrived_ms));
            if arrow.dropped {
                // Cut short near its sender, ending in a cross that stays clear
                // of every other timeline: at most 40 px across (lanes are 110
                // px apart), and halfway for a message to a neighbour.
                let part = (DROP_MARK_PX / (x2 - x1).abs().max(1.0)).min(0.5);
                x2 = x1 + (x2 - x1) * part;
                y2 = y1 + (y2 - y1) * part;
            }
            let class = if arrow.dropped {
                "arrow dropped"
            } else {
                "arrow"
            };
            let head = if arrow.dropped {
                ""
            } else {
                r#" marker-end="url(#head)""#
            };
            let _ = writeln!(
                svg,
                r#"<line class="{class} t-{}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}"{head}><title>{}{}</title></line>"#,
                escape(arrow.kind),
                colour(arrow.kind),
                if arrow.dropped { "DROPPED " } else { "" },
                escape(&arrow.title)
            );
            if arrow.dropped {
                let _ = writeln!(
                    svg,
                    r##"<path class="drop-mark" d="M {:.1} {:.1} l 6 6 m 0 -6 l -6 6" stroke="#c0392b"/>"##,
                    x2 - 3.0,
                    y2 - 3.0
                );
            }
        }
        let omitted = visible.len().saturating_sub(ARROWS_MAX);
        if omitted > 0 {
            let _ = writeln!(
                svg,
                r##"<text x="{LEFT_PX}" y="{:.1}" fill="#c0392b">{omitted} more messages not drawn: narrow the window with --from-ms/--to-ms</text>"##,
                self.height - 15.0,
            );
        }
        omitted
    }

    fn leadership(&self, svg: &mut String, rec: &Recording) {
        for mark in rec
            .marks
            .iter()
            .filter(|m| (self.from_ms..=self.to_ms).contains(&m.at_ms))
        {
            let _ = writeln!(
                svg,
                r##"<g class="leader"><circle cx="{:.1}" cy="{:.1}" r="6" fill="{LEADER_COLOUR}" stroke="#7e5109"><title>{}</title></circle><text x="{:.1}" y="{:.1}" fill="#7e5109">{}</text></g>"##,
                self.x(mark.lane),
                self.y(mark.at_ms),
                escape(&format!("{} at {} ms", mark.text, mark.at_ms)),
                self.x(mark.lane) + 8.0,
                self.y(mark.at_ms) + 4.0,
                escape(&mark.text)
            );
        }
    }

    /// Violations: circle the moments and redraw the replies that arrived then.
    fn violations(&self, svg: &mut String, rec: &Recording, labels: &[Label<'_>]) {
        let mut labels_at: Vec<(usize, u64)> = Vec::new();
        for label in labels {
            let (lane, at_ms) = (label.lane, label.at_ms);
            for arrow in rec
                .arrows
                .iter()
                .filter(|a| a.to == lane && a.arrived_ms == at_ms && !a.dropped)
            {
                let _ = writeln!(
                    svg,
                    r#"<line class="violation" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"><title>{}</title></line>"#,
                    self.x(arrow.from),
                    self.y(arrow.sent_ms),
                    self.x(arrow.to),
                    self.y(arrow.arrived_ms),
                    escape(&arrow.title)
                );
            }
            // Several labels at one moment stack downward instead of overlapping.
            let stacked = labels_at.iter().filter(|&&at| at == (lane, at_ms)).count();
            labels_at.push((lane, at_ms));
            let _ = writeln!(
                svg,
                r##"<g class="highlight"><circle cx="{:.1}" cy="{:.1}" r="10" fill="none" stroke="#ff0000" stroke-width="3"><title>{}</title></circle><text x="{:.1}" y="{:.1}" fill="#ff0000" font-weight="bold">{}</text></g>"##,
                self.x(lane),
                self.y(at_ms),
                escape(label.title),
                self.x(lane) + 12.0,
                self.y(at_ms) - 6.0 + 13.0 * stacked as f64,
                escape(label.what)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording() -> Recording {
        Recording {
            lanes: vec!["n1".into(), "n2".into(), "c1".into()],
            arrows: Vec::new(),
            spans: Vec::new(),
            marks: Vec::new(),
            end_ms: 1000,
        }
    }

    fn width_of(svg: &str) -> f64 {
        let at = svg.find("width=\"").expect("a width") + 7;
        let end = at + svg[at..].find('"').expect("closed");
        svg[at..end].parse().expect("a number")
    }

    #[test]
    fn a_violation_label_fits_the_canvas_and_is_drawn_once_however_many_point_at_it() {
        let what =
            "acknowledgement of a write that was lost (index 17), long enough to pass the margin";
        let highlights = vec![Highlight {
            lane: "c1".into(),
            at_ms: 500,
            what: what.into(),
        }];
        let callouts = [
            Callout {
                title: "durability".into(),
                highlights: &highlights,
            },
            Callout {
                title: "read-your-writes".into(),
                highlights: &highlights,
            },
        ];
        let svg = render(&recording(), &PLAIN, &callouts, 0, 1000);
        assert_eq!(svg.matches(what).count(), 1, "drawn once");
        let right = LEFT_PX + LANE_GAP_PX * 2.5 + 12.0 + LABEL_CHAR_PX * what.len() as f64;
        assert!(width_of(&svg) >= right, "{} < {right}", width_of(&svg));
    }

    #[test]
    fn the_legend_explains_the_fault_shading_and_the_leader_mark() {
        let svg = render(&recording(), &PLAIN, &[], 0, 1000);
        let legend = &svg[svg.find(r#"<g class="legend">"#).expect("a legend")..];
        let legend = &legend[..legend.find("</g>").expect("closed")];
        for label in [
            "requests",
            "partition",
            "lag",
            "link",
            "pause",
            "crash",
            "disk",
            "leader elected",
        ] {
            assert!(
                legend.contains(&format!(">{label}<")),
                "{label} missing from {legend}"
            );
        }
    }
}

//! LOLWUT [VERSION v [args…]]: computer art and the version line, as Redis 7.0 answers it.
//!
//! * Plain LOLWUT (and any version but 5 and 6) answers only `Redis ver. 7.0.15\n`, which
//!   is what Redis 7.0 itself shows (its newest art is version 6's).
//! * VERSION 5 `[columns] [squares-per-row] [squares-per-column]` (defaults 66, 8, 12):
//!   a grid of squares that fall into disorder row by row, after Georg Nees's *Schotter*
//!   (1968), drawn in Braille dots (2×4 per character), then
//!   `Georg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15`.
//! * VERSION 6 `[columns] [rows]` (defaults 80, 20): a city skyline at night in three
//!   shades, then `… Redis ver. 7.0.15`.
//!
//! The drawings are rcache's own (random each time); arguments are clamped as Redis clamps
//! them (1–1000 columns and rows, 1–200 squares), and version 5 draws at most a million
//! characters. The reply is verbatim text (`=` in RESP3).

use crate::connection::REDIS_VERSION;
use crate::error::CmdResult;
use crate::table::{flags::*, CommandSpec};
use crate::util::{eq_ic, parse_int};
use crate::{cmd, Ctx};
use protocol::Args;
use rand::Rng;

pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "lolwut",
    -1,
    READONLY | FAST,
    0,
    0,
    0,
    lolwut,
    "server",
    "5.0.0",
    "Displays computer art and the Redis version",
    "[VERSION version]"
)];

/// LOLWUT [VERSION version [args…]]
fn lolwut(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut version = None;
    let mut rest: Vec<&[u8]> = args.iter().skip(1).collect();
    if args.len() >= 3 && eq_ic(args.get(1), "version") {
        // Redis prints the number as an unsigned int: -1 is no version it draws.
        version = Some(parse_int(args.get(2))? as u32);
        rest.drain(..2);
    }
    let num = |i: usize, default: i64, lo: i64, hi: i64| -> Result<i64, crate::CmdError> {
        Ok(match rest.get(i) {
            Some(a) => parse_int(a)?.clamp(lo, hi),
            None => default,
        })
    };
    let text = match version {
        Some(5) => {
            let cols = num(0, 66, 1, 1000)? as usize;
            let per_row = num(1, 8, 1, 200)? as usize;
            let per_col = num(2, 12, 1, 200)? as usize;
            format!(
                "{}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {REDIS_VERSION}\n",
                schotter(cols, per_row, per_col)
            )
        }
        Some(6) => {
            let cols = num(0, 80, 1, 1000)? as usize;
            let rows = num(1, 20, 1, 1000)? as usize;
            format!(
                "{}\nA city at night, in three shades of grey. Redis ver. {REDIS_VERSION}\n",
                skyline(cols, rows)
            )
        }
        _ => format!("Redis ver. {REDIS_VERSION}\n"),
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// A pixel canvas rendered in Braille: each character holds 2×4 dots.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<bool>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![false; w * h],
        }
    }

    fn set(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.px[y as usize * self.w + x as usize] = true;
        }
    }

    /// A straight line between two points (Bresenham's).
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64)) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.set(x0, y0);
            if x0 == x1 && y0 == y1 {
                return;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    fn render(&self) -> String {
        // Dot bit of pixel (dx, dy) inside a character cell (Unicode Braille patterns).
        const BIT: [[u32; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        let mut out = String::new();
        for cy in 0..self.h.div_ceil(4) {
            for cx in 0..self.w.div_ceil(2) {
                let mut bits = 0;
                for (dx, col) in BIT.iter().enumerate() {
                    for (dy, bit) in col.iter().enumerate() {
                        let (x, y) = (cx * 2 + dx, cy * 4 + dy);
                        if x < self.w && y < self.h && self.px[y * self.w + x] {
                            bits |= bit;
                        }
                    }
                }
                out.push(char::from_u32(0x2800 + bits).unwrap_or(' '));
            }
            out.push('\n');
        }
        out
    }
}

/// Squares in a grid, each row turned and shifted a little more at random than the one
/// above it.
fn schotter(cols: usize, per_row: usize, mut per_col: usize) -> String {
    let w = cols * 2;
    let pad = (w / 20).max(1);
    let side = ((w.saturating_sub(2 * pad)) / per_row).max(2);
    // At most about a million characters (8 million dots).
    while per_col > 1 && w * (side * per_col + 2 * pad) > 8_000_000 {
        per_col -= 1;
    }
    let h = side * per_col + 2 * pad;
    let mut c = Canvas::new(w, h);
    let mut rng = rand::rng();
    for r in 0..per_col {
        let disorder = r as f64 / per_col as f64;
        for q in 0..per_row {
            let angle = rng.random_range(-1.0..=1.0) * std::f64::consts::FRAC_PI_4 * disorder;
            let shift = |rng: &mut rand::rngs::ThreadRng| {
                rng.random_range(-1.0..=1.0) * side as f64 * 0.3 * disorder
            };
            let cx = pad as f64 + (q as f64 + 0.5) * side as f64 + shift(&mut rng);
            let cy = pad as f64 + (r as f64 + 0.5) * side as f64 + shift(&mut rng);
            let half = side as f64 / 2.0;
            let (sin, cos) = angle.sin_cos();
            let corner = |(x, y): (f64, f64)| -> (i64, i64) {
                (
                    (cx + x * cos - y * sin).round() as i64,
                    (cy + x * sin + y * cos).round() as i64,
                )
            };
            let pts = [(-half, -half), (half, -half), (half, half), (-half, half)].map(corner);
            for i in 0..4 {
                c.line(pts[i], pts[(i + 1) % 4]);
            }
        }
    }
    c.render()
}

/// Three rows of buildings, the farthest palest; the nearest have lit windows.
fn skyline(cols: usize, rows: usize) -> String {
    const SHADES: [char; 3] = ['░', '▒', '▓'];
    let mut cells = vec![' '; cols * rows];
    let mut rng = rand::rng();
    for (layer, &shade) in SHADES.iter().enumerate() {
        let mut x = rng.random_range(0..4usize);
        while x < cols {
            let width = rng.random_range(3..10usize);
            // Nearer buildings are lower, so the farther ones show above them.
            let top = 0.95 - 0.2 * layer as f64;
            let height = ((rows as f64) * rng.random_range(0.25..=top)).round() as usize;
            for y in rows.saturating_sub(height.max(1))..rows {
                for cx in x..(x + width).min(cols) {
                    let window = layer == 2
                        && cx > x
                        && cx + 1 < x + width
                        && (rows - y).is_multiple_of(2)
                        && rng.random_bool(0.3);
                    cells[y * cols + cx] = if window { '·' } else { shade };
                }
            }
            x += width + rng.random_range(0..3usize) * (2 - layer.min(2)) + 1;
        }
    }
    let mut out = String::with_capacity(cells.len() * 3 + rows);
    for row in cells.chunks(cols) {
        out.extend(row);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    fn text(reply: &str) -> String {
        // `$<len>\r\n<text>\r\n`
        let (_, body) = reply.split_once("\r\n").unwrap();
        body.strip_suffix("\r\n").unwrap().to_string()
    }

    #[test]
    fn plain_lolwut_is_the_version_line() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["LOLWUT"]), "$18\r\nRedis ver. 7.0.15\n\r\n");
        // Arguments without VERSION are ignored, as Redis 7.0 does; other versions too.
        assert_eq!(t.run(&["LOLWUT", "foo"]), "$18\r\nRedis ver. 7.0.15\n\r\n");
        assert_eq!(
            t.run(&["LOLWUT", "VERSION", "4"]),
            "$18\r\nRedis ver. 7.0.15\n\r\n"
        );
        assert_eq!(
            t.run(&["LOLWUT", "VERSION", "-1"]),
            "$18\r\nRedis ver. 7.0.15\n\r\n"
        );
        assert_eq!(
            t.run(&["LOLWUT", "VERSION", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.run(&["LOLWUT", "VERSION", "5", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        t.resp3();
        assert_eq!(t.run(&["LOLWUT"]), "=22\r\ntxt:Redis ver. 7.0.15\n\r\n");
    }

    #[test]
    fn versions_5_and_6_draw_then_end_with_the_version_line() {
        let t = TestCtx::new();
        let v5 = text(&t.run(&["LOLWUT", "VERSION", "5"]));
        assert!(
            v5.ends_with("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"),
            "{v5}"
        );
        let art: Vec<&str> = v5.lines().take_while(|l| !l.is_empty()).collect();
        assert!(art.len() > 10, "{v5}");
        assert!(art.iter().all(|l| l.chars().count() == 66), "{v5}");
        assert!(art.iter().any(|l| l.chars().any(|c| c != '\u{2800}')));
        let small = text(&t.run(&["LOLWUT", "VERSION", "5", "10", "2", "2"]));
        assert!(
            small.lines().next().unwrap().chars().count() == 10,
            "{small}"
        );
        // Clamped, not refused.
        let tiny = text(&t.run(&["LOLWUT", "VERSION", "5", "-5", "0", "0"]));
        assert!(tiny.ends_with("Redis ver. 7.0.15\n"), "{tiny}");
        let huge = t.run(&["LOLWUT", "VERSION", "5", "5000", "1", "1000"]);
        assert!(huge.len() < 8_000_000, "{}", huge.len());
        let v6 = text(&t.run(&["LOLWUT", "VERSION", "6", "40", "10"]));
        let lines: Vec<&str> = v6.lines().collect();
        assert_eq!(lines.len(), 12, "{v6}");
        assert!(lines[..10].iter().all(|l| l.chars().count() == 40), "{v6}");
        assert!(lines[11].ends_with("Redis ver. 7.0.15"), "{v6}");
    }
}

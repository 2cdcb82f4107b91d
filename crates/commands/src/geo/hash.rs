//! Redis's geohash arithmetic: the 52-bit interleaved score of a (longitude, latitude), its
//! decoding, cell neighbours, the haversine distance, the search step for a radius, the
//! 11-character GEOHASH string, and the two number formats geo replies use.
//!
//! Every computation here is done with the same double operations, in the same order, as
//! Redis 7's `geohash.c`/`geohash_helper.c`, and the trigonometry goes through the same C
//! library (`sin`, `cos`, `asin` are libm calls), so scores, coordinates and distances are
//! bit-identical to Redis's and search results agree member for member.
//!
//! ```text
//!  score = interleave(lat cell, lon cell) over 26 steps: bit 2k = latitude, 2k+1 = longitude
//!          (longitude -180..180, latitude -85.05112878..85.05112878, Web Mercator's limits)
//!  cell at step s = the score's top 2s bits; its scores are [bits << (52-2s), (bits+1) << …)
//! ```

use std::f64::consts::PI;

pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// 26 steps × 2 bits = the 52 bits of a score (a double holds them exactly).
pub const STEP_MAX: u8 = 26;
/// Redis's earth radius (the quadratic mean radius of WGS-84), metres.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians, as Redis's `D_R` (M_PI / 180.0).
const D_R: f64 = PI / 180.0;

/// An interval of one coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub min: f64,
    pub max: f64,
}

/// The coordinate spans scores are encoded over.
pub const LON_SPAN: Span = Span {
    min: LON_MIN,
    max: LON_MAX,
};
pub const LAT_SPAN: Span = Span {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A geohash cell: `step` bits per coordinate, interleaved in the low `2 * step` bits
/// (a cell made from a coordinate on the upper limit may carry one bit more, as in Redis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// The area a cell covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub lon: Span,
    pub lat: Span,
}

#[inline]
pub fn deg_rad(a: f64) -> f64 {
    a * D_R
}

#[inline]
pub fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// The 32 bits of `v` moved to the even bit positions of a u64.
#[inline]
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The even bits of `x` gathered into 32 bits (the inverse of `spread`).
#[inline]
fn gather(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0xFFFF_FFFF) as u32
}

/// Latitude bits on even positions, longitude bits on odd ones.
#[inline]
pub fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// `(latitude cell, longitude cell)` of interleaved bits.
#[inline]
pub fn deinterleave(bits: u64) -> (u32, u32) {
    (gather(bits), gather(bits >> 1))
}

/// The cell of `(lon, lat)` at `step` over the given spans; `None` outside Redis's limits
/// or the spans (Redis's geohashEncode).
#[allow(clippy::manual_range_contains)] // Redis's comparisons, which let a NaN through
pub fn encode_in(lon_span: Span, lat_span: Span, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if step == 0 || step > 32 {
        return None;
    }
    // Written as Redis compares, so a NaN would pass as it does there.
    if lon > LON_MAX || lon < LON_MIN || lat > LAT_MAX || lat < LAT_MIN {
        return None;
    }
    if lat < lat_span.min || lat > lat_span.max || lon < lon_span.min || lon > lon_span.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_span.min) / (lat_span.max - lat_span.min) * scale;
    let lon_off = (lon - lon_span.min) / (lon_span.max - lon_span.min) * scale;
    // C converts these doubles to uint32_t: truncation (they are in [0, 2^step]).
    Some(Cell {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

/// The cell of `(lon, lat)` at `step` over Redis's spans.
#[inline]
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(LON_SPAN, LAT_SPAN, lon, lat, step)
}

/// A cell's bits aligned to 52 bits: the lowest score inside it.
#[inline]
pub fn align52(c: Cell) -> u64 {
    c.bits << (52 - 2 * c.step as u32)
}

/// The sorted-set score GEOADD stores for `(lon, lat)` (already checked against the limits).
#[inline]
pub fn score_of(lon: f64, lat: f64) -> u64 {
    encode(lon, lat, STEP_MAX).map_or(0, align52)
}

/// The scores inside a cell: `[min, max)`.
#[inline]
pub fn cell_scores(c: Cell) -> (f64, f64) {
    let shift = 52 - 2 * c.step as u32;
    ((c.bits << shift) as f64, ((c.bits + 1) << shift) as f64)
}

/// The area of a cell over the given spans (Redis's geohashDecode).
pub fn decode_in(lon_span: Span, lat_span: Span, c: Cell) -> Area {
    let (ilat, ilon) = deinterleave(c.bits);
    let div = (1u64 << c.step) as f64;
    let lat_scale = lat_span.max - lat_span.min;
    let lon_scale = lon_span.max - lon_span.min;
    // `+ 1` on the 32-bit cell number wraps, as it does in C.
    Area {
        lat: Span {
            min: lat_span.min + (ilat as f64 / div) * lat_scale,
            max: lat_span.min + (ilat.wrapping_add(1) as f64 / div) * lat_scale,
        },
        lon: Span {
            min: lon_span.min + (ilon as f64 / div) * lon_scale,
            max: lon_span.min + (ilon.wrapping_add(1) as f64 / div) * lon_scale,
        },
    }
}

#[inline]
pub fn decode(c: Cell) -> Area {
    decode_in(LON_SPAN, LAT_SPAN, c)
}

/// What C's `(uint64_t)` cast of a double gives on x86-64 (gcc's sequence: a signed
/// truncation below 2^63, a biased one above; out of range yields the "indefinite"
/// 0x8000000000000000). Redis decodes any score this way, so GEOPOS of a member whose score
/// was set by ZADD (negative, fractional, huge) answers the same coordinates as Redis.
pub fn c_u64_of(x: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    fn trunc_i64(x: f64) -> u64 {
        if (-TWO63..TWO63).contains(&x) {
            x as i64 as u64
        } else {
            1 << 63
        }
    }
    if x >= TWO63 {
        trunc_i64(x - TWO63) ^ (1 << 63)
    } else {
        trunc_i64(x)
    }
}

/// The centre of a cell's area, clamped to the limits.
pub fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// `(longitude, latitude)` of a member's score, as GEOPOS reports it.
#[inline]
pub fn decode_score(score: f64) -> (f64, f64) {
    area_center(&decode(Cell {
        bits: c_u64_of(score),
        step: STEP_MAX,
    }))
}

fn move_x(c: Cell, d: i8) -> Cell {
    if d == 0 {
        return c;
    }
    let x = c.bits & 0xAAAA_AAAA_AAAA_AAAA;
    let y = c.bits & 0x5555_5555_5555_5555;
    let shift = 64 - 2 * c.step as u32;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    let x = if d > 0 {
        x.wrapping_add(zz + 1)
    } else {
        (x | zz).wrapping_sub(zz + 1)
    };
    Cell {
        bits: (x & (0xAAAA_AAAA_AAAA_AAAA >> shift)) | y,
        step: c.step,
    }
}

fn move_y(c: Cell, d: i8) -> Cell {
    if d == 0 {
        return c;
    }
    let x = c.bits & 0xAAAA_AAAA_AAAA_AAAA;
    let y = c.bits & 0x5555_5555_5555_5555;
    let shift = 64 - 2 * c.step as u32;
    let zz = 0xAAAA_AAAA_AAAA_AAAAu64 >> shift;
    let y = if d > 0 {
        y.wrapping_add(zz + 1)
    } else {
        (y | zz).wrapping_sub(zz + 1)
    };
    Cell {
        bits: x | (y & (0x5555_5555_5555_5555 >> shift)),
        step: c.step,
    }
}

/// The eight neighbours of a cell (wrapping around), in the order Redis searches them:
/// north, south, east, west, north-east, north-west, south-east, south-west.
pub fn neighbours(c: Cell) -> [Cell; 8] {
    let at = |dx: i8, dy: i8| move_y(move_x(c, dx), dy);
    [
        at(0, 1),
        at(0, -1),
        at(1, 0),
        at(-1, 0),
        at(1, 1),
        at(-1, 1),
        at(1, -1),
        at(-1, -1),
    ]
}

/// The distance along a meridian between two latitudes (degrees), metres.
#[inline]
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine great-circle distance between two points (degrees), metres: Redis's
/// formula, including its shortcut when the longitudes are the same.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The cell step for a search of `radius_m` metres around latitude `lat`: the finest step
/// whose cells are still about as large as the radius, coarser near the poles.
#[allow(clippy::manual_range_contains)] // Redis's comparisons, which let a NaN through
pub fn estimate_step(radius_m: f64, lat: f64) -> u8 {
    if radius_m == 0.0 {
        return STEP_MAX;
    }
    let mut r = radius_m;
    let mut step: i32 = 1;
    while r < MERCATOR_MAX {
        r *= 2.0;
        step += 1;
    }
    step -= 2;
    if lat > 66.0 || lat < -66.0 {
        step -= 1;
        if lat > 80.0 || lat < -80.0 {
            step -= 1;
        }
    }
    step.clamp(1, STEP_MAX as i32) as u8
}

/// GEOHASH's string for a score: decoded, re-encoded over the standard latitude span
/// (-90..90), 10 base-32 characters of the 52 bits and a final `0`.
pub fn geohash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let std_lon = Span {
        min: -180.0,
        max: 180.0,
    };
    let std_lat = Span {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode_in(std_lon, std_lat, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, ch) in out.iter_mut().enumerate().take(10) {
        let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *ch = ALPHABET[idx as usize];
    }
    out
}

/// A distance as Redis replies it: fixed point, 4 decimals, rounded half to even (its
/// `fixedpoint_d2string`, which uses `llrint`).
pub fn fmt_distance(d: f64, buf: &mut [u8; 48]) -> &[u8] {
    if d == 0.0 {
        buf[..6].copy_from_slice(b"0.0000");
        return &buf[..6];
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let mut n = 0;
    if v < 0 {
        buf[0] = b'-';
        n = 1;
    }
    let a = v.unsigned_abs();
    let mut ib = itoa::Buffer::new();
    let int = ib.format(a / 10000).as_bytes();
    buf[n..n + int.len()].copy_from_slice(int);
    n += int.len();
    buf[n] = b'.';
    let mut frac = a % 10000;
    for i in (1..=4).rev() {
        buf[n + i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    &buf[..n + 5]
}

/// A coordinate as Redis replies it (`addReplyHumanLongDouble`): 17 decimals, trailing
/// zeros and a bare dot removed, `-0` written `0`.
pub fn fmt_human(x: f64, buf: &mut [u8; 400]) -> &[u8] {
    use std::io::Write;
    if x.is_infinite() {
        return if x > 0.0 { b"inf" } else { b"-inf" };
    }
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cur, "{x:.17}");
    let mut n = cur.position() as usize;
    if buf[..n].contains(&b'.') {
        while buf[n - 1] == b'0' {
            n -= 1;
        }
        if buf[n - 1] == b'.' {
            n -= 1;
        }
    }
    if buf[..n] == b"-0"[..] {
        return b"0";
    }
    &buf[..n]
}

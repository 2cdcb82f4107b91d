//! The search area of GEOSEARCH & co.: a shape around a centre, the bounding box of that
//! shape, and the nine geohash cells (centre + eight neighbours) whose score ranges cover
//! it, chosen as Redis's `geohashCalculateAreasByShapeWGS84` chooses them, and the exact
//! test of a point against the shape.
//!
//! ```text
//!  radius (or box half-diagonal) ─► step ─► centre cell + 8 neighbours
//!     a neighbour too close to the box edge ─► one step coarser
//!     cells entirely beyond the bounding box (step ≥ 2) ─► dropped
//! ```

use super::hash::{self, Area, Cell};

/// The shape searched, in the request's unit (multiply by `Query::conv` for metres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: centre, shape and the unit's size in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Query {
    pub lon: f64,
    pub lat: f64,
    pub shape: Shape,
    pub conv: f64,
}

impl Query {
    /// The bounding box `[min lon, min lat, max lon, max lat]` of the shape.
    pub fn bounds(&self) -> [f64; 4] {
        let (half_h, half_w) = match self.shape {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let height = self.conv * half_h;
        let width = self.conv * half_w;
        let lat_delta = hash::rad_deg(height / hash::EARTH_RADIUS_M);
        let lon_delta_top =
            hash::rad_deg(width / hash::EARTH_RADIUS_M / hash::deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom =
            hash::rad_deg(width / hash::EARTH_RADIUS_M / hash::deg_rad(self.lat - lat_delta).cos());
        // The box is widest on the side nearer the equator.
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The radius the cell step is chosen from, metres (a box's half-diagonal).
    fn reach_m(&self) -> f64 {
        let r = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.conv
    }

    /// The cells to scan, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW; `None` for
    /// a neighbour that cannot hold a match.
    pub fn cells(&self) -> [Option<Cell>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let mut step = hash::estimate_step(self.reach_m(), self.lat);
        let around = |step: u8| {
            // The centre is within the limits (checked, or decoded from a member).
            let c = hash::encode(self.lon, self.lat, step).unwrap_or(Cell { bits: 0, step });
            (c, hash::neighbours(c), hash::decode(c))
        };
        let (mut center, mut nb, mut area) = around(step);
        // A neighbour that does not reach past the bounding box means the cells are too
        // small to cover it: go one step coarser.
        let [n, s, e, w] = [0, 1, 2, 3].map(|i| hash::decode(nb[i]));
        let too_fine = n.lat.max < max_lat
            || s.lat.min > min_lat
            || e.lon.max < max_lon
            || w.lon.min > min_lon;
        if step > 1 && too_fine {
            step -= 1;
            (center, nb, area) = around(step);
        }
        let mut cells: [Option<Cell>; 9] = [None; 9];
        cells[0] = Some(center);
        for (slot, c) in cells[1..].iter_mut().zip(nb) {
            *slot = Some(c);
        }
        if step >= 2 {
            drop_beyond(&mut cells, &area, [min_lon, min_lat, max_lon, max_lat]);
        }
        cells
    }

    /// The exact membership test of this query, with what it reuses prepared.
    pub fn tester(&self) -> Tester {
        Tester::new(*self)
    }
}

/// The test of a point against a query's shape: Redis's exact test (`geoWithinShape`), with
/// the same double operations so every decision and distance is the same, preceded by
/// cheap bounds that only ever reject points the exact test would reject too.
///
/// The bounds are spherical geometry with safety margins far above the rounding error of
/// the exact test (a relative 1e-6 and 10 m on the radius): a point within great-circle
/// distance θ of the centre is within θ in latitude, and within asin(sin θ / cos φ) in
/// longitude (the widest point of a spherical cap); on a parallel at latitude φ, a
/// longitude gap Δλ is at least 2R·asin(cos φ·sin(Δλ/2)) long. Most candidates of the nine
/// cells are rejected by these comparisons, without the trigonometry of the exact test.
/// The centre's own cosine is computed once, which gives the same value as computing it per
/// point.
pub struct Tester {
    q: Query,
    lon1r: f64,
    lat1r: f64,
    cos_lat1: f64,
    /// Largest latitude gap (radians) a match can have.
    max_dlat: f64,
    /// Largest longitude gap (radians, wrapped to [0, π]) a match can have.
    max_dlon: f64,
}

impl Tester {
    fn new(q: Query) -> Tester {
        let lat1r = hash::deg_rad(q.lat);
        let inf = f64::INFINITY;
        let (max_dlat, max_dlon) = match q.shape {
            Shape::Radius(r) => {
                let theta = widen(r * q.conv) / hash::EARTH_RADIUS_M;
                let cap = theta.sin() / lat1r.cos();
                let dlon = if theta < std::f64::consts::FRAC_PI_2 && cap < 0.5 {
                    widen_angle(cap.asin())
                } else {
                    inf
                };
                (theta, dlon)
            }
            Shape::Box { width, height } => {
                // Redis tests the latitude gap itself; the longitude bound needs the
                // smallest cosine of a latitude that passes it.
                let half_h = widen(height * q.conv / 2.0) / hash::EARTH_RADIUS_M;
                let far = lat1r.abs() + half_h;
                let half_w = widen(width * q.conv / 2.0) / hash::EARTH_RADIUS_M;
                let dlon = if far < 1.5 && half_w < 1.0 {
                    let s = (half_w / 2.0).sin() / far.cos();
                    if s < 0.5 {
                        widen_angle(2.0 * s.asin())
                    } else {
                        inf
                    }
                } else {
                    inf
                };
                (inf, dlon)
            }
        };
        Tester {
            q,
            lon1r: hash::deg_rad(q.lon),
            lat1r,
            cos_lat1: lat1r.cos(),
            max_dlat,
            max_dlon,
        }
    }

    /// `(lon, lat, distance in metres)` of a score if its point is inside the shape.
    #[inline]
    pub fn test(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (lon, lat) = hash::decode_score(score);
        let lon2r = hash::deg_rad(lon);
        let lat2r = hash::deg_rad(lat);
        if (lat2r - self.lat1r).abs() > self.max_dlat {
            return None;
        }
        let mut dlon = (lon2r - self.lon1r).abs();
        if dlon > std::f64::consts::PI {
            dlon = 2.0 * std::f64::consts::PI - dlon;
        }
        if dlon > self.max_dlon {
            return None;
        }
        match self.q.shape {
            Shape::Radius(r) => {
                let d = self.distance_to(lon2r, lat, lat2r, None);
                if d > r * self.q.conv {
                    return None;
                }
                Some((lon, lat, d))
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.q.conv, height * self.q.conv);
                if hash::lat_distance(lat, self.q.lat) > h / 2.0 {
                    return None;
                }
                // The gap along the point's parallel: Redis's distance() from the point to
                // the centre's longitude at the point's latitude (its `u` is sin(0) = 0).
                let v = ((self.lon1r - lon2r) / 2.0).sin();
                let cos_lat2 = if v == 0.0 {
                    None
                } else {
                    let c = lat2r.cos();
                    let a = 0.0 + c * c * v * v;
                    if 2.0 * hash::EARTH_RADIUS_M * a.sqrt().asin() > w / 2.0 {
                        return None;
                    }
                    Some(c)
                };
                Some((lon, lat, self.distance_to(lon2r, lat, lat2r, cos_lat2)))
            }
        }
    }

    /// `hash::distance(centre, point)`, with the centre's terms prepared (and the point's
    /// cosine when already known: the same value).
    #[inline]
    fn distance_to(&self, lon2r: f64, lat2: f64, lat2r: f64, cos_lat2: Option<f64>) -> f64 {
        let v = ((lon2r - self.lon1r) / 2.0).sin();
        if v == 0.0 {
            return hash::lat_distance(self.q.lat, lat2);
        }
        let u = ((lat2r - self.lat1r) / 2.0).sin();
        let c2 = cos_lat2.unwrap_or_else(|| lat2r.cos());
        let a = u * u + self.cos_lat1 * c2 * v * v;
        2.0 * hash::EARTH_RADIUS_M * a.sqrt().asin()
    }
}

/// A length in metres, enlarged well past any rounding of the exact test.
fn widen(m: f64) -> f64 {
    m * (1.0 + 1e-6) + 10.0
}

/// An angle in radians, enlarged likewise.
fn widen_angle(a: f64) -> f64 {
    a * (1.0 + 1e-6) + 1e-6
}

/// Drop the neighbours on a side where the centre cell already reaches past the box.
fn drop_beyond(cells: &mut [Option<Cell>; 9], area: &Area, b: [f64; 4]) {
    // Indexes: 1 N, 2 S, 3 E, 4 W, 5 NE, 6 NW, 7 SE, 8 SW.
    let [min_lon, min_lat, max_lon, max_lat] = b;
    let mut clear = |idx: [usize; 3]| {
        for i in idx {
            cells[i] = None;
        }
    };
    if area.lat.min < min_lat {
        clear([2, 8, 7]);
    }
    if area.lat.max > max_lat {
        clear([1, 5, 6]);
    }
    if area.lon.min < min_lon {
        clear([4, 8, 6]);
    }
    if area.lon.max > max_lon {
        clear([3, 7, 5]);
    }
}

//! Tests of the geo family: the geohash arithmetic against values Redis 7.0 computed
//! (scores, coordinates, distances and GEOHASH strings read off a real redis-server), the
//! replies byte for byte in RESP2 and RESP3, the error words, and properties of the
//! encoding and of the partial sort. crates/rcache/tests/geo.rs compares whole sessions
//! with a live Redis.

use super::area::{Query, Shape};
use super::hash::{self, Cell};
use super::sort;
use crate::config::Settings;
use crate::testing::TestCtx;
use proptest::prelude::*;
use std::sync::atomic::Ordering::Relaxed;

const PALERMO: (f64, f64) = (13.361389, 38.115556);
const CATANIA: (f64, f64) = (15.087269, 37.502669);
const SYNTAX: &str = "-ERR syntax error\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const BAD_UNIT: &str = "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n";
const NO_MEMBER: &str = "-ERR could not decode requested zset member\r\n";

fn human(x: f64) -> String {
    let mut b = [0u8; 400];
    String::from_utf8(hash::fmt_human(x, &mut b).to_vec()).unwrap()
}

fn dist(d: f64) -> String {
    let mut b = [0u8; 48];
    String::from_utf8(hash::fmt_distance(d, &mut b).to_vec()).unwrap()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

fn sicily() -> TestCtx {
    let t = TestCtx::new();
    let r = t.run(&[
        "GEOADD",
        "Sicily",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    assert_eq!(r, ":2\r\n");
    t
}

/// Both encodings of the sorted set: the compact one and (threshold 0) the skip list.
fn both() -> [TestCtx; 2] {
    let s = Settings::default();
    s.zset_max_listpack_entries.store(0, Relaxed);
    [TestCtx::new(), TestCtx::with_settings(s)]
}

#[test]
fn scores_match_redis() {
    // WITHHASH values Redis 7.0 answered for the documentation's two cities.
    assert_eq!(hash::score_of(PALERMO.0, PALERMO.1), 3479099956230698);
    assert_eq!(hash::score_of(CATANIA.0, CATANIA.1), 3479447370796909);
    assert_eq!(hash::score_of(0.0, 0.0), 3 << 50);
}

#[test]
fn positions_match_redis() {
    let (lon, lat) = hash::decode_score(3479099956230698.0);
    assert_eq!(human(lon), "13.36138933897018433");
    assert_eq!(human(lat), "38.11555639549629859");
    let (lon, lat) = hash::decode_score(3479447370796909.0);
    assert_eq!(human(lon), "15.08726745843887329");
    assert_eq!(human(lat), "37.50266842333162032");
    let (lon, lat) = hash::decode_score(hash::score_of(0.0, 0.0) as f64);
    assert_eq!(
        (human(lon).as_str(), human(lat).as_str()),
        ("0.00000268220901489", "0.00000126736058093")
    );
}

#[test]
fn distances_match_redis() {
    let (a, b) = (
        hash::decode_score(hash::score_of(PALERMO.0, PALERMO.1) as f64),
        hash::decode_score(hash::score_of(CATANIA.0, CATANIA.1) as f64),
    );
    let d = hash::distance(a.0, a.1, b.0, b.1);
    assert_eq!(dist(d), "166274.1516");
    assert_eq!(dist(d / 1000.0), "166.2742");
    assert_eq!(dist(d / 1609.34), "103.3182");
    assert_eq!(dist(d / 0.3048), "545518.8700");
    // Same longitude: the meridian shortcut.
    assert_eq!(
        hash::distance(10.0, 10.0, 10.0, 11.0),
        hash::lat_distance(10.0, 11.0)
    );
    assert_eq!(hash::distance(1.0, 2.0, 1.0, 2.0), 0.0);
}

#[test]
fn geohash_strings_match_redis() {
    let s = |lon: f64, lat: f64| {
        String::from_utf8(hash::geohash_string(hash::score_of(lon, lat) as f64).to_vec()).unwrap()
    };
    assert_eq!(s(PALERMO.0, PALERMO.1), "sqc8b49rny0");
    assert_eq!(s(CATANIA.0, CATANIA.1), "sqdtr74hyu0");
    assert_eq!(s(0.0, 0.0), "s0000000000");
    assert_eq!(s(180.0, hash::LAT_MAX), "bp05b5048p0");
    assert_eq!(s(-180.0, hash::LAT_MIN), "00bh0hbj200");
}

#[test]
fn edge_coordinates() {
    // The upper limits encode one bit past 52, as in Redis, and decode clamped.
    let top = hash::score_of(180.0, hash::LAT_MAX);
    assert!(top >= 1 << 52);
    let (lon, lat) = hash::decode_score(top as f64);
    assert_eq!(
        (human(lon).as_str(), human(lat).as_str()),
        ("180", "85.0511287799999991")
    );
    let (lon, lat) = hash::decode_score(hash::score_of(-180.0, hash::LAT_MIN) as f64);
    assert_eq!(human(lon), "-179.99999731779098511");
    assert_eq!(human(lat), "-85.05112751263942528");
    // Out of the limits: no cell.
    assert!(hash::encode(180.000001, 0.0, 26).is_none());
    assert!(hash::encode(0.0, 85.06, 26).is_none());
    assert!(hash::encode(0.0, 0.0, 0).is_none());
}

#[test]
fn scores_that_are_not_geohashes_decode_as_in_redis() {
    // C's (uint64_t) cast on x86-64, as GEOPOS showed for ZADD-made scores.
    assert_eq!(hash::c_u64_of(-1.0), u64::MAX);
    assert_eq!(hash::c_u64_of(-0.5), 0);
    assert_eq!(hash::c_u64_of(1.5), 1);
    assert_eq!(hash::c_u64_of(f64::INFINITY), 0);
    assert_eq!(hash::c_u64_of(f64::NEG_INFINITY), 1 << 63);
    assert_eq!(hash::c_u64_of(9223372036854775808.0), 1 << 63);
    assert_eq!(hash::c_u64_of(1e30), 0);
    assert_eq!(hash::c_u64_of(-1e19), 1 << 63);
    let t = TestCtx::new();
    t.run(&[
        "ZADD", "w", "-1", "neg", "inf", "pinf", "-inf", "ninf", "1.5", "half",
    ]);
    assert_eq!(
        t.run(&["GEOPOS", "w", "neg", "pinf", "ninf", "half"]),
        "*4\r\n\
         *2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n\
         *2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n\
         *2\r\n$3\r\n180\r\n$21\r\n-85.05112751263942528\r\n\
         *2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112497791824921\r\n"
    );
    assert_eq!(
        t.run(&["GEOHASH", "w", "neg", "pinf", "half"]),
        format!(
            "*3\r\n{}{}{}",
            bulk("bp05b5048p0"),
            bulk("00bh0hbj200"),
            bulk("00bh0hbj210")
        )
    );
}

#[test]
fn number_formats() {
    assert_eq!(dist(0.0), "0.0000");
    assert_eq!(dist(-0.0), "0.0000");
    assert_eq!(dist(0.00004), "0.0000");
    assert_eq!(dist(1.23456), "1.2346");
    assert_eq!(dist(12.0), "12.0000");
    // llrint rounds half to even (1/32 and 3/32 are exact: 312.5 and 937.5 ten-thousandths).
    assert_eq!(dist(0.03125), "0.0312");
    assert_eq!(dist(0.09375), "0.0938");
    assert_eq!(human(180.0), "180");
    assert_eq!(human(-0.0), "0");
    assert_eq!(human(0.5), "0.5");
    assert_eq!(human(hash::LAT_MAX), "85.0511287799999991");
}

#[test]
fn neighbours_wrap_and_step_estimates() {
    let c = Cell { bits: 0, step: 1 };
    let n = hash::neighbours(c);
    // At step 1 east and west are the same cell, as are the four diagonals.
    assert_eq!(n[2], n[3]);
    assert_eq!(n[4], n[7]);
    assert_ne!(n[0], c);
    assert_eq!(hash::estimate_step(0.0, 0.0), 26);
    assert_eq!(hash::estimate_step(100_000.0, 0.0), 7);
    assert_eq!(hash::estimate_step(100_000.0, 70.0), 6);
    assert_eq!(hash::estimate_step(100_000.0, -81.0), 5);
    assert_eq!(hash::estimate_step(1e9, 0.0), 1);
    assert_eq!(hash::estimate_step(0.001, 0.0), 26);
    // A search's cells: the centre always, and no duplicates among the scanned ones.
    let q = Query {
        lon: 15.0,
        lat: 37.0,
        shape: Shape::Radius(200.0),
        conv: 1000.0,
    };
    let cells = q.cells();
    assert_eq!(cells[0], hash::encode(15.0, 37.0, cells[0].unwrap().step));
}

#[test]
fn geoadd_options_and_replies() {
    for t in both() {
        assert_eq!(
            t.run(&["GEOADD", "h", "0", "0", "zero", "1", "1", "one"]),
            ":2\r\n"
        );
        assert_eq!(t.run(&["TYPE", "h"]), "+zset\r\n");
        assert_eq!(t.run(&["ZSCORE", "h", "zero"]), bulk("3377699720527872"));
        assert_eq!(
            t.run(&["GEOADD", "h", "CH", "1", "1", "zero", "0", "0", "new"]),
            ":2\r\n"
        );
        assert_eq!(
            t.run(&["GEOADD", "h", "ch", "nx", "2", "2", "zero", "0", "0", "new2"]),
            ":1\r\n"
        );
        assert_eq!(
            t.run(&["GEOADD", "h", "xx", "ch", "3", "3", "zero", "0", "0", "new3"]),
            ":1\r\n"
        );
        assert_eq!(t.run(&["ZSCORE", "h", "new3"]), "$-1\r\n");
        assert_eq!(
            t.run(&["GEOADD", "h", "4", "4", "dup", "5", "5", "dup"]),
            ":1\r\n"
        );
        assert_eq!(
            t.run(&["GEOADD", "h", "ch", "6", "6", "dup", "7", "7", "dup"]),
            ":2\r\n"
        );
        assert_eq!(
            t.run(&["GEOADD", "h", "ch", "7", "7", "dup", "7", "7", "dup"]),
            ":0\r\n"
        );
        assert_eq!(t.run(&["GEOADD", "nokey", "xx", "1", "1", "a"]), ":0\r\n");
        assert_eq!(t.run(&["EXISTS", "nokey"]), ":0\r\n");
    }
}

#[test]
fn geoadd_errors() {
    let t = TestCtx::new();
    assert_eq!(
        t.run(&["GEOADD", "g", "200", "100", "a"]),
        "-ERR invalid longitude,latitude pair 200.000000,100.000000\r\n"
    );
    assert_eq!(
        t.run(&["GEOADD", "g", "inf", "10", "a"]),
        "-ERR invalid longitude,latitude pair inf,10.000000\r\n"
    );
    assert_eq!(
        t.run(&["GEOADD", "g", "0", "85.06", "a"]),
        "-ERR invalid longitude,latitude pair 0.000000,85.060000\r\n"
    );
    for bad in ["abc", "1e400", "1e-400", "nan", " 1", ""] {
        assert_eq!(
            t.run(&["GEOADD", "g", bad, "10", "a"]),
            NOT_FLOAT,
            "{bad:?}"
        );
    }
    assert_eq!(t.run(&["GEOADD", "g", "0e-400", "10", "a"]), ":1\r\n");
    assert_eq!(t.run(&["GEOADD", "g", "nx", "xx", "1", "1", "x"]), SYNTAX);
    assert_eq!(t.run(&["GEOADD", "g", "1", "1", "x", "2"]), SYNTAX);
    assert_eq!(t.run(&["GEOADD", "g", "gt", "1", "1", "x"]), SYNTAX);
    assert_eq!(t.run(&["GEOADD", "g", "ch", "ch", "ch"]), SYNTAX);
    assert_eq!(
        t.run(&["GEOADD", "g", "1", "1"]),
        "-ERR wrong number of arguments for 'geoadd' command\r\n"
    );
    t.run(&["SET", "s", "v"]);
    assert_eq!(t.run(&["GEOADD", "s", "1", "1", "x"]), WRONGTYPE);
    // Coordinates are checked before the key's type.
    assert_eq!(
        t.run(&["GEOADD", "s", "1000", "1", "x"]),
        "-ERR invalid longitude,latitude pair 1000.000000,1.000000\r\n"
    );
    // Nothing is written when a later member is invalid.
    assert!(t
        .run(&["GEOADD", "n", "1", "1", "a", "1000", "1", "b"])
        .starts_with("-ERR"));
    assert_eq!(t.run(&["EXISTS", "n"]), ":0\r\n");
}

#[test]
fn geodist_geopos_geohash() {
    let t = sicily();
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania"]),
        bulk("166274.1516")
    );
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania", "KM"]),
        bulk("166.2742")
    );
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania", "mi"]),
        bulk("103.3182")
    );
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania", "ft"]),
        bulk("545518.8700")
    );
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania", "yd"]),
        BAD_UNIT
    );
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania", "m", "x"]),
        SYNTAX
    );
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "nosuch"]),
        "$-1\r\n"
    );
    assert_eq!(t.run(&["GEODIST", "nokey", "a", "b"]), "$-1\r\n");
    assert_eq!(
        t.run(&["GEOPOS", "Sicily", "Palermo", "nosuch"]),
        "*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"
    );
    assert_eq!(t.run(&["GEOPOS", "nokey", "a"]), "*1\r\n*-1\r\n");
    assert_eq!(t.run(&["GEOPOS", "Sicily"]), "*0\r\n");
    assert_eq!(
        t.run(&["GEOHASH", "Sicily", "Palermo", "Catania", "nosuch"]),
        format!(
            "*3\r\n{}{}$-1\r\n",
            bulk("sqc8b49rny0"),
            bulk("sqdtr74hyu0")
        )
    );
    assert_eq!(
        t.run(&["GEOHASH", "nokey", "a", "b"]),
        "*2\r\n$-1\r\n$-1\r\n"
    );
    t.run(&["SET", "s", "v"]);
    for c in [
        &["GEOPOS", "s", "a"][..],
        &["GEOHASH", "s", "a"],
        &["GEODIST", "s", "a", "b"],
    ] {
        assert_eq!(t.run(c), WRONGTYPE);
    }
    // RESP3: nulls and double coordinates; distances stay bulk strings.
    t.run(&["HELLO", "3"]);
    assert_eq!(t.run(&["GEODIST", "Sicily", "Palermo", "nosuch"]), "_\r\n");
    assert_eq!(
        t.run(&["GEODIST", "Sicily", "Palermo", "Catania"]),
        bulk("166274.1516")
    );
    assert_eq!(
        t.run(&["GEOPOS", "Sicily", "Palermo", "nosuch"]),
        "*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
    );
    assert_eq!(t.run(&["GEOHASH", "nokey", "a"]), "*1\r\n_\r\n");
}

#[test]
fn searches_reply_as_redis() {
    for t in both() {
        t.run(&[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ]);
        let full = "*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n\
                    *2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n\
                    *4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n\
                    *2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n";
        assert_eq!(
            t.run(&[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "WITHDIST",
                "WITHCOORD",
                "WITHHASH",
                "ASC"
            ]),
            full
        );
        assert_eq!(
            t.run(&[
                "GEORADIUS",
                "Sicily",
                "15",
                "37",
                "200",
                "km",
                "WITHDIST",
                "COUNT",
                "1"
            ]),
            "*1\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n"
        );
        assert_eq!(
            t.run(&["GEORADIUS", "Sicily", "15", "37", "200", "km"]),
            "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n"
        );
        assert_eq!(
            t.run(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC"]),
            "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n"
        );
        assert_eq!(
            t.run(&["GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "ASC"]),
            "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n"
        );
        assert_eq!(
            t.run(&["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "ASC", "WITHDIST"]),
            "*2\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nCatania\r\n$8\r\n166.2742\r\n"
        );
        assert_eq!(
            t.run(&[
                "GEOSEARCH",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km"
            ]),
            "*0\r\n"
        );
        assert_eq!(
            t.run(&[
                "GEOSEARCH",
                "nokey",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km"
            ]),
            "*0\r\n"
        );
        // STORE forms: scores, or distances in the unit.
        assert_eq!(
            t.run(&[
                "GEOSEARCHSTORE",
                "d",
                "Sicily",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "STOREDIST"
            ]),
            ":2\r\n"
        );
        // The distances in km, the doubles Redis stored (it prints them with %.17g).
        assert_eq!(
            t.run(&["ZRANGE", "d", "0", "-1"]),
            format!("*2\r\n{}{}", bulk("Catania"), bulk("Palermo"))
        );
        let score = |m: &str| -> f64 {
            let r = t.run(&["ZSCORE", "d", m]);
            r.split("\r\n").nth(1).unwrap().parse().unwrap()
        };
        assert_eq!(
            score("Catania"),
            "56.441257870158204".parse::<f64>().unwrap()
        );
        assert_eq!(
            score("Palermo"),
            "190.44242984775784".parse::<f64>().unwrap()
        );
        assert_eq!(
            t.run(&[
                "GEORADIUS",
                "Sicily",
                "15",
                "37",
                "200",
                "km",
                "STORE",
                "d2"
            ]),
            ":2\r\n"
        );
        assert_eq!(
            t.run(&["ZRANGE", "d2", "0", "-1", "WITHSCORES"]),
            format!(
                "*4\r\n{}{}{}{}",
                bulk("Palermo"),
                bulk("3479099956230698"),
                bulk("Catania"),
                bulk("3479447370796909")
            )
        );
        // An empty result deletes the destination.
        assert_eq!(
            t.run(&["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "d2"]),
            ":0\r\n"
        );
        assert_eq!(t.run(&["EXISTS", "d2"]), ":0\r\n");
        t.run(&["SET", "d3", "x"]);
        assert_eq!(
            t.run(&["GEORADIUSBYMEMBER", "nokey", "m", "x", "km", "STORE", "d3"]),
            ":0\r\n"
        );
        assert_eq!(t.run(&["EXISTS", "d3"]), ":0\r\n");
        // Source and destination may be the same key.
        assert_eq!(
            t.run(&[
                "GEOSEARCHSTORE",
                "Sicily",
                "Sicily",
                "FROMMEMBER",
                "Palermo",
                "BYRADIUS",
                "1",
                "km"
            ]),
            ":1\r\n"
        );
        assert_eq!(
            t.run(&["ZRANGE", "Sicily", "0", "-1"]),
            format!("*1\r\n{}", bulk("Palermo"))
        );
    }
}

#[test]
fn search_errors() {
    let t = sicily();
    let cases: &[(&[&str], &str)] = &[
        (&["GEOSEARCH", "Sicily", "FROMMEMBER", "nosuch", "BYRADIUS", "1", "km"], NO_MEMBER),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"], SYNTAX),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"], "-ERR the ANY argument requires COUNT argument\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "0"], "-ERR COUNT must be > 0\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "x"], "-ERR value is not an integer or out of range\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "-1", "km"], "-ERR radius cannot be negative\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "x", "km"], "-ERR need numeric radius\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"], "-ERR need numeric width\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "x", "km"], "-ERR need numeric height\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"], "-ERR height or width cannot be negative\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "yd"], BAD_UNIT),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "x"], SYNTAX),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "1000", "1", "BYRADIUS", "1", "km"], "-ERR invalid longitude,latitude pair 1000.000000,1.000000\r\n"),
        (&["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"], SYNTAX),
        (&["geosearch", "Sicily", "BYRADIUS", "1", "km", "ASC", "ASC"], "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch\r\n"),
        (&["GeoSearch", "Sicily", "FROMLONLAT", "1", "1", "ASC", "ASC"], "-ERR exactly one of BYRADIUS and BYBOX can be specified for GeoSearch\r\n"),
        (&["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "WITHDIST"], "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "WITHDIST"], "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        (&["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"], SYNTAX),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT"], SYNTAX),
        (&["GEORADIUS", "Sicily", "15", "37", "200", "km", "FROMMEMBER", "x"], SYNTAX),
        (&["GEORADIUSBYMEMBER", "Sicily", "nosuch", "200", "km"], NO_MEMBER),
        (&["GEORADIUSBYMEMBER", "nokey", "nosuch", "x", "km"], "*0\r\n"),
        (&["GEORADIUS", "nokey", "1", "1", "x", "km"], "-ERR need numeric radius\r\n"),
        (&["GEOSEARCH", "nokey", "FROMMEMBER", "nosuch", "BYRADIUS", "1", "km"], "*0\r\n"),
    ];
    for (args, want) in cases {
        assert_eq!(t.run(args), *want, "{args:?}");
    }
    t.run(&["SET", "s", "v"]);
    // The type is checked before anything else.
    assert_eq!(
        t.run(&["GEORADIUS", "s", "1000", "1", "x", "km"]),
        WRONGTYPE
    );
    assert_eq!(
        t.run(&["GEOSEARCH", "s", "FROMLONLAT", "1", "1", "ASC", "ASC"]),
        WRONGTYPE
    );
}

#[test]
fn ties_order_as_redis() {
    // Members at the same position are at the same distance; a full sort keeps them in
    // set order (by member), COUNT's partial sort picks as Redis's pqsort does.
    let t = TestCtx::new();
    let mut args: Vec<String> = vec!["GEOADD".into(), "g".into()];
    for i in 0..50 {
        args.extend(["10".into(), "10".into(), format!("m{i:02}")]);
    }
    for i in 0..50 {
        args.extend(["10.001".into(), "10".into(), format!("n{i:02}")]);
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(t.run(&a), ":100\r\n");
    let all = t.run(&[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "10",
        "10",
        "BYRADIUS",
        "1",
        "km",
        "ASC",
    ]);
    let mut want = String::from("*100\r\n");
    for p in ["m", "n"] {
        for i in 0..50 {
            want.push_str(&bulk(&format!("{p}{i:02}")));
        }
    }
    assert_eq!(all, want);
}

#[test]
fn partial_sort_matches_a_full_sort_on_distinct_keys() {
    let mut v: Vec<u32> = (0..500).map(|i| (i * 7919) % 1000).collect();
    let mut s = v.clone();
    s.sort();
    sort::partial(&mut v, 10, |a, b| a.cmp(b));
    assert_eq!(&v[..10], &s[..10]);
}

proptest! {
    #[test]
    fn decode_encode_within_a_cell(lon in -180.0f64..=180.0, lat in hash::LAT_MIN..=hash::LAT_MAX) {
        let (x, y) = hash::decode_score(hash::score_of(lon, lat) as f64);
        // Half a cell at step 26, Redis's precision (≈ 0.6 m).
        let half_lon = 360.0 / (1u64 << 27) as f64;
        let half_lat = (hash::LAT_MAX - hash::LAT_MIN) / (1u64 << 27) as f64;
        prop_assert!((x - lon).abs() <= half_lon + 1e-9, "{lon} -> {x}");
        prop_assert!((y - lat).abs() <= half_lat + 1e-9, "{lat} -> {y}");
        prop_assert!(hash::distance(lon, lat, x, y) < 1.0);
        // Re-encoding the decoded position gives the same score.
        if lon < 180.0 && lat < hash::LAT_MAX {
            prop_assert_eq!(hash::score_of(x, y), hash::score_of(lon, lat));
        }
    }

    #[test]
    fn interleave_round_trips(a in any::<u32>(), b in any::<u32>()) {
        prop_assert_eq!(hash::deinterleave(hash::interleave(a, b)), (a, b));
    }

    #[test]
    fn partial_sort_puts_the_k_smallest_first(mut v in proptest::collection::vec(0u8..20, 0..200), k in 1usize..50) {
        let mut s = v.clone();
        s.sort();
        let k = k.min(v.len());
        sort::partial(&mut v, k, |a, b| a.cmp(b));
        prop_assert_eq!(&v[..k], &s[..k]);
    }

    #[test]
    fn search_results_are_exactly_the_points_in_range(
        pts in proptest::collection::vec((-20.0f64..20.0, -20.0f64..20.0), 1..80),
        clon in -20.0f64..20.0, clat in -20.0f64..20.0, r in 1.0f64..3000.0,
    ) {
        let t = TestCtx::new();
        let mut args: Vec<String> = vec!["GEOADD".into(), "g".into()];
        for (i, (x, y)) in pts.iter().enumerate() {
            args.extend([x.to_string(), y.to_string(), format!("p{i}")]);
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        t.run(&a);
        let got = t.run(&["GEOSEARCH", "g", "FROMLONLAT", &clon.to_string(), &clat.to_string(), "BYRADIUS", &r.to_string(), "km", "COUNT", "1000"]);
        let n: usize = got[1..got.find('\r').unwrap()].parse().unwrap();
        let inside = pts.iter().filter(|(x, y)| {
            let (dx, dy) = hash::decode_score(hash::score_of(*x, *y) as f64);
            hash::distance(clon, clat, dx, dy) <= r * 1000.0
        }).count();
        prop_assert_eq!(n, inside);
    }
}

/// Redis's `geoWithinShape`, written straight from its definition: what `Tester` must
/// answer for every point, bounds or not.
fn redis_within(q: &Query, score: f64) -> Option<(f64, f64, f64)> {
    let (lon, lat) = hash::decode_score(score);
    match q.shape {
        Shape::Radius(r) => {
            let d = hash::distance(q.lon, q.lat, lon, lat);
            (d <= r * q.conv).then_some((lon, lat, d))
        }
        Shape::Box { width, height } => {
            let (w, h) = (width * q.conv, height * q.conv);
            if hash::lat_distance(lat, q.lat) > h / 2.0 {
                return None;
            }
            if hash::distance(lon, lat, q.lon, lat) > w / 2.0 {
                return None;
            }
            Some((lon, lat, hash::distance(q.lon, q.lat, lon, lat)))
        }
    }
}

/// The point at `d` metres from `(lon, lat)` along `bearing` (radians), on the sphere.
fn destination(lon: f64, lat: f64, d: f64, bearing: f64) -> (f64, f64) {
    let (p1, l1) = (lat.to_radians(), lon.to_radians());
    let t = d / hash::EARTH_RADIUS_M;
    let p2 = (p1.sin() * t.cos() + p1.cos() * t.sin() * bearing.cos()).asin();
    let l2 = l1 + (bearing.sin() * t.sin() * p1.cos()).atan2(t.cos() - p1.sin() * p2.sin());
    let mut lon2 = l2.to_degrees();
    while lon2 > 180.0 {
        lon2 -= 360.0;
    }
    while lon2 < -180.0 {
        lon2 += 360.0;
    }
    (lon2, p2.to_degrees().clamp(hash::LAT_MIN, hash::LAT_MAX))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The cheap bounds never change an answer: points on and around the edge of circles
    /// and boxes of every size, anywhere (poles and antimeridian included).
    #[test]
    fn tester_agrees_with_redis_test(
        clon in -180.0f64..=180.0, clat in -85.0f64..=85.0,
        size in prop_oneof![0.0f64..100.0, 100.0f64..100_000.0, 100_000.0f64..25_000_000.0],
        aspect in 0.05f64..20.0, boxed in any::<bool>(),
        bearings in proptest::collection::vec(0.0f64..std::f64::consts::TAU, 16),
        jitter in proptest::collection::vec(-1e-6f64..1e-6, 16),
    ) {
        let shape = if boxed {
            Shape::Box { width: size, height: size * aspect }
        } else {
            Shape::Radius(size)
        };
        let q = Query { lon: clon, lat: clat, shape, conv: 1.0 };
        let t = q.tester();
        for (b, j) in bearings.iter().zip(&jitter) {
            // On the circle, or on the box's edges and corners, give or take a little.
            let d = match shape {
                Shape::Radius(r) => r * (1.0 + j),
                Shape::Box { width, height } => {
                    let (hw, hh) = (width / 2.0, height / 2.0);
                    (hw * b.sin()).hypot(hh * b.cos()) * (1.0 + j)
                }
            };
            let (x, y) = destination(clon, clat, d, *b);
            let s = hash::score_of(x, y) as f64;
            let (got, want) = (t.test(s), redis_within(&q, s));
            prop_assert_eq!(
                got.map(|(a, b, c)| (a.to_bits(), b.to_bits(), c.to_bits())),
                want.map(|(a, b, c)| (a.to_bits(), b.to_bits(), c.to_bits())),
                "{:?} at {},{}", q, x, y
            );
        }
    }
}

"""Geo commands through redis-py: GEOADD (NX/XX/CH), GEODIST in each unit, GEOHASH,
GEOPOS, GEOSEARCH / GEOSEARCHSTORE by radius and box, GEORADIUS / GEORADIUSBYMEMBER with
STORE and STOREDIST, that a geo set is a sorted set, and the error words, over RESP2 and
RESP3. Every assertion was checked against Redis 7.0."""

import pytest
import redis

PALERMO = (13.361389, 38.115556, "Palermo")
CATANIA = (15.087269, 37.502669, "Catania")


def zpairs(r, key):
    """ZRANGE … WITHSCORES as (member, score) tuples (redis-py gives lists in RESP3)."""
    return [tuple(p) for p in r.zrange(key, 0, -1, withscores=True)]


@pytest.fixture
def sicily(r):
    assert r.geoadd("Sicily", PALERMO + CATANIA) == 2
    return r


def test_geoadd_options(r):
    assert r.geoadd("g", (1, 1, "a", 2, 2, "b")) == 2
    assert r.geoadd("g", (1, 1, "a")) == 0
    assert r.geoadd("g", (3, 3, "a", 4, 4, "c"), ch=True) == 2
    assert r.geoadd("g", (5, 5, "a", 6, 6, "d"), nx=True) == 1
    assert r.geoadd("g", (7, 7, "a", 8, 8, "e"), xx=True, ch=True) == 1
    assert r.zscore("g", "e") is None
    assert r.geoadd("nokey", (1, 1, "a"), xx=True) == 0
    assert r.exists("nokey") == 0


def test_geo_set_is_a_sorted_set(sicily):
    r = sicily
    assert r.type("Sicily") == "zset"
    assert zpairs(r, "Sicily") == [
        ("Palermo", 3479099956230698.0),
        ("Catania", 3479447370796909.0),
    ]
    # The same scores through ZADD make the same geo set.
    r.zadd("copy", {"Palermo": 3479099956230698, "Catania": 3479447370796909})
    assert r.geodist("copy", "Palermo", "Catania") == 166274.1516
    r.zrem("Sicily", "Catania")
    assert r.geopos("Sicily", "Catania") == [None]


def test_geodist_units(sicily):
    r = sicily
    assert r.geodist("Sicily", "Palermo", "Catania") == 166274.1516
    assert r.geodist("Sicily", "Palermo", "Catania", "km") == 166.2742
    assert r.geodist("Sicily", "Palermo", "Catania", "mi") == 103.3182
    assert r.geodist("Sicily", "Palermo", "Catania", "ft") == 545518.87
    assert r.geodist("Sicily", "Palermo", "nosuch") is None
    assert r.geodist("nokey", "a", "b") is None
    # The raw reply is a bulk string with four decimals, in RESP3 too.
    assert r.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "KM") in ("166.2742", 166.2742)


def test_geohash_and_geopos(sicily):
    r = sicily
    assert r.geohash("Sicily", "Palermo", "Catania", "nosuch") == ["sqc8b49rny0", "sqdtr74hyu0", None]
    assert r.geohash("nokey", "a") == [None]
    pos = r.geopos("Sicily", "Palermo", "nosuch")
    assert pos[0] == pytest.approx((13.36138933897018433, 38.11555639549629859), abs=1e-12)
    assert pos[1] is None
    assert r.geopos("nokey", "a") == [None]


def test_geosearch_by_radius_and_box(sicily):
    r = sicily
    assert r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km", sort="ASC") == [
        "Catania",
        "Palermo",
    ]
    res = r.geosearch(
        "Sicily", longitude=15, latitude=37, radius=200, unit="km", sort="ASC",
        withdist=True, withcoord=True, withhash=True,
    )
    assert [m[0] for m in res] == ["Catania", "Palermo"]
    assert [m[1] for m in res] == [56.4413, 190.4424]
    assert [m[2] for m in res] == [3479447370796909, 3479099956230698]
    assert res[0][3] == pytest.approx((15.08726745843887329, 37.50266842333162032), abs=1e-12)
    assert r.geosearch("Sicily", member="Palermo", width=400, height=400, unit="km", sort="DESC") == [
        "Catania",
        "Palermo",
    ]
    assert r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km", count=1) == ["Catania"]
    one = r.geosearch("Sicily", longitude=15, latitude=37, radius=200, unit="km", count=1, any=True)
    assert len(one) == 1 and one[0] in ("Palermo", "Catania")
    assert r.geosearch("Sicily", longitude=15, latitude=37, radius=1, unit="km") == []
    assert r.geosearch("nokey", longitude=15, latitude=37, radius=1, unit="km") == []


def test_georadius_forms(sicily):
    r = sicily
    assert r.georadius("Sicily", 15, 37, 200, unit="km") == ["Palermo", "Catania"]
    assert r.georadius("Sicily", 15, 37, 200, unit="km", withdist=True, sort="ASC") == [
        ["Catania", 56.4413],
        ["Palermo", 190.4424],
    ]
    assert r.georadiusbymember("Sicily", "Palermo", 200, unit="km", sort="ASC") == ["Palermo", "Catania"]
    assert r.execute_command("GEORADIUS_RO", "Sicily", 15, 37, 100, "km") == ["Catania"]
    assert r.execute_command("GEORADIUSBYMEMBER_RO", "Sicily", "Catania", 100, "km") == ["Catania"]


def test_store_forms(sicily):
    r = sicily
    assert r.geosearchstore("d", "Sicily", longitude=15, latitude=37, radius=200, unit="km") == 2
    assert zpairs(r, "d") == [
        ("Palermo", 3479099956230698.0),
        ("Catania", 3479447370796909.0),
    ]
    assert r.geosearchstore("d", "Sicily", longitude=15, latitude=37, radius=200, unit="km", storedist=True) == 2
    assert zpairs(r, "d") == [
        ("Catania", 56.441257870158204),
        ("Palermo", 190.44242984775784),
    ]
    assert r.georadius("Sicily", 15, 37, 200, unit="km", store="d2") == 2
    assert r.zcard("d2") == 2
    assert r.georadiusbymember("Sicily", "Palermo", 100, unit="km", store_dist="d3") == 1
    assert zpairs(r, "d3") == [("Palermo", 0.0)]
    # Nothing found: the destination is deleted.
    assert r.georadius("Sicily", 15, 37, 1, unit="km", store="d2") == 0
    assert r.exists("d2") == 0


def test_errors(sicily):
    r = sicily
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match=r"^invalid longitude,latitude pair 200\.000000,100\.000000$"):
        r.geoadd("g", (200, 100, "x"))
    with pytest.raises(redis.ResponseError, match="wrong kind of value"):
        r.geoadd("s", (1, 1, "x"))
    with pytest.raises(redis.ResponseError, match="wrong kind of value"):
        r.geopos("s", "x")
    with pytest.raises(redis.ResponseError, match="unsupported unit provided. please use M, KM, FT, MI"):
        r.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "yd")
    with pytest.raises(redis.ResponseError, match="could not decode requested zset member"):
        r.geosearch("Sicily", member="nosuch", radius=1, unit="km")
    with pytest.raises(redis.ResponseError, match="could not decode requested zset member"):
        r.georadiusbymember("Sicily", "nosuch", 1, unit="km")
    with pytest.raises(redis.ResponseError, match="radius cannot be negative"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", -1, "km")
    with pytest.raises(redis.ResponseError, match="need numeric radius"):
        r.execute_command("GEORADIUS", "Sicily", 15, 37, "x", "km")
    with pytest.raises(redis.ResponseError, match="height or width cannot be negative"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", -1, 1, "km")
    with pytest.raises(redis.ResponseError, match="COUNT must be > 0"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT", 0)
    with pytest.raises(redis.ResponseError, match="the ANY argument requires COUNT argument"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "ANY")
    with pytest.raises(redis.ResponseError, match="exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "ASC", "ASC")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "BYBOX", 1, 1, "km")
    with pytest.raises(redis.ResponseError, match="GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"):
        r.execute_command("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "WITHDIST")
    with pytest.raises(redis.ResponseError, match="STORE option in GEORADIUS is not compatible"):
        r.execute_command("GEORADIUS", "Sicily", 15, 37, 1, "km", "WITHDIST", "STORE", "d")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("GEORADIUS_RO", "Sicily", 15, 37, 1, "km", "STORE", "d")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.execute_command("GEOADD", "g", "abc", 1, "x")

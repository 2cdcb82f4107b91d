//! The HTTP/JSON door (docs/HTTP.md) with a real HTTP client (reqwest) and raw sockets:
//! every route and status, keys of any bytes, TTLs on a manual clock, conditional writes,
//! `/v1/commands` (single, batch, base64, MULTI, EVAL), stats, auth, limits, keep-alive and
//! pipelining. Keys written through HTTP are read through RESP and the other way round.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use commands::Door;
use redis::Commands;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use testkit::TestServer;

const TIMEOUT: Duration = Duration::from_secs(10);

fn http_addr(srv: &TestServer) -> SocketAddr {
    srv.door_addr(Door::Http).expect("the HTTP door is open")
}

fn base(srv: &TestServer) -> String {
    format!("http://{}", http_addr(srv))
}

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .expect("reqwest client")
}

async fn json_of(r: reqwest::Response) -> Value {
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// POST /v1/commands with `body`; the status and JSON answer.
async fn cmd(c: &Client, srv: &TestServer, body: Value) -> (StatusCode, Value) {
    let r = c
        .post(format!("{}/v1/commands", base(srv)))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, json_of(r).await)
}

/// One parsed HTTP response read from a raw socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn raw_connect(srv: &TestServer) -> TcpStream {
    let s = TcpStream::connect(http_addr(srv)).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Read one response (Content-Length bodies only; `head` = the request was HEAD).
fn read_response(r: &mut BufReader<TcpStream>, head: bool) -> RawResponse {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header line");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').expect("header");
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = resp
        .header("content-length")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    if !head {
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).expect("body");
    }
    resp
}

#[tokio::test]
async fn seed_curl_lines_work_on_root_paths() {
    let srv = TestServer::start();
    let c = client();
    let r = c
        .post(format!("{}/k1", base(&srv)))
        .body("v1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "v1",
        "the seed's server echoes the value"
    );
    let r = c.post(format!("{}/size", base(&srv))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1");
    let r = c.get(format!("{}/k1", base(&srv))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "v1");
    // The same key through RESP, and /v1/keys.
    let mut conn = srv.connection();
    assert_eq!(conn.get::<_, String>("k1").unwrap(), "v1");
    let r = c
        .get(format!("{}/v1/keys/k1", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "v1");
    // A reserved name is a key when percent-encoded.
    let r = c
        .put(format!("{}/%73ize", base(&srv)))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(conn.get::<_, String>("size").unwrap(), "x");
    // Paths with slashes are keys too.
    c.post(format!("{}/a/b", base(&srv)))
        .body("ab")
        .send()
        .await
        .unwrap();
    assert_eq!(conn.get::<_, String>("a/b").unwrap(), "ab");
}

#[tokio::test]
async fn key_crud_statuses_and_headers() {
    let srv = TestServer::start();
    let c = client();
    let url = format!("{}/v1/keys/greeting", base(&srv));
    let r = c.put(&url).body("hello").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers().get("location").unwrap(), "/v1/keys/greeting");
    let r = c.put(&url).body("hello!").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "replacing answers 204");
    let r = c.post(&url).body("hello!!").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/octet-stream"
    );
    assert!(r.headers().get("x-ttl-ms").is_none(), "no TTL, no header");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello!!");

    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-length").unwrap(), "7");
    assert!(r.bytes().await.unwrap().is_empty());

    // An empty value is a value (with its Content-Length: 0; a write without any length is
    // refused, 411, so a forgotten body does not store an empty value).
    let r = c
        .put(&url)
        .header("content-length", "0")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        0
    );

    let r = c.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    assert_eq!(json_of(r).await, json!({"error": "ERR no such key"}));
    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Methods a key does not take.
    let r = c.request(Method::PATCH, &url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers().get("allow").unwrap(),
        "GET, HEAD, PUT, POST, DELETE"
    );
    assert!(json_of(r).await["error"].is_string());

    // Keyspace hits and misses are counted as for GET.
    let s = srv.state();
    let ks = s.ks.stats();
    assert!(ks.hits >= 2 && ks.misses >= 2, "{} {}", ks.hits, ks.misses);
}

#[tokio::test]
async fn any_byte_is_addressable() {
    let srv = TestServer::start();
    let c = client();
    let mut conn = srv.connection();
    // A space, a slash, a percent sign, UTF-8, and bytes that are not UTF-8.
    for (enc, key) in [
        ("a%20b", &b"a b"[..]),
        ("x%2Fy", b"x/y"),
        ("100%25", b"100%"),
        ("%C3%A9t%C3%A9", "été".as_bytes()),
        ("%FF%00%FE", &[0xff, 0x00, 0xfe]),
    ] {
        let url = format!("{}/v1/keys/{enc}", base(&srv));
        let r = c.put(&url).body(vec![0u8, 1, 255]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{enc}");
        let v: Vec<u8> = conn.get(key).unwrap();
        assert_eq!(v, [0, 1, 255], "{enc} through RESP");
        let _: () = conn.set(key, b"from resp").unwrap();
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"from resp", "{enc}");
    }
    // A bad escape is a 400, not a key.
    let r = c
        .get(format!("{}/v1/keys/bad%zz", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The empty key is a key (Redis allows it).
    let r = c
        .put(format!("{}/v1/keys/", base(&srv)))
        .body("e")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(conn.get::<_, String>("").unwrap(), "e");
}

#[tokio::test]
async fn ttl_header_and_expiry_on_a_manual_clock() {
    let srv = TestServer::builder()
        .manual_clock(1_700_000_000_000)
        .start();
    let c = client();
    let url = format!("{}/v1/keys/session", base(&srv));
    let r = c
        .put(format!("{url}?ttl=10"))
        .body("s")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers().get("x-ttl-ms").unwrap(), "10000");
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.headers().get("x-ttl-ms").unwrap(), "10000");
    srv.advance_ms(4_000);
    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.headers().get("x-ttl-ms").unwrap(), "6000");
    let mut conn = srv.connection();
    assert_eq!(
        conn.pttl::<_, i64>("session").unwrap(),
        6000,
        "RESP sees the TTL"
    );
    srv.advance_ms(6_000);
    assert_eq!(
        c.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // px, and a plain write clears a TTL as SET does.
    c.put(format!("{url}?px=1500"))
        .body("s")
        .send()
        .await
        .unwrap();
    assert_eq!(conn.pttl::<_, i64>("session").unwrap(), 1500);
    c.put(&url).body("s").send().await.unwrap();
    assert_eq!(conn.pttl::<_, i64>("session").unwrap(), -1);
    // A TTL set through RESP shows over HTTP.
    let _: () = conn.set_ex("r", "v", 30).unwrap();
    let r = c
        .get(format!("{}/v1/keys/r", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-ttl-ms").unwrap(), "30000");

    for bad in [
        "ttl=0",
        "ttl=-5",
        "ttl=abc",
        "px=0",
        "ttl=1&px=1",
        "color=red",
    ] {
        let r = c
            .put(format!("{url}?{bad}"))
            .body("s")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(json_of(r).await["error"].is_string());
    }
    let r = c
        .put(format!("{url}?ttl=0"))
        .body("s")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(r).await["error"],
        "ERR invalid expire time in 'set' command"
    );
    let r = c.get(format!("{url}?x=1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn conditional_writes() {
    let srv = TestServer::start();
    let c = client();
    let url = format!("{}/v1/keys/lock", base(&srv));
    let r = c.put(format!("{url}?xx")).body("a").send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::PRECONDITION_FAILED,
        "xx on a missing key"
    );
    let r = c
        .put(&url)
        .header("if-match", "*")
        .body("a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let r = c.put(format!("{url}?nx")).body("a").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c.put(format!("{url}?nx=1")).body("b").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert!(json_of(r).await["error"].is_string());
    let r = c
        .put(&url)
        .header("if-none-match", "*")
        .body("b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(c.get(&url).send().await.unwrap().text().await.unwrap(), "a");
    let r = c.put(format!("{url}?xx")).body("c").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(c.get(&url).send().await.unwrap().text().await.unwrap(), "c");
    let r = c
        .put(format!("{url}?nx&xx"))
        .body("d")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wrong_type_is_409_with_redis_words() {
    let srv = TestServer::start();
    let c = client();
    let mut conn = srv.connection();
    let _: () = conn.hset("h", "f", "v").unwrap();
    let r = c
        .get(format!("{}/v1/keys/h", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        json_of(r).await["error"],
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    // A write replaces any type, as SET does.
    let r = c
        .put(format!("{}/v1/keys/h", base(&srv)))
        .body("s")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(conn.get::<_, String>("h").unwrap(), "s");
}

#[tokio::test]
async fn commands_single_form() {
    let srv = TestServer::start();
    let c = client();
    let (s, v) = cmd(
        &c,
        &srv,
        json!(["HSET", "user:1", "name", "ada", "age", 36]),
    )
    .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": 2})));
    let (_, v) = cmd(&c, &srv, json!(["HGETALL", "user:1"])).await;
    assert_eq!(v, json!({"result": {"name": "ada", "age": "36"}}));
    let (_, v) = cmd(&c, &srv, json!(["SET", "f", "1.5"])).await;
    assert_eq!(v, json!({"result": "OK"}));
    let (_, v) = cmd(&c, &srv, json!(["INCRBYFLOAT", "f", "1"])).await;
    assert_eq!(v, json!({"result": "2.5"}));
    let (_, v) = cmd(&c, &srv, json!(["GET", "missing"])).await;
    assert_eq!(v, json!({"result": null}));
    let (_, v) = cmd(&c, &srv, json!(["ZADD", "z", 1, "a", 2, "b"])).await;
    assert_eq!(v, json!({"result": 2}));
    let (_, v) = cmd(&c, &srv, json!(["ZSCORE", "z", "b"])).await;
    assert_eq!(v, json!({"result": 2.0}), "RESP3 doubles are numbers");
    let (_, v) = cmd(&c, &srv, json!(["ZADD", "z", "inf", "c"])).await;
    assert_eq!(v, json!({"result": 1}));
    let (_, v) = cmd(&c, &srv, json!(["ZSCORE", "z", "c"])).await;
    assert_eq!(v, json!({"result": "inf"}));
    let (_, v) = cmd(&c, &srv, json!(["SADD", "s", "x"])).await;
    assert_eq!(v, json!({"result": 1}));
    let (_, v) = cmd(&c, &srv, json!(["SMEMBERS", "s"])).await;
    assert_eq!(v, json!({"result": ["x"]}));
    let (_, v) = cmd(&c, &srv, json!(["EXISTS", "s", "nope"])).await;
    assert_eq!(v, json!({"result": 1}));

    // Binary arguments and replies.
    let (_, v) = cmd(
        &c,
        &srv,
        json!(["SET", {"base64": B64.encode([0xff, 0x00])}, {"base64": B64.encode([0xfe, 0x01])}]),
    )
    .await;
    assert_eq!(v, json!({"result": "OK"}));
    let mut conn = srv.connection();
    let got: Vec<u8> = conn.get(&[0xffu8, 0x00][..]).unwrap();
    assert_eq!(got, [0xfe, 0x01]);
    let (_, v) = cmd(&c, &srv, json!(["GET", {"base64": "/wA="}])).await;
    assert_eq!(v, json!({"result": {"base64": "/gE="}}));

    // Errors: statuses by Redis's error code.
    let (s, v) = cmd(&c, &srv, json!(["GET"])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v,
        json!({"error": "ERR wrong number of arguments for 'get' command"})
    );
    let (s, v) = cmd(&c, &srv, json!(["NOSUCHCMD", "x"])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR unknown command 'NOSUCHCMD'"));
    let (s, v) = cmd(&c, &srv, json!(["LPUSH", "user:1", "x"])).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(v["error"].as_str().unwrap().starts_with("WRONGTYPE"));

    // Streaming commands are refused.
    for name in ["SUBSCRIBE", "psubscribe", "MONITOR"] {
        let (s, v) = cmd(&c, &srv, json!([name, "ch"])).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("not supported over HTTP"),
            "{v}"
        );
    }
    // Maps with string keys are objects; QUIT leaves the HTTP connection alone.
    let (_, v) = cmd(&c, &srv, json!(["CONFIG", "GET", "maxmemory-policy"])).await;
    assert_eq!(v, json!({"result": {"maxmemory-policy": "noeviction"}}));
    let (_, v) = cmd(&c, &srv, json!([["QUIT"], ["PING"]])).await;
    assert_eq!(v, json!([{"result": "OK"}, {"result": "PONG"}]));
    // Blocking commands answer at once.
    let (s, v) = cmd(&c, &srv, json!(["BLPOP", "nolist", 0])).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": null})));
    let (_, v) = cmd(&c, &srv, json!(["RPUSH", "list", "a"])).await;
    assert_eq!(v, json!({"result": 1}));
    let (_, v) = cmd(&c, &srv, json!(["BLPOP", "list", 5])).await;
    assert_eq!(v, json!({"result": ["list", "a"]}));
}

#[tokio::test]
async fn http_push_wakes_a_blocked_resp_client() {
    let srv = TestServer::start();
    let c = client();
    let mut raw = srv.raw();
    raw.send_cmd(&["BLPOP", "q", "0"]);
    // Wait until the RESP client is blocked.
    let mut conn = srv.connection();
    testkit::wait_for("the client to block", TIMEOUT, || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut conn).unwrap();
        info.contains("blocked_clients:1").then_some(())
    });
    let (_, v) = cmd(&c, &srv, json!(["RPUSH", "q", "job"])).await;
    assert_eq!(v, json!({"result": 1}));
    assert_eq!(raw.reply(), "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
    // And BLMOVE over HTTP (blocking denied) still serves waiters of its destination.
    raw.send_cmd(&["BLPOP", "dst", "0"]);
    testkit::wait_for("the client to block", TIMEOUT, || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut conn).unwrap();
        info.contains("blocked_clients:1").then_some(())
    });
    cmd(&c, &srv, json!(["RPUSH", "src", "m"])).await;
    let (_, v) = cmd(
        &c,
        &srv,
        json!(["BLMOVE", "src", "dst", "LEFT", "RIGHT", 0]),
    )
    .await;
    assert_eq!(v, json!({"result": "m"}));
    assert_eq!(raw.reply(), "*2\r\n$3\r\ndst\r\n$1\r\nm\r\n");
}

#[tokio::test]
async fn commands_batch_form_multi_and_eval() {
    let srv = TestServer::start();
    let c = client();
    let (s, v) = cmd(
        &c,
        &srv,
        json!([
            ["SET", "a", "1"],
            ["GET", "a"],
            ["INCR", "a"],
            ["HGET", "a", "f"],
            ["GET", "a"]
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!([
            {"result": "OK"},
            {"result": "1"},
            {"result": 2},
            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
            {"result": "2"}
        ])
    );
    // MULTI/EXEC inside one batch.
    let (_, v) = cmd(
        &c,
        &srv,
        json!([
            ["MULTI"],
            ["INCR", "n"],
            ["INCR", "n"],
            ["LPUSH", "a", "x"],
            ["EXEC"]
        ]),
    )
    .await;
    assert_eq!(
        v,
        json!([
            {"result": "OK"},
            {"result": "QUEUED"},
            {"result": "QUEUED"},
            {"result": "QUEUED"},
            {"result": [1, 2, {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"}]}
        ])
    );
    // A transaction left open ends with its request.
    let (_, v) = cmd(&c, &srv, json!([["MULTI"], ["SET", "left", "open"]])).await;
    assert_eq!(v, json!([{"result": "OK"}, {"result": "QUEUED"}]));
    let (_, v) = cmd(&c, &srv, json!(["EXISTS", "left"])).await;
    assert_eq!(v, json!({"result": 0}));
    let (s, v) = cmd(&c, &srv, json!(["EXEC"])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v, json!({"error": "ERR EXEC without MULTI"}));

    // Scripts run alone (EXCLUSIVE), single and batched.
    let (_, v) = cmd(
        &c,
        &srv,
        json!([
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]); return {1, 'two', redis.call('GET', KEYS[1])}",
            1,
            "ek",
            "ev"
        ]),
    )
    .await;
    assert_eq!(v, json!({"result": [1, "two", "ev"]}));
    let (_, v) = cmd(
        &c,
        &srv,
        json!([
            ["EVAL", "return redis.call('INCR', KEYS[1])", 1, "cnt"],
            ["EVAL", "return redis.call('INCR', KEYS[1])", 1, "cnt"]
        ]),
    )
    .await;
    assert_eq!(v, json!([{"result": 1}, {"result": 2}]));
    // SELECT lasts for its batch only.
    let (_, v) = cmd(
        &c,
        &srv,
        json!([["SELECT", 3], ["SET", "in3", "x"], ["DBSIZE"]]),
    )
    .await;
    assert_eq!(
        v,
        json!([{"result": "OK"}, {"result": "OK"}, {"result": 1}])
    );
    let (_, v) = cmd(&c, &srv, json!(["EXISTS", "in3"])).await;
    assert_eq!(v, json!({"result": 0}));
}

#[tokio::test]
async fn commands_bad_requests() {
    let srv = TestServer::start();
    let c = client();
    let url = format!("{}/v1/commands", base(&srv));
    for body in [
        "not json",
        "{}",
        "[]",
        "[[]]",
        "[\"GET\", null]",
        "[[\"GET\",\"a\"], \"x\"]",
        "[{\"base64\": \"!\"}]",
    ] {
        let r = c
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(json_of(r).await["error"].is_string(), "{body}");
    }
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers().get("allow").unwrap(), "POST");
    // Unknown endpoints under /v1 are 404s, not keys.
    let r = c
        .get(format!("{}/v1/nothing", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(json_of(r).await["error"].is_string());
    let r = c.get(format!("{}/", base(&srv))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_health_ready() {
    let srv = TestServer::start();
    let c = client();
    c.put(format!("{}/v1/keys/a?ttl=100", base(&srv)))
        .body("12345")
        .send()
        .await
        .unwrap();
    c.get(format!("{}/v1/keys/a", base(&srv)))
        .send()
        .await
        .unwrap();
    c.get(format!("{}/v1/keys/b", base(&srv)))
        .send()
        .await
        .unwrap();
    let r = c
        .get(format!("{}/v1/stats", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = json_of(r).await;
    assert_eq!(v["keys"], 1);
    assert_eq!(v["expiring_keys"], 1);
    assert_eq!(v["key_bytes"], 1);
    assert_eq!(v["value_bytes"], 5);
    assert_eq!(v["hits"], 1);
    assert_eq!(v["misses"], 1);
    assert_eq!(v["hit_ratio"], 0.5);
    for f in [
        "used_memory_bytes",
        "maxmemory_bytes",
        "evictions",
        "expirations",
        "commands_processed",
        "ops_per_sec",
        "connections",
        "uptime_seconds",
    ] {
        assert!(v[f].is_number(), "{f} in {v}");
    }
    assert!(v["commands_processed"].as_u64().unwrap() >= 3);
    let doors = &v["connections_per_door"];
    assert!(doors["http"]["connected"].as_u64().unwrap() >= 1, "{v}");
    assert!(doors["http"]["received"].as_u64().unwrap() >= 1, "{v}");
    for d in ["resp", "binary", "memcache"] {
        assert!(doors[d]["connected"].is_number(), "{d}");
    }

    let r = c
        .get(format!("{}/health", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await, json!({"status": "ok"}));
    let r = c.get(format!("{}/ready", base(&srv))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r).await, json!({"status": "ready"}));
    let r = c
        .post(format!("{}/health", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // While shutting down, /ready says so (or the connection is already closed).
    let mut s = raw_connect(&srv);
    srv.state().shutdown.request();
    let _ = s.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 503"),
        "{text:?}"
    );
}

#[tokio::test]
async fn http_connections_are_clients() {
    let srv = TestServer::start();
    let mut s = raw_connect(&srv);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).status, 200);
    let mut conn = srv.connection();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut conn).unwrap();
    let local = s.local_addr().unwrap().to_string();
    let line = list
        .lines()
        .find(|l| l.contains(&format!("addr={local}")))
        .unwrap_or_else(|| panic!("no HTTP client in {list}"));
    let id: String = line
        .split(' ')
        .find_map(|f| f.strip_prefix("id="))
        .unwrap()
        .to_string();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query(&mut conn)
        .unwrap();
    assert_eq!(killed, 1);
    let mut rest = Vec::new();
    let n = r.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "a killed HTTP client is closed");
}

#[tokio::test]
async fn auth_with_bearer_token() {
    let srv = TestServer::builder().requirepass("s3cret").start();
    let c = client();
    let url = format!("{}/v1/keys/k", base(&srv));
    let r = c.put(&url).body("v").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"rcache\""
    );
    assert_eq!(
        json_of(r).await,
        json!({"error": "NOAUTH Authentication required."})
    );
    let r = c
        .put(&url)
        .bearer_auth("wrong")
        .body("v")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(json_of(r).await["error"]
        .as_str()
        .unwrap()
        .starts_with("WRONGPASS"));
    for path in ["/v1/stats", "/size", "/k", "/v1/commands"] {
        let r = c
            .request(Method::POST, format!("{}{path}", base(&srv)))
            .body("[\"PING\"]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = c
        .put(&url)
        .bearer_auth("s3cret")
        .body("v")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c
        .post(format!("{}/v1/commands", base(&srv)))
        .bearer_auth("s3cret")
        .json(&json!(["GET", "k"]))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await, json!({"result": "v"}));
    // Probes stay open.
    for p in ["/health", "/ready"] {
        let r = c.get(format!("{}{p}", base(&srv))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
    }
}

#[tokio::test]
async fn value_over_proto_max_bulk_len_is_413() {
    let srv = TestServer::builder()
        .setting("proto-max-bulk-len", "1mb")
        .start();
    // Declared too long: refused before the body is sent.
    let mut s = raw_connect(&srv);
    s.write_all(b"PUT /v1/keys/big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 413);
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("proto-max-bulk-len"));

    // Chunked: refused once the stream passes the limit.
    let s = raw_connect(&srv);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(
            b"PUT /v1/keys/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..40 {
            let _ = w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
            let _ = w.write_all(&chunk);
            if w.write_all(b"\r\n").is_err() {
                break;
            }
        }
        let _ = w.write_all(b"0\r\n\r\n");
    });
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 413);
    let _ = writer.join();
    let mut conn = srv.connection();
    assert!(!conn.exists::<_, bool>("big").unwrap());

    // Exactly at the limit is fine.
    let c = client();
    let r = c
        .put(format!("{}/v1/keys/big", base(&srv)))
        .body(vec![b'y'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn writes_need_a_length() {
    let srv = TestServer::start();
    let mut s = raw_connect(&srv);
    s.write_all(
        b"PUT /v1/keys/k HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/commands HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let a = read_response(&mut r, false);
    assert_eq!(a.status, 411);
    assert!(serde_json::from_slice::<Value>(&a.body).unwrap()["error"].is_string());
    assert_eq!(read_response(&mut r, false).status, 411);
}

#[tokio::test]
async fn out_of_memory_is_507() {
    let srv = TestServer::builder().policy("noeviction").start();
    let c = client();
    let url = format!("{}/v1/keys/a", base(&srv));
    let r = c.put(&url).body(vec![b'a'; 10_000]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut conn = srv.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1000")
        .query(&mut conn)
        .unwrap();
    let r = c.put(&url).body("b").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(
        json_of(r).await,
        json!({"error": "OOM command not allowed when used memory > 'maxmemory'."})
    );
    let (s, v) = cmd(&c, &srv, json!(["SET", "x", "y"])).await;
    assert_eq!(s, StatusCode::INSUFFICIENT_STORAGE);
    assert!(v["error"].as_str().unwrap().starts_with("OOM"));
    // Reads and deletes still work.
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(c.delete(&url).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn keep_alive_and_pipelined_requests_answer_in_order() {
    let srv = TestServer::start();
    // Keep-alive: many requests, one connection.
    let mut s = raw_connect(&srv);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..3 {
        let body = format!("v{i}");
        s.write_all(
            format!(
                "PUT /v1/keys/k{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(read_response(&mut r, false).status, 201);
    }
    // Pipelined: every request in one write, responses in order.
    let mut batch = Vec::new();
    batch.extend_from_slice(b"GET /v1/keys/k0 HTTP/1.1\r\nHost: x\r\n\r\n");
    batch.extend_from_slice(b"PUT /v1/keys/k1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nnew");
    batch.extend_from_slice(b"GET /v1/keys/k1 HTTP/1.1\r\nHost: x\r\n\r\n");
    batch.extend_from_slice(b"HEAD /v1/keys/k2 HTTP/1.1\r\nHost: x\r\n\r\n");
    batch.extend_from_slice(b"GET /v1/keys/nope HTTP/1.1\r\nHost: x\r\n\r\n");
    batch.extend_from_slice(b"DELETE /v1/keys/k0 HTTP/1.1\r\nHost: x\r\n\r\n");
    let cmd = br#"[["INCR","n"],["INCR","n"]]"#;
    batch.extend_from_slice(
        format!(
            "POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            cmd.len()
        )
        .as_bytes(),
    );
    batch.extend_from_slice(cmd);
    batch.extend_from_slice(b"GET /size HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(&batch).unwrap();
    let a = read_response(&mut r, false);
    assert_eq!((a.status, &a.body[..]), (200, &b"v0"[..]));
    assert_eq!(read_response(&mut r, false).status, 204);
    let a = read_response(&mut r, false);
    assert_eq!((a.status, &a.body[..]), (200, &b"new"[..]));
    let a = read_response(&mut r, true);
    assert_eq!((a.status, a.header("content-length")), (200, Some("2")));
    assert_eq!(read_response(&mut r, false).status, 404);
    assert_eq!(read_response(&mut r, false).status, 204);
    let a = read_response(&mut r, false);
    assert_eq!(
        serde_json::from_slice::<Value>(&a.body).unwrap(),
        json!([{"result": 1}, {"result": 2}])
    );
    let a = read_response(&mut r, false);
    assert_eq!((a.status, &a.body[..]), (200, &b"3"[..]), "k1, k2 and n");
    // One connection for all of it.
    let received = srv.state().stats.doors.received(Door::Http);
    assert_eq!(received, 1);
}

#[tokio::test]
async fn malformed_requests_are_refused_and_the_server_goes_on() {
    let srv = TestServer::start();
    // A bad header: 400.
    let mut s = raw_connect(&srv);
    s.write_all(b"GET /v1/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
    // A request line that is not HTTP: hyper closes the connection without an answer
    // (docs/HTTP.md); nothing runs.
    for garbage in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"GET /a b c\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let mut s = raw_connect(&srv);
        s.write_all(garbage).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 400"),
            "{text:?}"
        );
    }
    // Others are still served.
    let c = client();
    let r = c
        .get(format!("{}/health", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(srv.state().ks.dbsize(0), 0);
}

#[tokio::test]
async fn maxclients_answers_503() {
    let srv = TestServer::start();
    let mut resp_client = srv.raw();
    assert_eq!(
        resp_client.request(&["CONFIG", "SET", "maxclients", "1"]),
        "+OK\r\n"
    );
    let state = srv.state();
    testkit::wait_for("one client left", TIMEOUT, || {
        (state.clients.count() == 1).then_some(())
    });
    let mut s = raw_connect(&srv);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let a = read_response(&mut r, false);
    assert_eq!(a.status, 503);
    assert_eq!(
        serde_json::from_slice::<Value>(&a.body).unwrap(),
        json!({"error": "ERR max number of clients reached"})
    );
}

#[tokio::test]
async fn closed_http_door() {
    let srv = TestServer::builder().setting("http-port", "off").start();
    assert!(srv.door_addr(Door::Http).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_prometheus_text() {
    let srv = TestServer::start();
    let c = client();
    let (status, _) = cmd(&c, &srv, json!(["SET", "a", "1"])).await;
    assert_eq!(status, 200);
    let (_, _) = cmd(&c, &srv, json!(["INCR", "a"])).await;
    let (status, _) = cmd(&c, &srv, json!(["HGET", "a", "f"])).await;
    assert_eq!(status, 409, "WRONGTYPE is a failed call");
    let r = c
        .get(format!("{}/metrics", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = r.text().await.unwrap();
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
    };
    assert_eq!(sample(r#"rcache_commands_total{cmd="set"}"#), 1.0);
    assert_eq!(sample(r#"rcache_commands_total{cmd="incr"}"#), 1.0);
    assert_eq!(sample(r#"rcache_commands_failed_total{cmd="hget"}"#), 1.0);
    assert_eq!(
        sample(r#"rcache_command_duration_seconds_count{cmd="set"}"#),
        1.0
    );
    assert_eq!(sample("rcache_keys"), 1.0);
    assert!(sample(r#"rcache_connections{door="http"}"#) >= 1.0);
    assert!(text.trim_end().ends_with("# EOF"));
    let r = c
        .post(format!("{}/metrics", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

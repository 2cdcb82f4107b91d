//! Client lifecycles: many at once, clients that vanish mid-request, authentication,
//! maxclients.

use std::sync::{Arc, Barrier};
use std::time::Duration;
use testkit::{wait_for, RawConn, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// Wait until the server counts exactly `n` connected clients.
fn wait_clients(srv: &TestServer, n: usize) {
    let st = srv.state();
    wait_for(&format!("{n} connected clients"), WAIT, || {
        (st.clients.count() == n).then_some(())
    });
}

/// A client that disconnects part-way through a frame leaves no trace: the partial command
/// is never executed, its connection is released, others are served. Every cut point of a
/// SET request is tried.
#[test]
fn client_disconnecting_mid_frame() {
    let srv = TestServer::start();
    let mut other = srv.raw();
    assert_eq!(other.request(&["PING"]), "+PONG\r\n");
    let frame = testkit::resp(&["SET", "half", "written"]);
    for cut in 1..frame.len() {
        let mut c = srv.raw();
        c.send(&frame[..cut]);
        drop(c);
        // Also a client that half-closes (FIN) after a partial frame.
        let mut c = srv.raw();
        c.send(&frame[..cut]);
        c.socket().shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(c.expect_closed(WAIT), "", "cut at {cut}");
    }
    wait_clients(&srv, 1);
    assert_eq!(other.request(&["GET", "half"]), "$-1\r\n");
    assert_eq!(other.request(&["PING"]), "+PONG\r\n");
    // A big argument abandoned half-way.
    let mut c = srv.raw();
    let mut big = b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$1000000\r\n".to_vec();
    big.extend(vec![b'x'; 500_000]);
    c.send(&big);
    drop(c);
    wait_clients(&srv, 1);
    assert_eq!(other.request(&["GET", "half"]), "$-1\r\n");
}

/// 200 clients connected at once, each writing and reading its own keys concurrently.
#[test]
fn two_hundred_concurrent_connections() {
    const N: usize = 200;
    let srv = Arc::new(TestServer::start());
    let start = Arc::new(Barrier::new(N));
    let connected = Arc::new(Barrier::new(N + 1));
    let done = Arc::new(Barrier::new(N + 1));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let (srv, start, connected, done) =
                (srv.clone(), start.clone(), connected.clone(), done.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut c = RawConn::connect(srv.addr());
                    connected.wait();
                    start.wait();
                    for j in 0..20 {
                        let k = format!("c{i}:{j}");
                        let v = format!("{i}-{j}");
                        assert_eq!(c.request(&["SET", &k, &v]), "+OK\r\n");
                        assert_eq!(c.request(&["GET", &k]), format!("${}\r\n{v}\r\n", v.len()));
                    }
                    // Hold the connection until every client has finished.
                    done.wait();
                    drop(c);
                })
                .expect("spawn client thread")
        })
        .collect();
    connected.wait();
    wait_clients(&srv, N);
    done.wait();
    for t in threads {
        t.join().expect("client thread");
    }
    wait_clients(&srv, 0);
    let mut c = srv.raw();
    assert_eq!(c.request(&["GET", "c199:19"]), "$6\r\n199-19\r\n");
}

/// With requirepass, commands before AUTH answer NOAUTH on a connection that stays open.
#[test]
fn noauth_before_auth() {
    let srv = TestServer::builder().requirepass("pw").start();
    let mut c = srv.raw();
    for cmd in [
        &["GET", "k"][..],
        &["SET", "k", "v"],
        &["PING"],
        &["ECHO", "x"],
    ] {
        assert_eq!(
            c.request(cmd),
            "-NOAUTH Authentication required.\r\n",
            "{cmd:?}"
        );
    }
    // Inline too, and unknown commands are unknown before anything else.
    c.send(b"GET k\r\n");
    assert_eq!(c.reply(), "-NOAUTH Authentication required.\r\n");
    assert!(c
        .request(&["NOSUCH"])
        .starts_with("-ERR unknown command 'NOSUCH'"));
    // QUIT needs no password.
    assert_eq!(c.request(&["QUIT"]), "+OK\r\n");
    assert_eq!(c.expect_closed(WAIT), "");
}

/// AUTH and HELLO AUTH (the connection family): wrong password refused, right one admits.
#[test]
fn auth_then_commands() {
    let srv = TestServer::builder().requirepass("pw").start();
    let mut c = srv.raw();
    assert_eq!(
        c.request(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.request(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        c.request(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.request(&["AUTH", "pw"]), "+OK\r\n");
    assert_eq!(c.request(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(c.request(&["GET", "k"]), "$1\r\nv\r\n");
    // The two-argument form with the default user.
    let mut c = srv.raw();
    assert_eq!(c.request(&["AUTH", "default", "pw"]), "+OK\r\n");
    assert_eq!(c.request(&["GET", "k"]), "$1\r\nv\r\n");
    // HELLO with AUTH.
    let mut c = srv.raw();
    assert!(c
        .request(&["HELLO", "3", "AUTH", "default", "wrong"])
        .starts_with("-WRONGPASS"));
    assert!(c
        .request(&["HELLO", "3", "AUTH", "default", "pw"])
        .starts_with("%7\r\n"));
    assert_eq!(c.request(&["GET", "k"]), "$1\r\nv\r\n");
    // The redis crate with the password in the URL.
    let url = format!("redis://:pw@{}", srv.addr());
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(WAIT)
        .expect("connect with password");
    let v: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    assert_eq!(v, "v");
}

/// maxclients: the connection past the limit gets Redis's error and is closed; the others
/// carry on.
#[test]
fn maxclients_rejects_the_extra_connection() {
    let srv = TestServer::builder().setting("maxclients", "2").start();
    // The harness's readiness probe must be gone before it could take a slot.
    wait_clients(&srv, 0);
    let mut a = srv.raw();
    let mut b = srv.raw();
    assert_eq!(a.request(&["PING"]), "+PONG\r\n");
    assert_eq!(b.request(&["PING"]), "+PONG\r\n");
    let mut c = srv.raw();
    assert_eq!(
        c.expect_closed(WAIT),
        "-ERR max number of clients reached\r\n"
    );
    assert_eq!(a.request(&["PING"]), "+PONG\r\n");
    drop(b);
    wait_clients(&srv, 1);
    let mut d = srv.raw();
    assert_eq!(d.request(&["PING"]), "+PONG\r\n");
}

/// Pipelining connections are placed evenly over the I/O threads on their first pipelined
/// batch: a connection that moves keeps its session (database, name, protocol) and every
/// reply of the pipeline that moved it, in order.
#[test]
fn pipelining_connections_move_between_io_threads_intact() {
    let srv = TestServer::builder().threads(2).start();
    let mut conns: Vec<redis::Connection> = (0..6)
        .map(|_| srv.client_resp3().get_connection().unwrap())
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        redis::cmd("SELECT").arg(3).query::<()>(c).unwrap();
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(format!("conn{i}"))
            .query::<()>(c)
            .unwrap();
    }
    for round in 0..5 {
        for (i, c) in conns.iter_mut().enumerate() {
            let mut p = redis::pipe();
            for j in 0..16 {
                p.cmd("SET").arg(format!("k{i}:{j}")).arg(round * 100 + j);
            }
            for j in 0..16 {
                p.cmd("INCR").arg(format!("k{i}:{j}"));
            }
            let replies: Vec<redis::Value> = p.query(c).unwrap();
            assert_eq!(replies.len(), 32);
            for j in 0..16 {
                assert_eq!(
                    replies[16 + j],
                    redis::Value::Int(round as i64 * 100 + j as i64 + 1),
                    "conn {i} round {round}"
                );
            }
            let name: String = redis::cmd("CLIENT").arg("GETNAME").query(c).unwrap();
            assert_eq!(name, format!("conn{i}"));
        }
    }
    // Every key landed in database 3, none in 0.
    let mut c0 = srv.connection();
    let n0: i64 = redis::cmd("DBSIZE").query(&mut c0).unwrap();
    assert_eq!(n0, 0);
    redis::cmd("SELECT").arg(3).query::<()>(&mut c0).unwrap();
    let n3: i64 = redis::cmd("DBSIZE").query(&mut c0).unwrap();
    assert_eq!(n3, 96);
    // All six connections (plus c0) are still registered, each with its name, on db 3.
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c0).unwrap();
    for i in 0..6 {
        let line = list
            .lines()
            .find(|l| l.contains(&format!(" name=conn{i} ")))
            .expect("client listed");
        assert!(
            line.contains(" db=3 ") && line.contains(" resp=3"),
            "{line}"
        );
    }
    drop(conns);
    wait_clients(&srv, 1);
}

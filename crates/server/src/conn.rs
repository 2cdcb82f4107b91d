//! One client connection: read, parse every complete request, execute in order, write all
//! replies at once. Limits (query buffer, output buffer, idle timeout, protocol errors) close
//! the connection; nothing a client sends can stop the server serving others.
//!
//! A client with a push channel (`Session::outbox`: pub/sub messages, client-side caching's
//! invalidations, MONITOR lines) also waits on it: the loop `select!`s on the socket, a
//! kill, and new messages, and writes messages as they come, after the replies of the batch
//! that produced them. A gate share is never held across an `.await`, so a subscriber
//! blocked on a slow socket never holds up EXEC or a script.
//!
//! Per command, the loop also applies CLIENT PAUSE (a held command waits here, its gate
//! share dropped: `commands::pause`) and CLIENT REPLY (a dropped reply is cut from `wbuf`);
//! per batch, it sends pending BCAST invalidations (`commands::tracking`). Each costs one
//! relaxed load, or a session field test, while unused.

use crate::cluster::route::{self, Decision};
use crate::door::{After, AnyCodec, Codec, Frame};
use crate::io::{Handoff, IoThreads, PIPELINED_BATCH};
use crate::sock::Sock;
use bytes::{Buf, BytesMut};
use commands::blocking::{Finish, Waiter};
use commands::clients::{ClientHandle, Session};
use commands::gate::Shared;
use commands::pubsub::Outbox;
use commands::{Door, Executed, ServerState};
use protocol::args::OwnedArgs;
use protocol::resp::{Limits, RequestParser};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Replies are flushed once this much is pending, even mid-batch, so a long pipeline of
/// large replies never piles up in memory.
const FLUSH_AT: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// Answer one error line and close (max clients reached), in the door's own words.
pub async fn reject(mut sock: TcpStream, door: Door, msg: &str) {
    let line = match door {
        Door::Memcache => format!("{}\r\n", crate::memcache::TOO_MANY_CONNECTIONS).into_bytes(),
        Door::Binary => {
            let mut out = vec![protocol::binary::VERSION];
            protocol::binary::put_error(&mut out, msg.as_bytes());
            out
        }
        Door::Resp | Door::Http => format!("-{msg}\r\n").into_bytes(),
    };
    let _ = sock.write_all(&line).await;
}

/// `tcp-keepalive <secs>` as Redis's `anetKeepAlive` sets it: probes after `secs` idle,
/// then every `secs / 3`, three unanswered ones close the connection; 0 leaves it off.
fn set_keepalive(sock: &TcpStream, secs: u64) {
    if secs == 0 {
        return;
    }
    let idle = Duration::from_secs(secs);
    let ka = socket2::TcpKeepalive::new().with_time(idle);
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let ka = ka
        .with_interval(Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    let _ = socket2::SockRef::from(sock).set_tcp_keepalive(&ka);
}

/// Register a freshly accepted connection as a client (CLIENT LIST, maxclients, kills);
/// every door's connections are clients.
pub(crate) fn register_client(
    state: &ServerState,
    sock: &TcpStream,
    peer: SocketAddr,
) -> Arc<ClientHandle> {
    let _ = sock.set_nodelay(true);
    set_keepalive(sock, state.settings.tcp_keepalive.load(Relaxed));
    let laddr = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
    #[cfg(unix)]
    let fd = {
        use std::os::fd::AsRawFd;
        sock.as_raw_fd() as i64
    };
    #[cfg(not(unix))]
    let fd = -1;
    let handle = Arc::new(ClientHandle::new(
        state.clients.next_id(),
        peer.to_string(),
        laddr,
        fd,
    ));
    state.clients.register(handle.clone());
    handle
}

/// A fresh codec for a connection through `door`.
fn new_codec(door: Door) -> AnyCodec {
    match door {
        Door::Resp => AnyCodec::Resp(RequestParser::new(Limits::default())),
        Door::Binary => AnyCodec::Binary(crate::binary::BinaryCodec::new()),
        Door::Memcache => AnyCodec::Memcache(Box::default()),
        Door::Http => {
            unreachable!("{} is not served by conn", door.name())
        }
    }
}

/// Serve a freshly accepted connection through `door` on I/O thread `thread`. `bus`: a
/// connection to the cluster port (RESP, but it must prove the cluster secret first, and
/// its requests are never forwarded again: `cluster::route::decide`).
pub async fn serve(
    state: Arc<ServerState>,
    io: Arc<IoThreads>,
    thread: usize,
    door: Door,
    sock: TcpStream,
    peer: SocketAddr,
    bus: bool,
) {
    let handle = register_client(&state, &sock, peer);
    let id = handle.id;
    let mut sess = Session::new(handle, !state.auth_required() && !bus);
    if bus {
        sess.bus = Some(Box::default());
    }
    sess.door = door;
    let codec = new_codec(door);
    // The other doors translate RESP3's typed replies (maps, doubles…) into their own.
    sess.resp3 = door != Door::Resp;
    state.stats.doors.opened(door);
    match sock.into_std() {
        Ok(sock) => {
            let h = Handoff {
                sock,
                rbuf: BytesMut::with_capacity(READ_CHUNK),
                codec,
                sess,
                placed: false,
            };
            // memcached connections are dealt round-robin over the I/O threads at accept, as
            // memcached deals them to its workers: with memaslap's two client threads on
            // the same 2 cores this measured 220k ops/s against 163k for staying on the
            // accepting thread (memcached: 200k). RESP keeps the idle-CPU rule (`io`).
            let to = if IoThreads::dealt_at_accept(door) {
                io.next_round_robin()
            } else {
                thread
            };
            if to != thread {
                if !io.send(to, h) {
                    // That thread is gone (shutting down): the connection closes here.
                    state.stats.doors.closed(door);
                    state.clients.unregister(id);
                }
                return;
            }
            drive(state, io, thread, h).await
        }
        Err(e) => {
            tracing::debug!(client = id, "cannot take socket: {e}");
            state.stats.doors.closed(door);
            state.clients.unregister(id);
        }
    }
}

/// How a connection left its I/O thread.
enum Outcome {
    /// Closed, with a reason worth a log line.
    Closed(Option<String>),
    /// Moving to another I/O thread; `counted` when already counted there as pipelining.
    Moved {
        to: usize,
        sock: std::net::TcpStream,
        counted: bool,
    },
}

/// Run a connection on I/O thread `thread` until it closes or moves to another thread.
pub async fn drive(state: Arc<ServerState>, io: Arc<IoThreads>, thread: usize, h: Handoff) {
    let Handoff {
        sock,
        rbuf,
        codec,
        sess,
        placed,
    } = h;
    match codec {
        AnyCodec::Resp(c) => drive_with(state, io, thread, sock, rbuf, c, sess, placed).await,
        AnyCodec::Binary(c) => drive_with(state, io, thread, sock, rbuf, c, sess, placed).await,
        AnyCodec::Memcache(c) => drive_with(state, io, thread, sock, rbuf, *c, sess, placed).await,
    }
}

/// `drive` for one door's codec.
#[allow(clippy::too_many_arguments)]
async fn drive_with<C: Codec>(
    state: Arc<ServerState>,
    io: Arc<IoThreads>,
    thread: usize,
    sock: std::net::TcpStream,
    mut rbuf: BytesMut,
    mut parser: C,
    mut sess: Session,
    mut placed: bool,
) where
    AnyCodec: From<C>,
{
    let handle = sess.handle.clone();
    io.conn_started(thread);
    let outcome = match Sock::from_std(sock) {
        Ok(sock) => {
            let mut c = ConnState {
                rbuf: &mut rbuf,
                parser: &mut parser,
                sess: &mut sess,
                placed: &mut placed,
            };
            run(&state, &io, thread, sock, &mut c, &handle).await
        }
        Err(e) => Outcome::Closed(Some(format!("cannot register socket: {e}"))),
    };
    io.conn_left(thread);
    if let (Some(bus), Some(cl)) = (sess.bus.as_deref(), state.cluster.get()) {
        if !bus.importing.is_empty() && !matches!(outcome, Outcome::Moved { .. }) {
            // The source went away mid hand-off: it still owns the slots (invariant 6).
            commands::cluster_cmd::abort_import(&state, cl, &bus.importing);
        }
    }
    let reason = match outcome {
        Outcome::Moved { to, sock, counted } => {
            // A placement counted the connection on its destination already; a balancer move
            // carries a pipelining connection's count along.
            if placed && !counted {
                io.pipelined_add(thread, -1);
                io.pipelined_add(to, 1);
            }
            let h = Handoff {
                sock,
                rbuf,
                codec: AnyCodec::from(parser),
                sess,
                placed,
            };
            if io.send(to, h) {
                return;
            }
            if placed {
                io.pipelined_add(to, -1);
            }
            Some("shutting down".to_string())
        }
        Outcome::Closed(reason) => {
            if placed {
                io.pipelined_add(thread, -1);
            }
            reason
        }
    };
    if let Some(r) = reason {
        tracing::debug!(client = handle.id, "closing client: {r}");
    }
    state.stats.doors.closed(C::DOOR);
    state.clients.unregister(handle.id);
}

/// What a connection carries from thread to thread, borrowed by the request loop.
struct ConnState<'a, C> {
    rbuf: &'a mut BytesMut,
    parser: &'a mut C,
    sess: &'a mut Session,
    placed: &'a mut bool,
}

/// The request loop. Returns why the connection closed, when it is worth a log line.
async fn run<C: Codec>(
    state: &Arc<ServerState>,
    io: &IoThreads,
    thread: usize,
    sock: Sock,
    c: &mut ConnState<'_, C>,
    handle: &ClientHandle,
) -> Outcome {
    let ConnState {
        rbuf,
        parser,
        sess,
        placed,
    } = c;
    let settings = &state.settings;
    let mut wbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    // Cluster mode routes every door's requests (route.rs); forwarded replies wait in
    // `pending` until the batch's replies are written.
    let cl = state.cluster.get().cloned();
    let mut pending = route::Forwards::default();
    // Invalidations the batch's writes pushed to tracking clients: written before its
    // replies (`commands::tracking::wait_delivered`).
    let mut sent = Vec::new();
    loop {
        if handle.is_killed() {
            return Outcome::Closed(Some("killed".into()));
        }
        // A push channel another client made for this one (a RESP3 tracking REDIRECT
        // target) is taken up here.
        if sess.outbox.is_none() && handle.outbox_offered.load(Relaxed) {
            sess.outbox();
        }
        // Waiting pushes (messages, invalidations, MONITOR lines) go out first.
        let outbox = sess.outbox.clone();
        if let Some(ob) = outbox.as_deref() {
            ob.set_idle(false);
        }
        if let Some(ob) = outbox.as_deref() {
            if ob.drain_into(&mut wbuf)
                && flush(state, &sock, &mut wbuf, handle, Some(ob))
                    .await
                    .is_err()
            {
                return Outcome::Closed(None);
            }
        }
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        // Subscribers and monitors are exempt from the idle timeout, as in Redis.
        let idle = if sess.pubsub.is_some() || sess.monitor.is_some() {
            0
        } else {
            settings.timeout.load(Relaxed)
        };
        let read = async {
            if idle > 0 {
                match tokio::time::timeout(Duration::from_secs(idle), sock.read_buf(rbuf)).await {
                    Ok(r) => r.map(Some),
                    Err(_) => Ok(None),
                }
            } else {
                sock.read_buf(rbuf).await.map(Some)
            }
        };
        // Idle between requests: a writer waits for its invalidations to reach such a
        // connection's socket (`commands::tracking`).
        if let Some(ob) = outbox.as_deref() {
            ob.set_idle(true);
        }
        let n = tokio::select! {
            // Pushes already waiting go out before the replies to later requests, as
            // Redis's output buffer orders them; a kill is seen at the top of the loop too,
            // so it is polled last (a ready read then never registers with its notifier).
            biased;
            // New messages: back to the top, which writes them.
            _ = messages(outbox.as_deref()) => continue,
            r = read => match r {
                Ok(Some(0)) | Err(_) => {
                    if !parser.in_progress() {
                        return Outcome::Closed(None);
                    }
                    // A door may answer a cut-off frame (the binary protocol does) before
                    // closing: the client may have shut only its writing half.
                    parser.truncated_error(&mut wbuf);
                    if !wbuf.is_empty() {
                        let _ = flush(state, &sock, &mut wbuf, handle, None).await;
                    }
                    return Outcome::Closed(Some("client closed mid-request".into()));
                }
                Ok(Some(n)) => n,
                Ok(None) => return Outcome::Closed(Some("idle timeout".into())),
            },
            _ = handle.kill_notify.notified() => return Outcome::Closed(Some("killed".into())),
            // Given a push channel meanwhile: back to the top, which adopts it.
            _ = handle.wake.notified(), if outbox.is_none() => continue,
        };
        if let Some(ob) = outbox.as_deref() {
            ob.set_idle(false);
        }
        state.stats.total_net_input_bytes.add(n as u64);
        parser.set_max_bulk_len(settings.proto_max_bulk_len.load(Relaxed));
        let mut off = 0;
        let mut ncmds = 0u64;
        let mut last: Option<&'static str> = None;
        let mut fatal: Option<String> = None;
        // A gate share (`commands::gate`) held while this batch executes, released before
        // every `.await` so an exclusive command (EXEC, a script) never waits on our socket.
        let mut share: Option<Shared<'_>> = None;
        loop {
            match parser.parse(&rbuf[off..], sess.authenticated) {
                Ok(Frame::Incomplete { want }) => {
                    // Reserve once for a large bulk instead of growing read by read.
                    let have = rbuf.len() - off;
                    let limit = settings.client_query_buffer_limit.load(Relaxed) as usize;
                    if want > have && want <= limit {
                        rbuf.reserve(want - have);
                    }
                    break;
                }
                Ok(Frame::Empty { consumed }) => off += consumed,
                Ok(Frame::Native { consumed }) => {
                    // CLIENT PAUSE: writes (every request under ALL) wait for its end.
                    if state.pause.active() {
                        let write = parser.native_is_write(&rbuf[off..off + consumed]);
                        let s: &Session = sess;
                        if commands::pause::holds_native(state, Some(s), write) {
                            share = None;
                            let still = || commands::pause::holds_native(state, Some(s), write);
                            let held = paused(
                                state,
                                &sock,
                                &mut wbuf,
                                handle,
                                cl.as_ref(),
                                &mut pending,
                                still,
                            );
                            if let Err(o) = held.await {
                                return o;
                            }
                        }
                    }
                    if share.is_none() {
                        // The uncontended path first: no future, no notifier registration.
                        share = Some(match state.gate.try_shared() {
                            Some(g) => g,
                            None => state.gate.shared().await,
                        });
                    }
                    if let Some(cl) = cl.as_ref().filter(|_| sess.authenticated) {
                        let frame = &rbuf[off..off + consumed];
                        // ACL: a restricted user is checked here, before a relay runs the
                        // request on another node as the (trusted) bus.
                        if !sess.acl.free_at(state.acl.epoch())
                            && parser.acl_refuse(state, sess, frame, &mut wbuf)
                        {
                            ncmds += 1;
                            off += consumed;
                            continue;
                        }
                        if let Some(nk) = parser.native_keys(frame) {
                            let routed = route_native(
                                state,
                                cl,
                                (C::DOOR, sess.multi.is_some()),
                                nk,
                                frame,
                                &mut share,
                                &mut wbuf,
                                &mut pending,
                            )
                            .await;
                            if let Routed::Done = routed {
                                ncmds += 1;
                                off += consumed;
                                continue;
                            }
                        }
                    }
                    let after =
                        parser.run_native(state, sess, &rbuf[off..off + consumed], &mut wbuf);
                    // MONITOR (one relaxed load when nobody monitors).
                    if state.monitors.active() {
                        parser.monitor_native(state, sess, &rbuf[off..off + consumed]);
                    }
                    commands::tracking::take_sent(&mut sent);
                    ncmds += 1;
                    off += consumed;
                    match after {
                        After::Continue => {}
                        After::Close => {
                            sess.close = true;
                            break;
                        }
                        After::Abort => {
                            wbuf.clear();
                            fatal = Some(
                                "closed unanswered by the door (memcached: an HTTP line)".into(),
                            );
                            break;
                        }
                    }
                    if wbuf.len() >= FLUSH_AT {
                        share = None;
                        if let Some(cl) = cl.as_ref() {
                            pending.resolve(cl, &mut wbuf).await;
                        }
                        if flush(state, &sock, &mut wbuf, handle, None).await.is_err() {
                            return Outcome::Closed(None);
                        }
                    }
                }
                Ok(Frame::Command { consumed }) => {
                    let args = parser.args(&rbuf[off..]);
                    let mut mark = wbuf.len();
                    if let Some(msg) = parser.refuse(args) {
                        commands::reply_error(sess, msg, &mut wbuf);
                        parser.finish_reply(&mut wbuf, mark);
                        ncmds += 1;
                        off += consumed;
                        continue;
                    }
                    // CLIENT PAUSE: a command it holds waits here, without a gate share, its
                    // earlier replies written (one relaxed load when no pause).
                    if state.pause.active() && commands::pause::holds(state, sess, args) {
                        share = None;
                        let s: &Session = sess;
                        let still = || commands::pause::holds(state, s, args);
                        let held = paused(
                            state,
                            &sock,
                            &mut wbuf,
                            handle,
                            cl.as_ref(),
                            &mut pending,
                            still,
                        );
                        if let Err(o) = held.await {
                            return o;
                        }
                        mark = wbuf.len();
                    }
                    if share.is_none() {
                        match state.gate.try_shared() {
                            Some(g) => share = Some(g),
                            None => match wait_share(state, args).await {
                                Wait::Share(g) => share = Some(g),
                                // ALLOW_BUSY: runs beside the exclusive holder.
                                Wait::NoGate => {}
                                Wait::Busy => {
                                    commands::reject_busy(state, sess, args, &mut wbuf);
                                    parser.finish_reply(&mut wbuf, mark);
                                    if sess.reply != 0 && sess.reply_dropped() {
                                        wbuf.truncate(mark);
                                    }
                                    ncmds += 1;
                                    off += consumed;
                                    continue;
                                }
                            },
                        }
                    }
                    // Cluster mode: a command routed to another node runs there as the bus,
                    // so a restricted ACL user is checked here first.
                    if cl.is_some() && sess.authenticated && !sess.acl.free_at(state.acl.epoch()) {
                        if let Err(msg) = commands::acl::check_args(state, sess, args) {
                            commands::reply_error(sess, &msg, &mut wbuf);
                            parser.finish_reply(&mut wbuf, mark);
                            ncmds += 1;
                            off += consumed;
                            continue;
                        }
                    }
                    if let Some(cl) = cl.as_ref().filter(|_| C::DOOR == Door::Binary) {
                        // The binary door's COMMAND frames go whole to their keys' owner,
                        // whose binary codec answers them (route_request would relay RESP).
                        if let Some(nk) = command_keys(state, args) {
                            let frame = &rbuf[off..off + consumed];
                            let routed = route_native(
                                state,
                                cl,
                                (C::DOOR, sess.multi.is_some()),
                                nk,
                                frame,
                                &mut share,
                                &mut wbuf,
                                &mut pending,
                            )
                            .await;
                            if let Routed::Done = routed {
                                ncmds += 1;
                                off += consumed;
                                continue;
                            }
                        }
                    } else if let Some(cl) = cl.as_ref() {
                        match route_request(
                            state,
                            cl,
                            sess,
                            args,
                            &mut share,
                            &mut wbuf,
                            &mut pending,
                        )
                        .await
                        {
                            Routed::Here => {}
                            Routed::Done => {
                                ncmds += 1;
                                off += consumed;
                                continue;
                            }
                        }
                    }
                    if let Some(cl) = cl
                        .as_ref()
                        .filter(|_| sess.bus.is_none() && sess.multi.is_none())
                    {
                        let name = args.get(0);
                        let shard = name.eq_ignore_ascii_case(b"spublish");
                        // (A subscribed RESP2 client's (S)PUBLISH is refused: not relayed.)
                        if args.len() == 3
                            && (shard || name.eq_ignore_ascii_case(b"publish"))
                            && (sess.resp3 || !commands::pubsub::is_subscribed(sess))
                        {
                            route::relay_publish(cl, args, shard);
                        }
                    }
                    let ran = commands::execute_in(state, sess, args, &mut wbuf, false);
                    let spec = match ran {
                        Executed::Done(spec) => spec,
                        Executed::NeedsExclusive => {
                            share = None;
                            let owned = OwnedArgs::new(args.iter());
                            match run_exclusive(state, sess, owned, &mut wbuf).await {
                                Some(spec) => spec,
                                None => return Outcome::Closed(Some("shutting down".into())),
                            }
                        }
                    };
                    parser.finish_reply(&mut wbuf, mark);
                    commands::tracking::take_sent(&mut sent);
                    // CLIENT REPLY OFF / SKIP: the reply is dropped (a session field test).
                    let dropped = sess.reply != 0 && sess.reply_dropped();
                    if dropped {
                        wbuf.truncate(mark);
                    }
                    if let Some(spec) = spec {
                        last = Some(spec.name);
                    }
                    ncmds += 1;
                    off += consumed;
                    if sess.close {
                        break;
                    }
                    if let Some(w) = sess.blocked.take() {
                        // A blocking command found nothing: park until served, timed out,
                        // killed or disconnected (`commands::blocking`). The gate share is
                        // dropped first, and replies so far are flushed.
                        share = None;
                        if let Some(name) = last {
                            *handle.last_cmd.lock() = name;
                        }
                        if let Some(cl) = cl.as_ref() {
                            pending.resolve(cl, &mut wbuf).await;
                        }
                        if !wbuf.is_empty()
                            && flush(state, &sock, &mut wbuf, handle, None).await.is_err()
                        {
                            state.blocking.finish(&w, Finish::Gone);
                            return Outcome::Closed(None);
                        }
                        let outbox = sess.outbox.clone();
                        match park(state, &sock, rbuf, handle, &w, outbox.as_deref()).await {
                            Ok(reply) if !dropped => {
                                let mark = wbuf.len();
                                wbuf.extend_from_slice(&reply);
                                parser.finish_reply(&mut wbuf, mark);
                            }
                            Ok(_) => {}
                            Err(reason) => return Outcome::Closed(reason),
                        }
                    }
                    let hard = settings.obuf_hard.load(Relaxed) as usize;
                    if hard > 0 && wbuf.len() > hard {
                        state
                            .stats
                            .client_output_buffer_limit_disconnections
                            .fetch_add(1, Relaxed);
                        return Outcome::Closed(Some(format!(
                            "output buffer limit reached ({} > {hard} bytes)",
                            wbuf.len()
                        )));
                    }
                    if wbuf.len() >= FLUSH_AT {
                        share = None;
                        if let Some(cl) = cl.as_ref() {
                            pending.resolve(cl, &mut wbuf).await;
                        }
                        if flush(state, &sock, &mut wbuf, handle, None).await.is_err() {
                            return Outcome::Closed(None);
                        }
                    }
                }
                Err(e) => {
                    parser.protocol_error(&e.0, &mut wbuf);
                    fatal = Some(format!("Protocol error: {}", e.0));
                    break;
                }
            }
        }
        drop(share);
        if let Some(cl) = cl.as_ref() {
            pending.resolve(cl, &mut wbuf).await;
        }
        rbuf.advance(off);
        if ncmds > 0 {
            state.stats.total_commands_processed.add(ncmds);
            handle
                .last_active_ms
                .store(handle.created.elapsed().as_millis() as u64, Relaxed);
            if let Some(name) = last {
                *handle.last_cmd.lock() = name;
            }
        }
        handle.qbuf.store(rbuf.len(), Relaxed);
        // BCAST invalidations of the batch's changes (one relaxed load when none wait).
        if state.tracking.bcast_pending() {
            state.tracking.flush_bcast();
            commands::tracking::take_sent(&mut sent);
        }
        // The tracking clients hold the invalidations before this client its replies.
        if !sent.is_empty() {
            commands::tracking::wait_delivered(&mut sent, sess.outbox.as_ref()).await;
        }
        // Messages that arrived while the batch ran follow its replies.
        let outbox = sess.outbox.clone();
        if let Some(ob) = outbox.as_deref() {
            ob.drain_into(&mut wbuf);
        }
        if !wbuf.is_empty()
            && flush(state, &sock, &mut wbuf, handle, outbox.as_deref())
                .await
                .is_err()
        {
            return Outcome::Closed(None);
        }
        if fatal.is_some() {
            return Outcome::Closed(fatal);
        }
        if sess.close {
            return Outcome::Closed(None);
        }
        if rbuf.len() > settings.client_query_buffer_limit.load(Relaxed) as usize {
            state
                .stats
                .client_query_buffer_limit_disconnections
                .fetch_add(1, Relaxed);
            return Outcome::Closed(Some(format!(
                "query buffer limit reached ({} bytes)",
                rbuf.len()
            )));
        }
        // Give back memory a burst of large requests or replies left behind.
        if rbuf.is_empty() && rbuf.capacity() > 1 << 20 {
            **rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        if wbuf.capacity() > 1 << 20 {
            wbuf = Vec::with_capacity(READ_CHUNK);
        }
        // Between batches (replies flushed) a connection may move: a pipelining one to the
        // thread with the fewest of them, any one to an idle core (see `io`).
        // Connections dealt round-robin at accept (memcached's) stay where they were dealt:
        // moving them as well undoes the even spread.
        let balanced = !IoThreads::dealt_at_accept(C::DOOR);
        let mut dest = None;
        if balanced && ncmds >= PIPELINED_BATCH && !**placed {
            **placed = true;
            dest = Some(io.place_pipelined(thread)).filter(|&t| t != thread);
        }
        let counted = dest.is_some();
        if let Some(to) = dest.or_else(|| balanced.then(|| io.take_migration(thread)).flatten()) {
            return match sock.into_std() {
                Ok(std) => Outcome::Moved {
                    to,
                    sock: std,
                    counted,
                },
                Err(e) => Outcome::Closed(Some(format!("cannot move connection: {e}"))),
            };
        }
    }
}

/// What routing did with a request in cluster mode.
enum Routed {
    /// Run it here.
    Here,
    /// Answered (an error) or forwarded (its reply is pending).
    Done,
}

/// The keys of a command (its table row's key positions), for routing a whole frame.
fn command_keys(state: &ServerState, args: protocol::Args<'_>) -> Option<crate::door::NativeKeys> {
    let spec = commands::spec_of(state, args)?;
    if commands::cluster_cmd::is_shard_pubsub(spec) {
        return None; // run here, relayed as PUBLISH (`route::shard_pubsub`)
    }
    let keys: Vec<Vec<u8>> = commands::cluster_cmd::key_positions(spec, args)
        .into_iter()
        .map(|p| args.get(p).to_vec())
        .collect();
    (!keys.is_empty()).then(|| crate::door::NativeKeys {
        keys,
        write: spec.has(commands::table::flags::WRITE),
        multi_get: None,
    })
}

/// Route a request of the memcached or binary door by its keys (cluster mode): run here,
/// relay it whole to the one node that owns its keys (`RCACHE.MC` / `RCACHE.BIN`), split a
/// memcached multi-get, or answer an error in the door's words.
#[allow(clippy::too_many_arguments)]
async fn route_native<'s>(
    state: &'s Arc<ServerState>,
    cl: &Arc<cluster::Cluster>,
    (door, in_multi): (Door, bool),
    nk: crate::door::NativeKeys,
    frame: &[u8],
    share: &mut Option<Shared<'s>>,
    wbuf: &mut Vec<u8>,
    pending: &mut route::Forwards,
) -> Routed {
    use cluster::Route;
    loop {
        if share.is_none() {
            *share = Some(state.gate.shared().await);
        }
        let mut owners: Vec<u32> = Vec::new();
        let mut wait = None;
        let mut down = None;
        for k in &nk.keys {
            let slot = storage::key_slot(k);
            let o = match cl.route(slot) {
                Route::Local => cl.me,
                Route::Frozen if nk.write => {
                    wait = Some(slot);
                    break;
                }
                Route::Frozen => cl.me,
                Route::Remote(o) => o,
                Route::Down => {
                    down = Some(slot);
                    break;
                }
            };
            if !owners.contains(&o) {
                owners.push(o);
            }
        }
        if let Some(slot) = wait {
            *share = None;
            route::wait_thaw(cl, slot).await;
            continue;
        }
        if let Some(slot) = down {
            let msg = format!("CLUSTERDOWN Hash slot {slot} not served");
            wbuf.extend_from_slice(&route::door_error(door, &msg));
            return Routed::Done;
        }
        let error = |wbuf: &mut Vec<u8>, msg: &str| {
            wbuf.extend_from_slice(&route::door_error(door, msg));
            Routed::Done
        };
        match owners.as_slice() {
            [] => return Routed::Here,
            [o] if *o == cl.me => return Routed::Here,
            // A transaction's commands queue here: they must be this node's keys.
            _ if in_multi => {
                return error(
                    wbuf,
                    "MOVED the key is another node's: send transactions to the keys' node",
                )
            }
            [o] => {
                let slot = storage::key_slot(&nk.keys[0]);
                pending.add_relayed(cl, door, *o, slot, frame, wbuf.len());
                return Routed::Done;
            }
            _ => {
                let Some(head) = nk.multi_get.clone() else {
                    return error(
                        wbuf,
                        "CROSSSLOT Keys in request don't hash to the same node",
                    );
                };
                pending.send_gathered(cl);
                let p = route::mc_multi_get(cl, head, nk.keys.clone(), 0);
                pending.push(cl, wbuf.len(), p);
                return Routed::Done;
            }
        }
    }
}

/// `RCACHE.MC <request>` / `RCACHE.BIN <frame>` from another node's memcached or binary
/// door: run it here with that door's own codec when its keys are ours (else MOVED); the
/// door's answer goes back as a bulk.
async fn run_relayed<'s, C: Codec + Default>(
    state: &'s Arc<ServerState>,
    cl: &Arc<cluster::Cluster>,
    sess: &mut Session,
    payload: &[u8],
    share: &mut Option<Shared<'s>>,
    wbuf: &mut Vec<u8>,
) {
    let mut codec = C::default();
    codec.set_max_bulk_len(state.settings.proto_max_bulk_len.load(Relaxed));
    let (consumed, native) = match codec.parse(payload, true) {
        Ok(Frame::Native { consumed }) => (consumed, true),
        Ok(Frame::Command { consumed }) => (consumed, false),
        _ => {
            commands::reply_error(sess, "ERR not one request of that door", wbuf);
            return;
        }
    };
    let frame = &payload[..consumed];
    loop {
        if share.is_none() {
            *share = Some(state.gate.shared().await);
        }
        let nk = if native {
            codec.native_keys(frame)
        } else {
            command_keys(state, codec.args(frame))
        };
        let Some(nk) = nk else { break };
        let Some(bus) = sess.bus.as_deref() else {
            return;
        };
        let mut moved = String::new();
        let mut wait = None;
        for k in &nk.keys {
            let slot = storage::key_slot(k);
            match commands::cluster_cmd::peer_route(cl, bus, slot) {
                Ok(cluster::Route::Frozen) if nk.write => wait = wait.or(Some(slot)),
                Ok(_) => {}
                Err(line) if moved.is_empty() => moved = line,
                Err(_) => {}
            }
        }
        if !moved.is_empty() {
            commands::reply_error(sess, &moved, wbuf);
            return;
        }
        match wait {
            Some(slot) => {
                *share = None;
                route::wait_thaw(cl, slot).await;
            }
            None => break,
        }
    }
    let mut out = Vec::new();
    if native {
        codec.run_native(state, sess, frame, &mut out);
    } else {
        // Other doors speak RESP3 to the command layer; the codec transcodes the reply.
        let resp3 = std::mem::replace(&mut sess.resp3, true);
        let args = codec.args(frame);
        if let Executed::NeedsExclusive = commands::execute_in(state, sess, args, &mut out, false) {
            *share = None;
            let owned = OwnedArgs::new(args.iter());
            let _ = run_exclusive(state, sess, owned, &mut out).await;
        }
        sess.resp3 = resp3;
        codec.finish_reply(&mut out, 0);
    }
    let mut r = protocol::Reply::new(wbuf, false);
    r.bulk(&out);
}

/// Route one request (cluster mode): wait out a frozen slot, answer an error, forward or
/// split it, or let it run here. Holds `share` when it returns `Here`.
async fn route_request<'s>(
    state: &'s Arc<ServerState>,
    cl: &Arc<cluster::Cluster>,
    sess: &mut Session,
    args: protocol::Args<'_>,
    share: &mut Option<Shared<'s>>,
    wbuf: &mut Vec<u8>,
    pending: &mut route::Forwards,
) -> Routed {
    if sess.bus.as_ref().is_some_and(|b| b.peer.is_some())
        && args.len() == 2
        && args.get(0).eq_ignore_ascii_case(b"rcache.mc")
    {
        run_relayed::<crate::memcache::McCodec>(state, cl, sess, args.get(1), share, wbuf).await;
        return Routed::Done;
    }
    if sess.bus.as_ref().is_some_and(|b| b.peer.is_some())
        && args.len() == 2
        && args.get(0).eq_ignore_ascii_case(b"rcache.bin")
    {
        run_relayed::<crate::binary::BinaryCodec>(state, cl, sess, args.get(1), share, wbuf).await;
        return Routed::Done;
    }
    loop {
        if share.is_none() {
            *share = Some(state.gate.shared().await);
        }
        match route::decide(state, cl, sess, args) {
            Decision::Local => return Routed::Here,
            Decision::Error(msg) => {
                commands::reply_error(sess, &msg, wbuf);
                return Routed::Done;
            }
            Decision::Wait(slot) => {
                *share = None;
                route::wait_thaw(cl, slot).await;
            }
            Decision::Forward {
                node,
                slot,
                blocking,
            } => {
                if blocking {
                    // The client waits for its reply before its next command, as in Redis.
                    let p = route::forward(cl, node, slot, args, sess.resp3, true);
                    pending.push(cl, wbuf.len(), p);
                    *share = None;
                    pending.resolve(cl, wbuf).await;
                } else {
                    pending.add(cl, node, slot, args, sess.resp3, wbuf.len());
                }
                return Routed::Done;
            }
            Decision::Split { kind, per, groups } => {
                pending.send_gathered(cl);
                let p = route::split(state, cl, sess, args, kind, per, groups);
                pending.push(cl, wbuf.len(), p);
                return Routed::Done;
            }
            Decision::ForwardTx(o) => {
                match commands::tx::take_for_forward(sess) {
                    Some((_, true, _)) => commands::reply_error(
                        sess,
                        "EXECABORT Transaction discarded because of previous errors.",
                        wbuf,
                    ),
                    Some((_, _, true)) => commands::reply_error(
                        sess,
                        "EXECABORT WATCH and a transaction on another node's keys cannot be combined; transaction discarded",
                        wbuf,
                    ),
                    Some((queue, false, false)) => {
                        let p = route::forward_tx(cl, o, queue, sess.resp3);
                        pending.push(cl, wbuf.len(), p);
                    }
                    None => commands::reply_error(sess, "ERR EXEC without MULTI", wbuf),
                }
                return Routed::Done;
            }
            Decision::AbortTx(msg) => {
                let _ = commands::tx::take_for_forward(sess);
                commands::reply_error(sess, &msg, wbuf);
                return Routed::Done;
            }
        }
    }
}

/// How a command that found the gate closed may run.
pub(crate) enum Wait<'a> {
    Share(Shared<'a>),
    /// An `ALLOW_BUSY` command (SCRIPT KILL…): runs without a share, beside the holder.
    NoGate,
    /// A script has run past `busy-reply-threshold`: answer BUSY.
    Busy,
}

/// Wait for a gate share while an exclusive command runs, answering BUSY once a script has
/// run past the threshold.
pub(crate) async fn wait_share<'a>(state: &'a ServerState, args: protocol::Args<'_>) -> Wait<'a> {
    if commands::spec_of(state, args).is_some_and(|s| s.has(commands::table::flags::ALLOW_BUSY)) {
        return Wait::NoGate;
    }
    let shared = state.gate.shared();
    tokio::pin!(shared);
    loop {
        tokio::select! {
            g = &mut shared => return Wait::Share(g),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if state.gate.busy_since().is_some_and(|t| t >= commands::busy_reply_threshold(state)) {
                    return Wait::Busy;
                }
            }
        }
    }
}

/// Run an `EXCLUSIVE` command (EXEC, EVAL…): hold the gate alone and execute it on a
/// blocking-pool thread, so a long script does not stall the other connections of this I/O
/// thread (they wait for a share, or get BUSY). `None` if the runtime is shutting down.
pub(crate) async fn run_exclusive(
    state: &Arc<ServerState>,
    sess: &mut Session,
    args: OwnedArgs,
    wbuf: &mut Vec<u8>,
) -> Option<Option<&'static commands::table::CommandSpec>> {
    let _hold = state.gate.exclusive().await;
    let st = state.clone();
    let mut moved = std::mem::replace(sess, Session::detached(0));
    let mut out = std::mem::take(wbuf);
    let job = tokio::task::spawn_blocking(move || {
        let spec = match commands::execute_in(&st, &mut moved, args.args(), &mut out, true) {
            Executed::Done(spec) => spec,
            Executed::NeedsExclusive => unreachable!("exclusive access was granted"),
        };
        // Invalidations it pushed are waited for by the connection, on its own thread.
        let mut sent = Vec::new();
        commands::tracking::take_sent(&mut sent);
        (moved, out, spec, sent)
    });
    let (back, out, spec, sent) = job.await.ok()?;
    commands::tracking::put_sent(sent);
    *sess = back;
    *wbuf = out;
    Some(spec)
}

/// Hold a command CLIENT PAUSE holds: the replies so far are written first (as Redis writes
/// a paused client's earlier replies), then wait while `still_held` says so, without a gate
/// share. `Err`: the connection closes (killed, or its socket failed).
#[allow(clippy::too_many_arguments)]
async fn paused(
    state: &ServerState,
    sock: &Sock,
    wbuf: &mut Vec<u8>,
    handle: &ClientHandle,
    cl: Option<&Arc<cluster::Cluster>>,
    pending: &mut route::Forwards,
    still_held: impl Fn() -> bool,
) -> Result<(), Outcome> {
    if let Some(cl) = cl {
        pending.resolve(cl, wbuf).await;
    }
    if !wbuf.is_empty() && flush(state, sock, wbuf, handle, None).await.is_err() {
        return Err(Outcome::Closed(None));
    }
    commands::pause::wait(state, &handle.kill_notify, still_held)
        .await
        .map_err(|()| Outcome::Closed(Some("killed".into())))
}

/// Wait for a blocked client's reply: served by a pusher, the deadline, CLIENT KILL, or the
/// client going away (read EOF). Bytes the client sends meanwhile are buffered for after the
/// reply (Redis does the same). `Err` = close the connection, nothing was popped for it.
async fn park(
    state: &ServerState,
    sock: &Sock,
    rbuf: &mut BytesMut,
    handle: &ClientHandle,
    w: &Arc<Waiter>,
    outbox: Option<&Outbox>,
) -> Result<Vec<u8>, Option<String>> {
    let deadline = w.deadline();
    let sleep = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let gone = |why: Option<String>| {
        state.blocking.finish(w, Finish::Gone);
        Err(why)
    };
    loop {
        if handle.is_killed() {
            return gone(Some("killed".into()));
        }
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            // A served reply wins every race: its element is already popped.
            biased;
            r = w.served() => return Ok(r),
            _ = &mut sleep => {
                return Ok(state.blocking.finish(w, Finish::Timeout).unwrap_or_default());
            }
            _ = handle.kill_notify.notified() => return gone(Some("killed".into())),
            // Pushes (invalidations, messages) reach a blocked client too, as in Redis.
            _ = messages(outbox) => {
                let mut out = Vec::new();
                if let Some(ob) = outbox.filter(|ob| ob.drain_into(&mut out)) {
                    if flush(state, sock, &mut out, handle, Some(ob)).await.is_err() {
                        return gone(None);
                    }
                }
            }
            r = sock.read_buf(rbuf) => match r {
                Ok(0) | Err(_) => return gone(None),
                Ok(n) => {
                    state.stats.total_net_input_bytes.add(n as u64);
                    handle.qbuf.store(rbuf.len(), Relaxed);
                    let limit = state.settings.client_query_buffer_limit.load(Relaxed) as usize;
                    if rbuf.len() > limit {
                        state
                            .stats
                            .client_query_buffer_limit_disconnections
                            .fetch_add(1, Relaxed);
                        return gone(Some(format!("query buffer limit reached ({} bytes)", rbuf.len())));
                    }
                }
            },
        }
    }
}

/// Write `wbuf` out. A kill interrupts a write the client does not read (a subscriber cut
/// off by its output-buffer limit); `outbox` learns how much is in flight meanwhile, which
/// counts against that limit.
async fn flush(
    state: &ServerState,
    sock: &Sock,
    wbuf: &mut Vec<u8>,
    handle: &ClientHandle,
    outbox: Option<&Outbox>,
) -> std::io::Result<()> {
    // Under `appendfsync always` no reply leaves before the writes it may reflect are on
    // disk (group commit: every connection waiting shares the writer's fsync).
    commands::aof::wait_durable(state).await;
    state.stats.total_net_output_bytes.add(wbuf.len() as u64);
    if let Some(o) = outbox {
        o.set_inflight(wbuf.len());
    }
    // Biased: a write that completes at once never registers with the kill notifier.
    let r = tokio::select! {
        biased;
        r = sock.write_all(wbuf) => r,
        _ = handle.kill_notify.notified() => Err(std::io::Error::other("killed")),
    };
    if let Some(o) = outbox {
        o.set_inflight(0);
    }
    wbuf.clear();
    r
}

/// Resolves when a subscriber's outbox has new messages; never without an outbox.
async fn messages(outbox: Option<&Outbox>) {
    match outbox {
        Some(o) => o.notify.notified().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    /// `tcp-keepalive` reaches accepted sockets: on after that many idle seconds, or off at 0.
    #[test]
    fn keepalive_follows_the_setting() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            for secs in [0u64, 7] {
                let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (sock, _) = l.accept().await.unwrap();
                super::set_keepalive(&sock, secs);
                let s = socket2::SockRef::from(&sock);
                assert_eq!(s.keepalive().unwrap(), secs > 0);
                #[cfg(target_os = "linux")]
                if secs > 0 {
                    assert_eq!(s.tcp_keepalive_time().unwrap().as_secs(), secs);
                    assert_eq!(s.tcp_keepalive_interval().unwrap().as_secs(), 2);
                    assert_eq!(s.tcp_keepalive_retries().unwrap(), 3);
                }
            }
        });
    }
}

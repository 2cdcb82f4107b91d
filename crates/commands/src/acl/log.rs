//! ACL LOG: the security log of refused commands, keys, channels and failed AUTHs, with
//! Redis 7.0.15's entry fields (count, reason, context, object, username, age-seconds,
//! client-info; 7.0 has no entry-id or timestamps) and its grouping: an event like one of
//! the ten newest entries (same reason, context, object and user, within 60 s) bumps that
//! entry's count and moves it to the front instead of adding one.

use protocol::Reply;
use std::collections::VecDeque;

/// Why an entry was logged (ACL LOG `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused command came from (ACL LOG `context`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One event (or a group of like events).
#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command's full name, the key, the channel, or (auth) the command as sent.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// When it last happened (ms, the server's clock).
    pub at_ms: u64,
    /// CLIENT INFO of the client it last happened to.
    pub client_info: String,
}

/// Events within this many ms of each other group into one entry.
const GROUPING_MS: u64 = 60_000;
/// How many of the newest entries a new event is compared with.
const SCAN: usize = 10;

/// The log, newest first.
#[derive(Default)]
pub struct Log {
    entries: VecDeque<Entry>,
}

impl Log {
    /// Record an event, keeping at most `max_len` entries (`acllog-max-len`).
    pub fn add(&mut self, e: Entry, max_len: usize) {
        let like = self.entries.iter().take(SCAN).position(|x| {
            x.reason == e.reason
                && x.context == e.context
                && x.at_ms.abs_diff(e.at_ms) <= GROUPING_MS
                && x.object == e.object
                && x.username == e.username
        });
        if let Some(i) = like {
            let mut x = self.entries.remove(i).expect("found");
            x.count += 1;
            x.at_ms = e.at_ms;
            x.client_info = e.client_info;
            self.entries.push_front(x);
            return;
        }
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// ACL LOG [count]: the newest `count` entries as maps.
    pub fn reply(&self, out: &mut Reply<'_>, count: usize, now_ms: u64) {
        let n = count.min(self.entries.len());
        out.array_len(n);
        for e in self.entries.iter().take(n) {
            out.map_len(7);
            out.bulk(b"count");
            out.int(e.count as i64);
            out.bulk(b"reason");
            out.bulk(e.reason.name().as_bytes());
            out.bulk(b"context");
            out.bulk(e.context.name().as_bytes());
            out.bulk(b"object");
            out.bulk(&e.object);
            out.bulk(b"username");
            out.bulk(&e.username);
            out.bulk(b"age-seconds");
            out.double(now_ms.saturating_sub(e.at_ms) as f64 / 1000.0);
            out.bulk(b"client-info");
            out.bulk(e.client_info.as_bytes());
        }
    }
}

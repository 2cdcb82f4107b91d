//! Redis 7's functions: libraries of Lua functions loaded with FUNCTION LOAD and called with
//! FCALL / FCALL_RO (the commands are in `function_cmd.rs`).
//!
//! ```text
//!  FUNCTION LOAD "#!lua name=lib\n…" ─► parse_metadata (Redis's shebang rules and words)
//!      ─► compile in the libraries' Lua state (sandbox.lua + functions.lua) ─► run the code
//!         once with the library API only ─► its redis.register_function calls
//!      ─► Registry: libraries by name, functions by lowercase name (collisions refused)
//!  FCALL f numkeys k… a… ─► Registry lookup (flags) ─► Engine::run_in(callback(keys, args))
//!  snapshots ◄─ codes() (each library's text) ─┐   load: install(codes, Flush | Replace)
//!  FUNCTION DUMP / RESTORE ◄─ dump() / parse_dump() ┘
//! ```
//!
//! The libraries live in a Lua state of their own (not EVAL's: SCRIPT FLUSH leaves them),
//! created on first use; the registry beside it holds what a library is (name, code,
//! functions and their flags and descriptions) and each function's compiled callback. The
//! registry is behind its own lock, never held while Lua runs, so FUNCTION STATS and KILL
//! (which run beside a busy function) and a snapshot's capture never wait for a function.
//!
//! Loading changes nothing until the whole library compiled, ran and registered without
//! error: a failure leaves the previous libraries as they were (LOAD REPLACE included).
//! RESTORE and loading a snapshot compile every library of the payload first, then join
//! them to the current ones by the policy (FLUSH / APPEND / REPLACE), all or nothing.
//!
//! **DUMP payload** (rcache's own, laid out as Redis lays out its own): for each library
//! `0xF5 | varint length | the library's FUNCTION LOAD text`, then `version u16 LE`
//! (`storage::dump::VERSION`, the key DUMP's) and `crc64 LE` (CRC-64/Redis of everything
//! before it). A Redis payload fails the version check (`ERR DUMP payload version or
//! checksum are wrong`), as a key DUMP of Redis's does.

use super::engine::{stop_reason, Sandbox};
use mlua::{ChunkMode, Function, Lua, Table, Value};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Function flags (`redis.register_function{…, flags={…}}`), as functions.lua numbers them.
pub mod flags {
    pub const NO_WRITES: u8 = 1;
    pub const ALLOW_OOM: u8 = 2;
    pub const ALLOW_STALE: u8 = 4;
    pub const NO_CLUSTER: u8 = 8;
    pub const ALLOW_CROSS_SLOT: u8 = 16;
    /// Redis's names, in the order FUNCTION LIST shows them.
    pub const NAMES: &[(u8, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];
}

/// The only engine, as FUNCTION LIST and STATS name it.
pub const ENGINE: &str = "LUA";

/// How long FUNCTION LOAD may run a library's code (Redis's LOAD_TIMEOUT_MS); none when
/// replaying the append-only log, as Redis waives it for its AOF client.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// The opcode before each library in a DUMP payload (Redis's RDB_OPCODE_FUNCTION2).
const DUMP_LIBRARY: u8 = 0xF5;

const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
pub struct Func {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: u8,
    callback: Function,
}

/// One library: its FUNCTION LOAD text and the functions it registered.
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<Func>,
}

/// Libraries by name, and which library holds each function name.
#[derive(Default)]
struct Registry {
    libraries: BTreeMap<String, Library>,
    /// Lowercased function name → its library (FCALL finds functions case-insensitively;
    /// the first registered wins when one library holds `ab` and `AB`, as in Redis).
    by_function: HashMap<String, String>,
}

impl Registry {
    /// The library holding function `name` (any case), other than `except`.
    fn owner(&self, name: &str, except: &[&str]) -> Option<&str> {
        self.by_function
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .filter(|lib| !except.contains(lib))
    }

    /// Check that `lib`'s functions collide with no other library's (but `except`'s,
    /// which are being replaced).
    fn check_functions(&self, lib: &Library, except: &[&str]) -> Result<(), String> {
        for f in &lib.functions {
            if self.owner(&f.name, except).is_some() {
                return Err(format!("ERR Function {} already exists", f.name));
            }
        }
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in &lib.functions {
            let key = f.name.to_ascii_lowercase();
            if self.by_function.get(&key).is_some_and(|l| l == name) {
                self.by_function.remove(&key);
            }
        }
        Some(lib)
    }

    fn insert(&mut self, lib: Library) {
        for f in &lib.functions {
            self.by_function
                .entry(f.name.to_ascii_lowercase())
                .or_insert_with(|| lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn function_count(&self) -> usize {
        self.libraries.values().map(|l| l.functions.len()).sum()
    }
}

/// The libraries' Lua state: sandbox.lua, then functions.lua.
struct FnLua {
    lua: Lua,
    env: Table,
    /// functions.lua's `load(chunk) → ok, registrations | error`.
    load: Function,
    /// functions.lua's `reset()`: the ordinary globals again.
    reset: Function,
    /// sandbox.lua's `run_function(f, call, keys, args) → ok, result`.
    run: Function,
}

/// FUNCTION LOAD's clock, read by the Lua hook.
#[derive(Default)]
struct LoadClock {
    /// Nanoseconds past `epoch` after which the running load stops (0: none runs).
    deadline_ns: AtomicU64,
    timed_out: AtomicBool,
    epoch: std::sync::OnceLock<Instant>,
}

impl LoadClock {
    fn now_ns(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// How a set of libraries joins the loaded ones (FUNCTION RESTORE's policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Every loaded library goes; the new set replaces them.
    Flush,
    /// Added; a library or function name already loaded refuses the whole set.
    Append,
    /// Added; a library of the same name is replaced; a function name held by another
    /// library refuses the whole set.
    Replace,
}

/// What FCALL found: enough to run the function without holding the registry.
pub struct Called {
    pub name: String,
    pub flags: u8,
    callback: Function,
}

/// The function libraries of one server.
pub struct Functions {
    registry: RwLock<Registry>,
    lua: Mutex<Option<FnLua>>,
    run_state: Arc<AtomicU8>,
    clock: Arc<LoadClock>,
}

/// A library's first line, as Redis reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub engine: String,
    pub name: String,
    /// Where the code after the first line starts (its newline included, so line numbers
    /// in errors are the payload's).
    pub body_at: usize,
}

impl Functions {
    pub fn new(run_state: Arc<AtomicU8>) -> Functions {
        Functions {
            registry: RwLock::default(),
            lua: Mutex::new(None),
            run_state,
            clock: Arc::default(),
        }
    }

    fn state<'g>(&self, slot: &'g mut Option<FnLua>) -> Result<&'g mut FnLua, String> {
        if slot.is_none() {
            let st = self
                .new_state()
                .map_err(|e| format!("ERR cannot create Lua state: {e}"))?;
            *slot = Some(st);
        }
        Ok(slot.as_mut().expect("just created"))
    }

    fn new_state(&self) -> mlua::Result<FnLua> {
        let (rs, clock) = (self.run_state.clone(), self.clock.clone());
        let sb = Sandbox::new(move || {
            if let Some(why) = stop_reason(rs.load(Ordering::Acquire)) {
                return Some(why);
            }
            let d = clock.deadline_ns.load(Ordering::Acquire);
            if d != 0 && clock.now_ns() > d {
                clock.timed_out.store(true, Ordering::Release);
                return Some("ERR FUNCTION LOAD timeout");
            }
            None
        })?;
        let (load, reset): (Function, Function) = sb
            .lua
            .load(include_str!("functions.lua"))
            .set_name("=rcache_lib")
            .call(sb.internals.clone())?;
        let run: Function = sb.internals.get("run_function")?;
        Ok(FnLua {
            lua: sb.lua,
            env: sb.env,
            load,
            reset,
            run,
        })
    }

    /// Compile and run one library's code (already parsed as `meta`), collecting what it
    /// registered. Errors are Redis's lines (`ERR Error compiling function: …`).
    fn compile(
        &self,
        st: &FnLua,
        code: &[u8],
        meta: &Meta,
        timeout: Option<Duration>,
    ) -> Result<Library, String> {
        let chunk = st
            .lua
            .load(&code[meta.body_at..])
            .set_name("@user_function")
            .set_mode(ChunkMode::Text)
            .set_environment(st.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling function: {msg}")
            })?;
        let clock = &self.clock;
        clock.timed_out.store(false, Ordering::Release);
        if let Some(t) = timeout {
            let d = clock.now_ns() + t.as_nanos() as u64;
            clock.deadline_ns.store(d.max(1), Ordering::Release);
        }
        let res: mlua::Result<(bool, Value)> = st.load.call(chunk);
        clock.deadline_ns.store(0, Ordering::Release);
        // Only a shutdown's stop could interrupt this (the deadline is gone).
        let _ = st.reset.call::<()>(());
        let registering = |why: &str| format!("ERR Error registering functions: {why}");
        let stopped = || {
            if clock.timed_out.swap(false, Ordering::AcqRel) {
                Some("ERR FUNCTION LOAD timeout")
            } else {
                stop_reason(self.run_state.load(Ordering::Acquire))
            }
        };
        let regs = match res {
            Ok((true, Value::Table(t))) => t,
            Ok((_, v)) => {
                let why = match (stopped(), v) {
                    (Some(why), _) => why.to_string(),
                    (None, Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into(),
                    (None, _) => "ERR unknown error".into(),
                };
                return Err(registering(&why));
            }
            Err(e) => {
                return Err(registering(
                    &stopped().map_or_else(|| format!("ERR {e}"), str::to_string),
                ))
            }
        };
        let mut functions = Vec::new();
        for r in regs.sequence_values::<Table>() {
            let r = r.map_err(|e| registering(&format!("ERR {e}")))?;
            let name: mlua::String = r.get("name").map_err(|e| registering(&e.to_string()))?;
            let description: Option<mlua::String> = r
                .get("description")
                .map_err(|e| registering(&e.to_string()))?;
            functions.push(Func {
                name: String::from_utf8_lossy(&name.as_bytes()).into_owned(),
                description: description.map(|d| d.as_bytes().to_vec()),
                flags: r.get("flags").map_err(|e| registering(&e.to_string()))?,
                callback: r.get("callback").map_err(|e| registering(&e.to_string()))?,
            });
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Library {
            name: meta.name.clone(),
            code: code.to_vec(),
            functions,
        })
    }

    /// FUNCTION LOAD [REPLACE] code: returns the library's name. `replaying`: the
    /// append-only log's replay (no load timeout). `done` runs once the library is in,
    /// with the registry still locked, so what it records (the append-only log) is in the
    /// order the changes were made.
    pub fn load(
        &self,
        code: &[u8],
        replace: bool,
        replaying: bool,
        done: impl FnOnce(),
    ) -> Result<String, String> {
        let meta = parse_metadata(code)?;
        let exists = |reg: &Registry| {
            if !replace && reg.libraries.contains_key(&meta.name) {
                Err(format!("ERR Library '{}' already exists", meta.name))
            } else {
                Ok(())
            }
        };
        exists(&self.registry.read())?;
        let mut guard = self.lua.lock();
        let st = self.state(&mut guard)?;
        let lib = self.compile(st, code, &meta, (!replaying).then_some(LOAD_TIMEOUT))?;
        let mut reg = self.registry.write();
        exists(&reg)?;
        reg.check_functions(&lib, &[meta.name.as_str()])?;
        // The old library's callbacks are dropped here, with the Lua state locked.
        reg.remove(&meta.name);
        reg.insert(lib);
        done();
        Ok(meta.name)
    }

    /// Compile `codes` as a set of its own (its names must not repeat), as RESTORE and a
    /// snapshot's load do before joining it to the loaded libraries.
    fn compile_set(&self, st: &FnLua, codes: &[Vec<u8>]) -> Result<Registry, String> {
        let mut set = Registry::default();
        for code in codes {
            let meta = parse_metadata(code)?;
            if set.libraries.contains_key(&meta.name) {
                return Err(format!("ERR Library '{}' already exists", meta.name));
            }
            let lib = self.compile(st, code, &meta, None)?;
            set.check_functions(&lib, &[])?;
            set.insert(lib);
        }
        Ok(set)
    }

    /// Compile `codes` and join them to the loaded libraries by `policy`; nothing changes
    /// on error (FUNCTION RESTORE, loading a snapshot or the log's base). `done` as for
    /// `load`.
    pub fn install(
        &self,
        codes: &[Vec<u8>],
        policy: Policy,
        done: impl FnOnce(),
    ) -> Result<(), String> {
        let mut guard = self.lua.lock();
        let st = self.state(&mut guard)?;
        let set = self.compile_set(st, codes)?;
        let mut reg = self.registry.write();
        if policy == Policy::Flush {
            *reg = set;
            done();
            return Ok(());
        }
        let mut replaced: Vec<&str> = Vec::new();
        for name in set.libraries.keys() {
            if reg.libraries.contains_key(name) {
                if policy == Policy::Append {
                    return Err(format!("ERR Library {name} already exists"));
                }
                replaced.push(name);
            }
        }
        for lib in set.libraries.values() {
            reg.check_functions(lib, &replaced)?;
        }
        let Registry { libraries, .. } = set;
        for (name, lib) in libraries {
            reg.remove(&name);
            reg.insert(lib);
        }
        done();
        Ok(())
    }

    /// FUNCTION DELETE: whether the library was there (`done` runs if it was, as for
    /// `load`).
    pub fn delete(&self, name: &[u8], done: impl FnOnce()) -> bool {
        let name = String::from_utf8_lossy(name);
        let mut reg = self.registry.write();
        let found = reg.remove(&name).is_some();
        if found {
            done();
        }
        found
    }

    /// FUNCTION FLUSH: every library goes (`done` as for `load`).
    pub fn flush(&self, done: impl FnOnce()) {
        let mut reg = self.registry.write();
        *reg = Registry::default();
        done();
    }

    /// FCALL's lookup (case-insensitive, as Redis's).
    pub fn find(&self, name: &[u8]) -> Option<Called> {
        let name = std::str::from_utf8(name).ok()?;
        let reg = self.registry.read();
        let lib = reg.libraries.get(reg.owner(name, &[])?)?;
        let f = lib
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))?;
        Some(Called {
            name: f.name.clone(),
            flags: f.flags,
            callback: f.callback.clone(),
        })
    }

    /// Run `called` in the libraries' Lua state through `engine` (FCALL).
    pub(super) fn run<R>(
        &self,
        called: Called,
        f: impl FnOnce(&Lua, &Function, Function) -> R,
    ) -> Result<R, String> {
        let mut guard = self.lua.lock();
        let st = self.state(&mut guard)?;
        Ok(f(&st.lua, &st.run, called.callback))
    }

    /// (libraries, functions), for FUNCTION STATS. Never waits for a running function.
    pub fn counts(&self) -> (usize, usize) {
        let reg = self.registry.read();
        (reg.libraries.len(), reg.function_count())
    }

    /// Every library's code, in name order: what a snapshot holds (taken at its instant).
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.registry
            .read()
            .libraries
            .values()
            .map(|l| l.code.clone())
            .collect()
    }

    /// Visit the libraries in name order (FUNCTION LIST).
    pub fn for_each(&self, mut f: impl FnMut(&Library)) {
        for lib in self.registry.read().libraries.values() {
            f(lib);
        }
    }

    /// FUNCTION DUMP's payload (module doc).
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for code in self.codes() {
            out.push(DUMP_LIBRARY);
            persist::snapshot::format::put_varint(&mut out, code.len() as u64);
            out.extend_from_slice(&code);
        }
        out.extend_from_slice(&storage::dump::VERSION.to_le_bytes());
        let crc = persist::snapshot::format::CRC64.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// The libraries' code in a FUNCTION DUMP payload, with Redis's words for what is wrong.
pub fn parse_dump(p: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const WRONG: &str = "ERR DUMP payload version or checksum are wrong";
    if p.len() < 10 {
        return Err(WRONG.into());
    }
    let (data, crc) = p.split_at(p.len() - 8);
    let version = u16::from_le_bytes([data[data.len() - 2], data[data.len() - 1]]);
    let crc = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
    if version != storage::dump::VERSION || persist::snapshot::format::CRC64.checksum(data) != crc {
        return Err(WRONG.into());
    }
    let data = &data[..data.len() - 2];
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        if data[at] != DUMP_LIBRARY {
            return Err("ERR given type is not a function".into());
        }
        at += 1;
        let failed = || "ERR Failed loading library payload".to_string();
        let (len, used) = varint(&data[at..]).ok_or_else(failed)?;
        at += used;
        let end = usize::try_from(len)
            .ok()
            .and_then(|n| at.checked_add(n))
            .filter(|&e| e <= data.len())
            .ok_or_else(failed)?;
        out.push(data[at..end].to_vec());
        at = end;
    }
    Ok(out)
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

/// Letters, digits and underscores, at least one (Redis's functionsVerifyName).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A library's first line, `#!<engine> name=<name>`, with Redis's rules and error words
/// (functionExtractLibMetaData, then the name and engine checks of FUNCTION LOAD).
pub fn parse_metadata(code: &[u8]) -> Result<Meta, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    // Redis reads the payload as a C string: a NUL before the first newline ends it.
    let nl = code
        .iter()
        .position(|&c| c == b'\n' || c == 0)
        .filter(|&i| code[i] == b'\n')
        .ok_or("ERR Invalid library metadata")?;
    let parts = split_args(&code[..nl]).ok_or("ERR Invalid library metadata")?;
    let Some((first, rest)) = parts.split_first() else {
        return Err("ERR Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(first.get(2..).unwrap_or_default()).into_owned();
    let mut name = None;
    for part in rest {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case(ENGINE) {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(Meta {
        engine,
        name,
        body_at: nl,
    })
}

/// Redis's `sdssplitargs`: words separated by spaces, "double quotes" with escapes
/// (`\n \r \t \b \a \xHH`), 'single quotes' (`\'`); `None` for unbalanced quotes or a
/// closing quote not followed by a space.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut p = 0;
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let is_space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' && hex(at(p + 2)).is_some() {
                    if let (Some(h), Some(l)) = (hex(at(p + 2)), hex(at(p + 3))) {
                        cur.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        o => o,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    o => cur.push(o),
                }
            }
            p += 1;
        }
        out.push(cur);
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

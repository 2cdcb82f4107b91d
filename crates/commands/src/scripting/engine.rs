//! The Lua engine: one Lua 5.1 state per server (behind a mutex; scripts are serialised by
//! the exclusion gate anyway), the cache of compiled scripts by SHA1, the run state SCRIPT
//! KILL inspects, and running one script with `redis.call` bound to the caller's server.
//!
//! A running script moves through `IDLE → RUNNING → (WROTE) → IDLE`; SCRIPT KILL, which runs
//! beside the script (ALLOW_BUSY), swaps `RUNNING → KILLED` with one compare-and-swap, so a
//! script is killed only if it has not written: the first write swaps `RUNNING → WROTE` the
//! same way. An instruction-count hook raises an error in the script once it is `KILLED`.
//!
//! Shutdown (SHUTDOWN NOSAVE, SIGTERM, SIGINT) swaps `RUNNING | WROTE → ABORTED`: unlike
//! SCRIPT KILL it stops a script that has written too, because the process is going away
//! anyway and must not wait for a script that may never end.
//!
//! Functions (FCALL) run through the same `run_in`, in the function libraries' own Lua
//! state (`functions.rs`): one run state serves both, and `running` says which kind runs,
//! for FUNCTION STATS, the BUSY words and which of SCRIPT KILL / FUNCTION KILL may stop it.

use super::convert::{lua_to_reply, reply_to_lua};
use crate::clients::Session;
use crate::table::{find_sub, flags};
use crate::{execute_in, ServerState};
use mlua::{
    ChunkMode, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState,
};
use parking_lot::Mutex;
use protocol::args::OwnedArgs;
use protocol::Reply;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

pub const IDLE: u8 = 0;
pub const RUNNING: u8 = 1;
pub const WROTE: u8 = 2;
pub const KILLED: u8 = 3;
/// The server is shutting down: the script stops at its next hook or `redis.call`, written
/// or not.
pub const ABORTED: u8 = 4;

/// The hook runs every this many VM instructions (Redis uses 100000; smaller kills faster).
const HOOK_EVERY: u32 = 10_000;

const KILLED_MSG: &str = "ERR Script killed by user with SCRIPT KILL...";
const ABORTED_MSG: &str = "ERR Script aborted: the server is shutting down";

/// Whether a script in run state `s` must stop now, and with which error.
pub(super) fn stop_reason(s: u8) -> Option<&'static str> {
    match s {
        KILLED => Some(KILLED_MSG),
        ABORTED => Some(ABORTED_MSG),
        _ => None,
    }
}

/// Per-server scripting state.
pub struct Engine {
    lua: Mutex<Option<LuaState>>,
    run_state: Arc<AtomicU8>,
    /// What runs now (set before the run state leaves IDLE, cleared after it is back);
    /// read beside the script by FUNCTION STATS, the kill commands and BUSY replies.
    running: Mutex<Option<RunInfo>>,
    /// The function libraries (FUNCTION LOAD, FCALL) and their Lua state.
    pub functions: super::functions::Functions,
}

impl Default for Engine {
    fn default() -> Engine {
        let run_state = Arc::<AtomicU8>::default();
        Engine {
            lua: Mutex::new(None),
            functions: super::functions::Functions::new(run_state.clone()),
            run_state,
            running: Mutex::new(None),
        }
    }
}

/// The script or function running now.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// A function (FCALL): FUNCTION KILL stops it; else an EVAL script: SCRIPT KILL.
    pub function: bool,
    /// The function's name, or the script's SHA1.
    pub name: String,
    /// The caller's command (FCALL's, for FUNCTION STATS; empty for EVAL).
    pub command: Vec<Vec<u8>>,
    pub started: std::time::Instant,
}

/// How one run is made: what errors name it by and what it may do.
pub(super) struct Invocation<'a> {
    /// The script's SHA1 (EVAL) or the function's name (FCALL), as errors say
    /// "… script: <name>, on @user_script:1.".
    pub name: &'a str,
    /// `redis.call` refuses write commands (EVAL_RO, FCALL_RO, `no-writes`).
    pub read_only: bool,
    /// Write commands may run past `maxmemory` (`allow-oom`).
    pub allow_oom: bool,
    /// A function rather than an EVAL script.
    pub function: bool,
    /// The caller's command, kept for FUNCTION STATS.
    pub command: Vec<Vec<u8>>,
}

/// Why a kill command did not stop anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillRefusal {
    /// Nothing runs: `NOTBUSY No scripts in execution right now.`
    NotBusy,
    /// It has written: `UNKILLABLE …`.
    Unkillable,
    /// SCRIPT KILL of a function, or FUNCTION KILL of a script: the other command's BUSY
    /// words (`busy_message`).
    OtherKind,
}

/// Redis's answer while a function runs past `busy-reply-threshold`.
pub const BUSY_FUNCTION_MSG: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// A Lua state with its sandbox and compiled scripts.
struct LuaState {
    lua: Lua,
    /// The sandbox's runner: `run(f, call, KEYS, ARGV) → ok, result`.
    runner: Function,
    /// The scripts' read-only global environment.
    env: Table,
    scripts: HashMap<String, Function>,
}

/// What running a script answered, written to the caller by `run`.
pub enum ScriptError {
    NoScript,
    Compile(String),
}

impl Engine {
    /// The state SCRIPT KILL sees (`IDLE`, `RUNNING`, `WROTE`, `KILLED`).
    pub fn run_state(&self) -> u8 {
        self.run_state.load(Ordering::Acquire)
    }

    /// Stop the running script or function: `Ok` if it will stop, else the state that
    /// prevents it (no kind check: `kill_kind` is the commands' door).
    pub fn kill(&self) -> Result<(), u8> {
        self.run_state
            .compare_exchange(RUNNING, KILLED, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL (true), with Redis's checks in its
    /// order: nothing running, already written, the other kind running.
    pub fn kill_kind(&self, function: bool) -> Result<(), KillRefusal> {
        match self.run_state() {
            IDLE => return Err(KillRefusal::NotBusy),
            WROTE => return Err(KillRefusal::Unkillable),
            _ => {}
        }
        let runs_function = self.running.lock().as_ref().is_some_and(|r| r.function);
        if runs_function != function {
            return Err(KillRefusal::OtherKind);
        }
        match self.kill() {
            // Already being killed (or stopped by shutdown): Redis answers OK again.
            Ok(()) | Err(KILLED | ABORTED) => Ok(()),
            Err(WROTE) => Err(KillRefusal::Unkillable),
            Err(_) => Err(KillRefusal::NotBusy),
        }
    }

    /// What runs now, if anything (FUNCTION STATS).
    pub fn running(&self) -> Option<RunInfo> {
        self.running.lock().clone()
    }

    /// Redis's BUSY words for what runs now: a function names FUNCTION KILL, a script
    /// SCRIPT KILL.
    pub fn busy_message(&self) -> &'static str {
        if self.running.lock().as_ref().is_some_and(|r| r.function) {
            BUSY_FUNCTION_MSG
        } else {
            crate::BUSY_MSG
        }
    }

    /// Shutdown: stop the running script, if any, even one that has written (SCRIPT KILL
    /// would refuse it). Returns whether a script was running.
    /// The state stays ABORTED: no script starts after shutdown began.
    pub fn abort_for_shutdown(&self) -> bool {
        matches!(
            self.run_state.swap(ABORTED, Ordering::AcqRel),
            RUNNING | WROTE | KILLED
        )
    }

    #[cfg(test)]
    pub fn set_state_for_tests(&self, s: u8) {
        self.run_state.store(s, Ordering::Release);
    }

    /// SCRIPT FLUSH: drop every cached script and the Lua state itself (a fresh one is made
    /// on next use, as Redis does).
    pub fn flush(&self) {
        *self.lua.lock() = None;
    }

    /// SCRIPT EXISTS for one lowercase SHA1.
    pub fn exists(&self, sha: &str) -> bool {
        self.lua
            .lock()
            .as_ref()
            .is_some_and(|s| s.scripts.contains_key(sha))
    }

    /// SCRIPT LOAD / EVAL: compile `body` if not cached; returns its SHA1.
    pub fn load(&self, body: &[u8]) -> Result<String, ScriptError> {
        let mut guard = self.lua.lock();
        let st = self.state(&mut guard)?;
        let sha = sha1_hex(body);
        st.compile(&sha, body)?;
        Ok(sha)
    }

    fn state<'g>(&self, slot: &'g mut Option<LuaState>) -> Result<&'g mut LuaState, ScriptError> {
        if slot.is_none() {
            let st = LuaState::new(self.run_state.clone())
                .map_err(|e| ScriptError::Compile(format!("ERR cannot create Lua state: {e}")))?;
            *slot = Some(st);
        }
        Ok(slot.as_mut().expect("just created"))
    }

    /// Run a cached script (`sha`, lowercase) or, with `body`, compile and cache it first.
    /// Writes the script's reply (or its error) to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        srv: &ServerState,
        caller: &Session,
        out: &mut Reply<'_>,
        sha: &str,
        body: Option<&[u8]>,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
    ) -> Result<(), ScriptError> {
        let mut guard = self.lua.lock();
        let st = self.state(&mut guard)?;
        let f = match (st.scripts.get(sha), body) {
            (Some(f), _) => f.clone(),
            (None, Some(b)) => st.compile(sha, b)?,
            (None, None) => return Err(ScriptError::NoScript),
        };
        let inv = Invocation {
            name: sha,
            read_only,
            allow_oom: false,
            function: false,
            command: Vec::new(),
        };
        self.run_in(srv, caller, out, &st.lua, &st.runner, f, keys, argv, inv)
    }

    /// Run `f` through `runner` (sandbox.lua's `run`, or its `run_function` in the function
    /// libraries' state; `lua` is the state both belong to) with `redis.call` bound to the
    /// caller's server. Writes the reply (or the error) to `out`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_in(
        &self,
        srv: &ServerState,
        caller: &Session,
        out: &mut Reply<'_>,
        lua: &Lua,
        runner: &Function,
        f: Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
        inv: Invocation<'_>,
    ) -> Result<(), ScriptError> {
        // A session for the script's commands: the caller's database (a SELECT inside the
        // script does not leak out, as in Redis 7) and RESP2 until `redis.setresp(3)`.
        let mut sess = Session::new(caller.handle.clone(), true);
        // MONITOR shows its commands as `lua`; tracking reads them for the caller.
        sess.in_script = true;
        sess.db = caller.db;
        sess.no_touch = caller.no_touch;
        // The caller's ACL user: each `redis.call` is checked against it (`prepare`).
        sess.acl = caller.acl.clone();
        sess.acl.trusted |= caller.bus.is_some();
        sess.acl.script = Some(match (inv.function, inv.read_only) {
            (true, false) => "fcall",
            (true, true) => "fcall_ro",
            (false, false) => "eval",
            (false, true) => "eval_ro",
        });
        // Blocking commands answer at once inside a script; waiters are served when the
        // script's own command (EVAL…) ends.
        sess.deny_blocking = true;
        // `allow-oom`: its write commands skip the memory check (`execute_in`).
        sess.allow_oom = inv.allow_oom;
        let mut call = ScriptCall {
            srv,
            sess,
            read_only: inv.read_only,
            run_state: &self.run_state,
            buf: Vec::new(),
        };
        *self.running.lock() = Some(RunInfo {
            function: inv.function,
            name: inv.name.to_string(),
            command: inv.command,
            started: std::time::Instant::now(),
        });
        // IDLE → RUNNING; a shutdown in progress (ABORTED, sticky) runs nothing more.
        if self.run_state.swap(RUNNING, Ordering::AcqRel) == ABORTED {
            self.run_state.store(ABORTED, Ordering::Release);
            *self.running.lock() = None;
            return Err(ScriptError::Compile(ABORTED_MSG.into()));
        }
        srv.gate.mark_script_start();
        let res = lua.scope(|scope| {
            let call_fn =
                scope.create_function_mut(|lua, args: Variadic<Value>| call.call(lua, args))?;
            let k = string_table(lua, keys)?;
            let a = string_table(lua, argv)?;
            let (ok, v): (bool, Value) = runner.call((f, call_fn, k, a))?;
            let mark = out.len();
            if ok {
                if let Err(e) = lua_to_reply(out, &v) {
                    out.truncate(mark);
                    out.error(&format!("ERR Error running script: {e}"));
                }
            } else {
                self.write_error(out, inv.name, &v)?;
            }
            Ok(())
        });
        srv.gate.mark_script_end();
        // Back to IDLE, unless shutdown began meanwhile (ABORTED stays, see above).
        let _ = self
            .run_state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s != ABORTED).then_some(IDLE)
            });
        *self.running.lock() = None;
        if let Err(e) = res {
            out.error(&format!("ERR Error running script: {e}"));
        }
        Ok(())
    }

    /// Redis's words for a failed script: the error, then where in the script it happened.
    fn write_error(&self, out: &mut Reply<'_>, sha: &str, info: &Value) -> mlua::Result<()> {
        let text = |v: Option<mlua::String>| {
            v.map(|s| String::from_utf8_lossy(&s.as_bytes()).into_owned())
        };
        let (mut msg, source, line) = match info {
            Value::Table(t) => (
                text(t.raw_get("err")?).unwrap_or_else(|| "ERR unknown error".into()),
                text(t.raw_get("source")?),
                t.raw_get::<Option<i64>>("line")?,
            ),
            _ => ("ERR unknown error".into(), None, None),
        };
        if let Some(why) = stop_reason(self.run_state.load(Ordering::Acquire)) {
            msg = why.into();
        }
        if let (Some(source), Some(line)) = (source, line) {
            msg.push_str(&format!(" script: {sha}, on {source}:{line}."));
        }
        out.error(&msg);
        Ok(())
    }
}

fn string_table(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, s) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(s)?)?;
    }
    Ok(t)
}

/// Lowercase hex SHA1, as EVALSHA and `redis.sha1hex` use.
pub fn sha1_hex(b: &[u8]) -> String {
    sha1_smol::Sha1::from(b).digest().to_string()
}

/// A Lua state with sandbox.lua run in it.
pub(super) struct Sandbox {
    pub lua: Lua,
    /// `run(f, call, KEYS, ARGV) → ok, result` (EVAL).
    pub runner: Function,
    /// The scripts' read-only global environment.
    pub env: Table,
    /// What functions.lua builds on (`run_function`, the environment's switch…).
    pub internals: Table,
}

impl Sandbox {
    /// A fresh Lua state with Redis's sandbox. `stop` is asked every `HOOK_EVERY`
    /// instructions whether the running code must stop, and with which error.
    pub(super) fn new(
        stop: impl Fn() -> Option<&'static str> + Send + Sync + 'static,
    ) -> mlua::Result<Sandbox> {
        // Base, table, string, math and (for the error handler only; removed from the
        // globals by the sandbox) debug. No io, os or package.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is needed by the sandbox's error handler, which keeps a
        // private reference to `debug.getinfo` and removes `debug` from the globals scripts see.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        let sha1 = lua.create_function(|lua, v: Value| {
            let s = lua
                .coerce_string(v)?
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default();
            Ok(sha1_hex(&s))
        })?;
        let log = lua.create_function(|_, (level, msg): (i64, mlua::String)| {
            let msg = String::from_utf8_lossy(&msg.as_bytes()).into_owned();
            match level {
                0 => tracing::debug!(target: "rcache::script", "{msg}"),
                1 => tracing::trace!(target: "rcache::script", "{msg}"),
                2 => tracing::info!(target: "rcache::script", "{msg}"),
                _ => tracing::warn!(target: "rcache::script", "{msg}"),
            }
            Ok(())
        })?;
        // SAFETY: `as_c` only uses the Lua C API on the state it is given.
        let as_c = unsafe { lua.create_c_function(as_c) }?;
        let (runner, env, internals): (Function, Table, Table) = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=rcache_lib")
            .call((
                sha1,
                log,
                crate::connection::REDIS_VERSION,
                redis_version_num(),
                as_c,
                super::libs::raw_libraries(&lua)?,
            ))?;
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| match stop() {
                Some(why) => Err(mlua::Error::runtime(why)),
                None => Ok(VmState::Continue),
            },
        )?;
        Ok(Sandbox {
            lua,
            runner,
            env,
            internals,
        })
    }
}

impl LuaState {
    fn new(run_state: Arc<AtomicU8>) -> mlua::Result<LuaState> {
        let sb = Sandbox::new(move || stop_reason(run_state.load(Ordering::Acquire)))?;
        Ok(LuaState {
            lua: sb.lua,
            runner: sb.runner,
            env: sb.env,
            scripts: HashMap::new(),
        })
    }

    /// Compile `body` as the script `sha` (cached), in the sandbox's environment.
    fn compile(&mut self, sha: &str, body: &[u8]) -> Result<Function, ScriptError> {
        if let Some(f) = self.scripts.get(sha) {
            return Ok(f.clone());
        }
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                ScriptError::Compile(format!("ERR Error compiling script (new function): {msg}"))
            })?;
        self.scripts.insert(sha.to_string(), f.clone());
        Ok(f)
    }
}

/// `as_c(f)` for the sandbox: `f` behind a C closure (see sandbox.lua for why).
unsafe extern "C-unwind" fn as_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
    ffi::lua_settop(l, 1);
    ffi::lua_pushcclosure(l, c_trampoline, 1);
    1
}

/// Call the closure's upvalue with every argument, returning all its results. Errors raised
/// inside propagate through this frame, which owns nothing.
unsafe extern "C-unwind" fn c_trampoline(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

/// `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::connection::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

/// What `redis.call`/`redis.pcall` work with during one script run.
struct ScriptCall<'a> {
    srv: &'a ServerState,
    sess: Session,
    read_only: bool,
    run_state: &'a AtomicU8,
    buf: Vec<u8>,
}

impl ScriptCall<'_> {
    /// Run one command for the script: `(reply as Lua value, whether it is an error)`.
    /// Errors are returned as `{err=…}` tables; `redis.call` raises them, `redis.pcall`
    /// returns them.
    fn call(&mut self, lua: &Lua, mut args: Variadic<Value>) -> mlua::Result<(Value, bool)> {
        // A killed script stops at its next command, even one inside a pcall.
        if let Some(why) = stop_reason(self.run_state.load(Ordering::Acquire)) {
            return Err(mlua::Error::runtime(why));
        }
        let resp = match args.first() {
            Some(Value::Integer(3)) => true,
            Some(Value::Number(n)) => *n == 3.0,
            // `raw_call('acl', …)`: redis.acl_check_cmd (sandbox.lua).
            Some(Value::String(s)) if s.as_bytes() == b"acl" => {
                args.remove(0);
                return self.acl_check(lua, &args);
            }
            _ => false,
        };
        if !args.is_empty() {
            args.remove(0);
        }
        match self.prepare(lua, &args) {
            Ok(owned) => {
                self.sess.resp3 = resp;
                self.buf.clear();
                execute_in(self.srv, &mut self.sess, owned.args(), &mut self.buf, true);
                let (v, _) = protocol::parse_reply(&self.buf)
                    .map_err(|e| mlua::Error::runtime(format!("bad reply: {e:?}")))?;
                let failed = matches!(v, protocol::RespValue::Error(_));
                Ok((reply_to_lua(lua, &v)?, failed))
            }
            // Killed (or aborted) between the check above and its first write.
            Err(msg @ (KILLED_MSG | ABORTED_MSG)) => Err(mlua::Error::runtime(msg)),
            Err(msg) => {
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("err", msg)?;
                Ok((Value::Table(t), true))
            }
        }
    }

    /// `redis.acl_check_cmd(…)`: `(true|false, false)`, or an error table (raised by the
    /// caller, as Redis raises it) when there are no arguments, a bad one, or no such command.
    fn acl_check(&self, lua: &Lua, args: &[Value]) -> mlua::Result<(Value, bool)> {
        let err = |msg: &str| -> mlua::Result<(Value, bool)> {
            let t = lua.create_table_with_capacity(0, 1)?;
            t.raw_set("err", msg)?;
            Ok((Value::Table(t), true))
        };
        let argv = match lua_args(lua, args) {
            Ok(a) => a,
            Err(msg) => return err(msg),
        };
        let owned = OwnedArgs::new(argv);
        match crate::acl::script_may_run(self.srv, &self.sess, owned.args()) {
            Some(ok) => Ok((Value::Boolean(ok), false)),
            None => err("ERR Invalid command passed to redis.acl_check_cmd()"),
        }
    }

    /// Check a command the way Redis's scriptCall does, in its order.
    fn prepare(&self, lua: &Lua, args: &[Value]) -> Result<OwnedArgs, &'static str> {
        let argv = lua_args(lua, args)?;
        let Some(mut spec) = self.srv.table.lookup(&argv[0]) else {
            return Err("ERR Unknown Redis command called from script");
        };
        if !spec.subcommands.is_empty() && argv.len() > 1 {
            match find_sub(spec, &argv[1]) {
                Some(sub) => spec = sub,
                None => return Err("ERR Unknown Redis command called from script"),
            }
        }
        if !spec.arity_ok(argv.len()) {
            return Err("ERR Wrong number of args calling Redis command from script");
        }
        // EXCLUSIVE commands (EXEC, EVAL…) would take the gate the script already holds.
        if spec.has(flags::NOSCRIPT) || spec.has(flags::EXCLUSIVE) {
            return Err("ERR This Redis command is not allowed from script");
        }
        // The ACL rules of the user running the script, before the write checks (Redis).
        let owned = OwnedArgs::new(argv);
        crate::acl::check_script(self.srv, &self.sess, spec, owned.args())?;
        let argv = owned;
        if spec.has(flags::WRITE) {
            if self.read_only {
                return Err("ERR Write commands are not allowed from read-only scripts.");
            }
            // From the first write on, SCRIPT KILL can no longer stop the script.
            match self.run_state.compare_exchange(
                RUNNING,
                WROTE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) | Err(WROTE) => {}
                Err(s) => return Err(stop_reason(s).unwrap_or(KILLED_MSG)),
            }
        }
        Ok(argv)
    }
}

const ARG_TYPE: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// A redis lib call's arguments as bytes (Redis's luaArgsToRedisArgv): at least one, each a
/// string or a number.
fn lua_args(lua: &Lua, args: &[Value]) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for a in args {
        let s = match a {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Number(_) | Value::Integer(_) => match lua.coerce_string(a.clone()) {
                Ok(Some(s)) => s.as_bytes().to_vec(),
                _ => return Err(ARG_TYPE),
            },
            _ => return Err(ARG_TYPE),
        };
        argv.push(s);
    }
    Ok(argv)
}

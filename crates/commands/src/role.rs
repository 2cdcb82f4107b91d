//! ROLE: what a standalone Redis 7 master answers, `["master", 0, []]` (replication offset
//! 0, no replicas). rcache has no replication; a cluster node is a master of its slots and
//! has no replicas either, so every node answers the same.

use crate::error::CmdResult;
use crate::table::{flags::*, CommandSpec};
use crate::{cmd, Ctx};
use protocol::Args;

pub const COMMANDS: &[CommandSpec] = &[cmd!(
    "role",
    1,
    NOSCRIPT | LOADING | STALE | FAST,
    0,
    0,
    0,
    role,
    "server",
    "2.8.12",
    "Returns the replication role.",
    ""
)];

/// ROLE
fn role(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.array_len(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array_len(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestCtx;

    #[test]
    fn standalone_master() {
        let t = TestCtx::new();
        assert_eq!(t.run(&["ROLE"]), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
        assert_eq!(
            t.run(&["ROLE", "x"]),
            "-ERR wrong number of arguments for 'role' command\r\n"
        );
        t.resp3();
        assert_eq!(t.run(&["role"]), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    }
}

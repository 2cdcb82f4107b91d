//! Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, EXPIRE and TTL families…

use crate::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];

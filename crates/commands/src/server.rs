//! Server commands: INFO, CONFIG, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, SHUTDOWN, MEMORY,
//! OBJECT.

use crate::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];

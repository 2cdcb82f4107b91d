//! Bit commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD.

use crate::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];

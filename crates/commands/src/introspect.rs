//! COMMAND (COUNT, INFO, DOCS, LIST, GETKEYS): the table described to clients.

use crate::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];

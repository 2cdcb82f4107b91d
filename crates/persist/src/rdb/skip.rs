//! What is parsed only to be stepped over: module values and module aux data, and function
//! libraries in the Redis 7.0 release-candidate format (0xF6; the released format, 0xF5, is
//! loaded: see `read_rdb`). Streams used to be skipped here; they are decoded in stream.rs.
//! Each is read exactly as far as its format says it goes — never guessed — so the next key
//! starts where it should and the CRC sees every byte.

use std::io::Read;

use super::input::Input;
use super::RdbError;

/// Module value items (`RDB_MODULE_OPCODE_*`): in the `MODULE_2` format every item a module
/// saves is preceded by one of these, which is what makes the value skippable.
const MODULE_EOF: u64 = 0;
const MODULE_SINT: u64 = 1;
const MODULE_UINT: u64 = 2;
const MODULE_FLOAT: u64 = 3;
const MODULE_DOUBLE: u64 = 4;
const MODULE_STRING: u64 = 5;

/// Module type ids pack a 9-character name (6 bits a character, this alphabet) above a
/// 10-bit encoding version.
const MODULE_NAME_CHARSET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const MODULE_VERSION_BITS: u32 = 10;

/// Library names longer than this are cut in reports.
const NAME_KEEP: usize = 128;

/// A module type's name from its 64-bit id (Redis's `moduleTypeNameByID`).
pub(super) fn module_name(id: u64) -> String {
    let mut id = id >> MODULE_VERSION_BITS;
    let mut name = [0u8; 9];
    for c in name.iter_mut().rev() {
        *c = MODULE_NAME_CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// A `MODULE_2` value (after the key): the module id, then tagged items up to `MODULE_EOF`.
/// Returns the module type's name.
pub(super) fn module_value<R: Read>(inp: &mut Input<R>) -> Result<String, RdbError> {
    let id = inp.len("a module type id")?;
    module_items(inp)?;
    Ok(module_name(id))
}

/// MODULE_AUX (after the opcode): module id, `when` (tagged as an unsigned int), then the
/// module's tagged items. Returns the module type's name.
pub(super) fn module_aux<R: Read>(inp: &mut Input<R>) -> Result<String, RdbError> {
    let id = inp.len("a module type id")?;
    let at = inp.pos();
    let when_opcode = inp.len("the module aux 'when' tag")?;
    if when_opcode != MODULE_UINT {
        return Err(RdbError::new(
            at,
            format!("expected the module aux 'when' tag {MODULE_UINT} (unsigned int), found {when_opcode}"),
        ));
    }
    inp.len("the module aux 'when'")?;
    module_items(inp)?;
    Ok(module_name(id))
}

fn module_items<R: Read>(inp: &mut Input<R>) -> Result<(), RdbError> {
    loop {
        let at = inp.pos();
        match inp.len("a module item tag")? {
            MODULE_EOF => return Ok(()),
            MODULE_SINT | MODULE_UINT => {
                inp.len("a module integer")?;
            }
            MODULE_FLOAT => inp.skip(4, "a module float")?,
            MODULE_DOUBLE => inp.skip(8, "a module double")?,
            MODULE_STRING => {
                inp.skip_string("a module string")?;
            }
            other => {
                return Err(RdbError::new(
                    at,
                    format!("expected a module item tag 0..=5, found {other}"),
                ))
            }
        }
    }
}

/// FUNCTION (Redis 7.0 release candidates): name, engine, optional description, code.
pub(super) fn function_pre_ga<R: Read>(inp: &mut Input<R>) -> Result<Vec<u8>, RdbError> {
    let name = inp.string_prefix(NAME_KEEP, "a function library's name")?;
    inp.skip_string("a function library's engine")?;
    if inp.len("a function library's has-description flag")? != 0 {
        inp.skip_string("a function library's description")?;
    }
    inp.skip_string("a function library's code")?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        // Build an id the way Redis does: 9 characters, 6 bits each, then the version.
        let id = b"ReJSON-RL".iter().fold(0u64, |acc, &c| {
            acc << 6 | MODULE_NAME_CHARSET.iter().position(|&x| x == c).unwrap() as u64
        }) << MODULE_VERSION_BITS
            | 3;
        assert_eq!(module_name(id), "ReJSON-RL");
    }
}

//! What is parsed only to be stepped over: streams, module values and module aux data,
//! function libraries. Each is read exactly as far as its format says it goes — never
//! guessed — so the next key starts where it should and the CRC sees every byte.

use std::io::Read;

use super::input::Input;
use super::{ty, RdbError};

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

/// A stream ID: two big-endian u64 (ms, seq).
const STREAM_ID_SIZE: u64 = 16;
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

/// A stream value of type 15, 19 or 21 (after the key), as Redis writes it:
///
/// ```text
/// <len nodes> (<string: 16-byte master ID> <string: listpack>)*
/// <len length> <len last-id ms> <len last-id seq>
/// [19+: <len first-id ms> <len seq> <len max-deleted ms> <len seq> <len entries-added>]
/// <len groups> ( <string name> <len last-id ms> <len seq> [19+: <len entries-read>]
///     <len pending> (<16-byte raw ID> <u64 LE delivery ms> <len delivery count>)*
///     <len consumers> ( <string name> <u64 LE seen ms> [21: <u64 LE active ms>]
///         <len pending> (<16-byte raw ID>)* )* )*
/// ```
pub(super) fn stream<R: Read>(inp: &mut Input<R>, t: u8) -> Result<(), RdbError> {
    let v2 = t >= ty::STREAM_LISTPACKS_2;
    let v3 = t >= ty::STREAM_LISTPACKS_3;
    let nodes = inp.len("a stream's listpack count")?;
    for _ in 0..nodes {
        let at = inp.pos();
        let id_len = inp.skip_string("a stream node's master ID")?;
        if id_len != STREAM_ID_SIZE {
            return Err(RdbError::new(
                at,
                format!("expected a {STREAM_ID_SIZE}-byte stream node ID, found {id_len} bytes"),
            ));
        }
        inp.skip_string("a stream node's listpack")?;
    }
    inp.len("a stream's length")?;
    inp.len("a stream's last ID (ms)")?;
    inp.len("a stream's last ID (seq)")?;
    if v2 {
        inp.len("a stream's first ID (ms)")?;
        inp.len("a stream's first ID (seq)")?;
        inp.len("a stream's max deleted ID (ms)")?;
        inp.len("a stream's max deleted ID (seq)")?;
        inp.len("a stream's entries-added count")?;
    }
    let groups = inp.len("a stream's consumer group count")?;
    for _ in 0..groups {
        inp.skip_string("a consumer group name")?;
        inp.len("a consumer group's last ID (ms)")?;
        inp.len("a consumer group's last ID (seq)")?;
        if v2 {
            inp.len("a consumer group's entries-read count")?;
        }
        let pending = inp.len("a consumer group's pending count")?;
        for _ in 0..pending {
            inp.skip(STREAM_ID_SIZE, "a pending entry's ID")?;
            inp.skip(8, "a pending entry's delivery time")?;
            inp.len("a pending entry's delivery count")?;
        }
        let consumers = inp.len("a consumer group's consumer count")?;
        for _ in 0..consumers {
            inp.skip_string("a consumer name")?;
            inp.skip(8, "a consumer's seen time")?;
            if v3 {
                inp.skip(8, "a consumer's active time")?;
            }
            let pending = inp.len("a consumer's pending count")?;
            for _ in 0..pending {
                inp.skip(STREAM_ID_SIZE, "a consumer's pending entry ID")?;
            }
        }
    }
    Ok(())
}

/// FUNCTION2 (after the opcode): one string, the library's code, which starts with
/// `#!<engine> name=<library>`. Returns the library's name.
pub(super) fn function2<R: Read>(inp: &mut Input<R>) -> Result<Vec<u8>, RdbError> {
    let code = inp.string("a function library's code")?;
    Ok(library_name(&code))
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

/// The `name=` of a library's shebang line, or the line itself when there is none.
fn library_name(code: &[u8]) -> Vec<u8> {
    let line = code.split(|&c| c == b'\n').next().unwrap_or_default();
    let name = line
        .split(|c| c.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(b"name="))
        .unwrap_or(line);
    name[..name.len().min(NAME_KEEP)].to_vec()
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

    #[test]
    fn library_names() {
        assert_eq!(
            library_name(b"#!lua name=mylib\nredis.register_function()"),
            b"mylib"
        );
        assert_eq!(library_name(b"#!lua"), b"#!lua");
        assert_eq!(library_name(b""), b"");
    }
}

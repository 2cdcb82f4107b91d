//! Reads the hex examples out of `docs/PROTOCOL.md`: fenced blocks tagged `hex <name>`,
//! hex bytes with `#` comments. Shared by the codec's golden test
//! (`crates/protocol/tests/protocol_doc.rs`) and the live server's
//! (`crates/rcache/tests/binary_door.rs`).

use std::collections::BTreeMap;

/// `docs/PROTOCOL.md`, from the repository root.
pub fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/PROTOCOL.md")
}

/// Every example in the document: name → bytes. Panics on a malformed block or a name
/// used twice, so a typo in the document fails the tests.
pub fn examples() -> BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(doc_path()).expect("read docs/PROTOCOL.md");
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Vec<u8>)> = None;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        match &mut current {
            None => {
                if let Some(rest) = line.trim().strip_prefix("```hex") {
                    let name = rest.trim();
                    assert!(
                        !name.is_empty(),
                        "PROTOCOL.md:{n}: a hex block without a name"
                    );
                    current = Some((name.to_string(), Vec::new()));
                }
            }
            Some((name, bytes)) => {
                if line.trim() == "```" {
                    let (name, bytes) = current.take().unwrap();
                    assert!(
                        out.insert(name.clone(), bytes).is_none(),
                        "PROTOCOL.md:{n}: example {name} appears twice"
                    );
                    continue;
                }
                let data = line.split('#').next().unwrap_or("");
                for tok in data.split_whitespace() {
                    assert!(
                        tok.len() == 2,
                        "PROTOCOL.md:{n}: in {name}: {tok:?} is not one hex byte"
                    );
                    let b = u8::from_str_radix(tok, 16).unwrap_or_else(|_| {
                        panic!("PROTOCOL.md:{n}: in {name}: {tok:?} is not hex")
                    });
                    bytes.push(b);
                }
            }
        }
    }
    assert!(current.is_none(), "PROTOCOL.md: an unterminated hex block");
    out
}

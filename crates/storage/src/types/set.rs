//! Set values: the compact (inline blob) and large (boxed) encodings. PLACEHOLDER: the
//! set family's owner replaces this skeleton.

/// The large encoding of a set.
#[derive(Clone, Debug, Default)]
pub struct SetObj {
    mem: usize,
    len: usize,
}

impl SetObj {
    /// Heap bytes held, maintained incrementally.
    pub fn mem_usage(&self) -> usize {
        self.mem
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// OBJECT ENCODING of a compact set blob ("intset" when every member is an integer, as Redis).
pub fn compact_encoding_name(_blob: &[u8]) -> &'static str {
    "listpack"
}

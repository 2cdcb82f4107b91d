//! Hash values: the compact (inline blob) and large (boxed) encodings. PLACEHOLDER: the
//! hash family's owner replaces this skeleton.

/// The large encoding of a hash.
#[derive(Clone, Debug, Default)]
pub struct HashObj {
    mem: usize,
    len: usize,
}

impl HashObj {
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

//! ZSet values: the compact (inline blob) and large (boxed) encodings. PLACEHOLDER: the
//! zset family's owner replaces this skeleton.

/// The large encoding of a zset.
#[derive(Clone, Debug, Default)]
pub struct ZSetObj {
    mem: usize,
    len: usize,
}

impl ZSetObj {
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

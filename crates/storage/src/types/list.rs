//! List values: the compact (inline blob) and large (boxed) encodings. PLACEHOLDER: the
//! list family's owner replaces this skeleton.

/// The large encoding of a list.
#[derive(Clone, Debug, Default)]
pub struct ListObj {
    mem: usize,
    len: usize,
}

impl ListObj {
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

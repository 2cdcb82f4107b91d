//! `Args`: a command's arguments as borrowed slices of the read buffer (no copy, no allocation).

use std::ops::Range;

/// The arguments of one command: ranges into a base buffer (the connection's read buffer for
/// multibulk requests, the parser's scratch buffer for inline ones).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    base: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    pub fn new(base: &'a [u8], ranges: &'a [Range<usize>]) -> Self {
        Args { base, ranges }
    }

    /// Number of arguments, the command name included.
    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i` (0 is the command name). Panics when out of range: handlers check arity
    /// first (the dispatcher enforces the table's arity).
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.base[self.ranges[i].clone()]
    }

    /// Argument `i`, or `None` past the end.
    #[inline]
    pub fn try_get(&self, i: usize) -> Option<&'a [u8]> {
        self.ranges.get(i).map(|r| &self.base[r.clone()])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let base = self.base;
        self.ranges.iter().map(move |r| &base[r.clone()])
    }

    /// The arguments from index `from` on, as a new `Args` (e.g. a subcommand's view).
    pub fn skip(&self, from: usize) -> Args<'a> {
        Args {
            base: self.base,
            ranges: &self.ranges[from.min(self.ranges.len())..],
        }
    }

    /// Total payload bytes of all arguments (for CLIENT LIST's argv-mem).
    pub fn byte_len(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }
}

/// Owned arguments, for tests and in-process callers (`run(&["SET","k","v"])`).
pub struct OwnedArgs {
    buf: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl OwnedArgs {
    pub fn new<I, T>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        for it in items {
            let s = buf.len();
            buf.extend_from_slice(it.as_ref());
            ranges.push(s..buf.len());
        }
        OwnedArgs { buf, ranges }
    }

    pub fn args(&self) -> Args<'_> {
        Args::new(&self.buf, &self.ranges)
    }
}

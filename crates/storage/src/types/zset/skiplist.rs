//! The large sorted-set encoding (`ZSetObj`, Redis's skiplist encoding): an indexable skip
//! list with spans, as Redis's `zskiplist`, giving O(log n) insert, delete, rank,
//! element-by-rank and lower bound by score or by member (lex); plus a member → node index
//! for O(1) ZSCORE.
//!
//! **Layout.** The nodes live in an arena (`Vec<Node>` addressed by `u32`, freed slots
//! reused), so there is no `unsafe` and no pointer chasing through separate boxes. A node is
//! one 64-byte, cache-line-aligned slot holding everything a search step reads: the score,
//! the forward links (and spans) of levels 0–2 inline, and a member of up to 22 bytes inline
//! (a longer one is boxed). So a step of a search costs one cache line, where a node with
//! its level array in a separate allocation costs two (and a boxed member a third on a
//! score tie or a hash probe). Levels 3 and up — one node in 16 has any, as Redis draws
//! levels with p = 1/4 — are a contiguous run in one shared `Vec<Level>` (`upper`), reused
//! through per-length free lists. Level 0's span is not stored: it is 1, or 0 on the last
//! node (a level-0 link always jumps one step).
//!
//! The index is a `hashbrown::HashTable<u32>` of node numbers hashed by the node's member,
//! so each member's bytes are stored once. ZADD of a new member probes it once (the entry
//! API: the node's number is known before it is linked); a score change relinks the same
//! node (its member is neither copied nor rehashed, its slot unchanged).
//!
//! **Fingers.** `count_while` remembers the (rank, node) it ended at, two deep, so the walk
//! that follows a range's bounds (`for_range` after `score_range`/`lex_range`, forward or
//! backward) starts there instead of searching for its first rank again. Any change clears
//! them (it takes `&mut self`).
//!
//! A skip list rather than a balanced tree: Redis's choice, with the same span arithmetic
//! for ranks, and simpler rebalancing (none).

use super::before;
use crate::entry::alloc_class;
use hashbrown::hash_table::Entry as Slot;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
const MAX_LEVEL: usize = 32;
/// Levels held in the node itself (0, 1, 2); the rest go to `ZSetObj::upper`.
const INLINE_LEVELS: usize = 3;
/// Longest member kept inside the node.
const INLINE_MEMBER: usize = 22;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Level {
    fwd: u32,
    /// Number of level-0 steps this link jumps over (Redis's span).
    span: u32,
}

const UNLINKED: Level = Level { fwd: NIL, span: 0 };

/// A member's bytes: inline up to `INLINE_MEMBER` bytes (24 bytes in all), else boxed.
#[derive(Clone, Debug)]
enum Member {
    Inline { len: u8, buf: [u8; INLINE_MEMBER] },
    Heap(Box<[u8]>),
}

impl Member {
    const EMPTY: Member = Member::Inline {
        len: 0,
        buf: [0; INLINE_MEMBER],
    };

    fn new(m: &[u8]) -> Member {
        if m.len() <= INLINE_MEMBER {
            let mut buf = [0u8; INLINE_MEMBER];
            buf[..m.len()].copy_from_slice(m);
            Member::Inline {
                len: m.len() as u8,
                buf,
            }
        } else {
            Member::Heap(m.into())
        }
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Member::Inline { len, buf } => &buf[..*len as usize],
            Member::Heap(b) => b,
        }
    }

    /// Heap bytes of its own allocation.
    fn heap(&self) -> usize {
        match self {
            Member::Inline { .. } => 0,
            Member::Heap(b) => alloc_class(b.len()),
        }
    }
}

/// One skip-list node: a cache line. See the module doc.
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Node {
    score: f64,
    /// Level 0's forward link (its span is implied: 1, or 0 at the end).
    fwd0: u32,
    /// Levels 1 and 2 (unused above `height`).
    lv: [Level; 2],
    back: u32,
    /// Where this node's levels 3.. start in `ZSetObj::upper` (when `height` > 3).
    upper: u32,
    /// Number of levels, 1..=32; 0 marks a free slot.
    height: u8,
    member: Member,
}

const _: () = assert!(std::mem::size_of::<Node>() == 64);

impl Node {
    fn free() -> Node {
        Node {
            score: 0.0,
            fwd0: NIL,
            lv: [UNLINKED; 2],
            back: NIL,
            upper: 0,
            height: 0,
            member: Member::EMPTY,
        }
    }
}

/// Remembered (rank, node) pairs from `count_while`, newest first; `EMPTY` when unset.
/// Atomics (relaxed) rather than `Cell`s so a set stays `Sync`; only `&mut` methods change
/// the list, and they clear these.
#[derive(Debug, Default)]
struct Fingers([AtomicU64; 2]);

impl Fingers {
    const EMPTY: u64 = u64::MAX;

    fn new() -> Fingers {
        Fingers([AtomicU64::new(Self::EMPTY), AtomicU64::new(Self::EMPTY)])
    }
    fn clear(&mut self) {
        for f in &mut self.0 {
            *f.get_mut() = Self::EMPTY;
        }
    }
    fn put(&self, rank: usize, node: u32) {
        let v = (rank as u64) << 32 | node as u64;
        let prev = self.0[0].swap(v, Ordering::Relaxed);
        if prev != v {
            self.0[1].store(prev, Ordering::Relaxed);
        }
    }
    fn get(&self, i: usize) -> Option<(usize, u32)> {
        let v = self.0[i].load(Ordering::Relaxed);
        (v != Self::EMPTY).then_some(((v >> 32) as usize, v as u32))
    }
}

impl Clone for Fingers {
    fn clone(&self) -> Fingers {
        // A clone has the same arena, so the same (rank, node) pairs hold in it.
        let f = Fingers::new();
        for i in 0..2 {
            f.0[i].store(self.0[i].load(Ordering::Relaxed), Ordering::Relaxed);
        }
        f
    }
}

/// The large encoding of a sorted set. See the module doc.
#[derive(Clone, Debug)]
pub struct ZSetObj {
    nodes: Vec<Node>,
    /// Free arena slots.
    free: Vec<u32>,
    /// Levels 3.. of the nodes that have them, each node's run contiguous.
    upper: Vec<Level>,
    /// `upper_free[k]`: starts of free runs of `k + 1` levels.
    upper_free: Vec<Vec<u32>>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    tail: u32,
    /// Levels in use (Redis's `zsl->level`).
    levels: usize,
    len: usize,
    /// Heap bytes of the members' own allocations (the boxed ones).
    member_heap: usize,
    rng: u64,
    fingers: Fingers,
}

impl Default for ZSetObj {
    fn default() -> Self {
        ZSetObj::new()
    }
}

impl ZSetObj {
    pub fn new() -> ZSetObj {
        let mut head = Node::free();
        head.height = MAX_LEVEL as u8;
        head.upper = 0;
        ZSetObj {
            nodes: vec![head],
            free: Vec::new(),
            upper: vec![UNLINKED; MAX_LEVEL - INLINE_LEVELS],
            upper_free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            tail: NIL,
            levels: 1,
            len: 0,
            member_heap: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            fingers: Fingers::new(),
        }
    }

    /// Heap bytes held: arena, level runs, free lists and index capacity plus the boxed
    /// members. O(1): capacities are read (the run free lists are at most 29), members are
    /// summed as they change.
    pub fn mem_usage(&self) -> usize {
        let arena = self.nodes.capacity() * std::mem::size_of::<Node>();
        let upper = self.upper.capacity() * std::mem::size_of::<Level>();
        let free = self.free.capacity() * 4
            + self.upper_free.capacity() * std::mem::size_of::<Vec<u32>>()
            + self
                .upper_free
                .iter()
                .map(|v| v.capacity() * 4)
                .sum::<usize>();
        // hashbrown: one u32 slot and one control byte per bucket.
        let index = self.index.capacity() * 5 + if self.index.capacity() > 0 { 16 } else { 0 };
        arena + upper + free + index + self.member_heap
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hasher.hash_one(member);
        let nodes = &self.nodes;
        self.index
            .find(h, |&i| nodes[i as usize].member.bytes() == member)
            .copied()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.nodes[i as usize].score)
    }

    // ---------------------------------------------------------------- levels

    /// Level `i` of node `x` (which has more than `i` levels).
    #[inline]
    fn level(&self, x: u32, i: usize) -> Level {
        let n = &self.nodes[x as usize];
        match i {
            0 => Level {
                fwd: n.fwd0,
                span: (n.fwd0 != NIL) as u32,
            },
            1 | 2 => n.lv[i - 1],
            _ => self.upper[n.upper as usize + i - INLINE_LEVELS],
        }
    }

    #[inline]
    fn fwd(&self, x: u32, i: usize) -> u32 {
        self.level(x, i).fwd
    }

    /// Set level `i` of node `x`. Level 0's span is implied and must agree.
    #[inline]
    fn set_level(&mut self, x: u32, i: usize, l: Level) {
        let n = &mut self.nodes[x as usize];
        match i {
            0 => {
                debug_assert_eq!(l.span, (l.fwd != NIL) as u32, "level-0 span");
                n.fwd0 = l.fwd;
            }
            1 | 2 => n.lv[i - 1] = l,
            _ => {
                let at = n.upper as usize + i - INLINE_LEVELS;
                self.upper[at] = l;
            }
        }
    }

    /// Add `d` (wrapping, so -1 is `u32::MAX`) to the span of level `i` ≥ 1 of node `x`.
    #[inline]
    fn add_span(&mut self, x: u32, i: usize, d: u32) {
        let n = &mut self.nodes[x as usize];
        match i {
            0 => unreachable!("level-0 spans are implied"),
            1 | 2 => n.lv[i - 1].span = n.lv[i - 1].span.wrapping_add(d),
            _ => {
                let at = n.upper as usize + i - INLINE_LEVELS;
                self.upper[at].span = self.upper[at].span.wrapping_add(d);
            }
        }
    }

    fn random_level(&mut self) -> usize {
        let mut l = 1;
        loop {
            // xorshift64*: cheap, deterministic per set, and good enough for level draws.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            // p = 1/4, as Redis.
            if r & 3 != 0 || l >= MAX_LEVEL {
                return l;
            }
            l += 1;
        }
    }

    // ---------------------------------------------------------------- arena

    /// The arena slot the next `alloc` will use.
    fn next_id(&self) -> u32 {
        self.free.last().copied().unwrap_or(self.nodes.len() as u32)
    }

    /// A new, unlinked node in the slot `next_id` named.
    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let height = self.random_level();
        let upper = if height > INLINE_LEVELS {
            let k = height - INLINE_LEVELS;
            match self.upper_free.get_mut(k - 1).and_then(Vec::pop) {
                Some(at) => {
                    self.upper[at as usize..at as usize + k].fill(UNLINKED);
                    at
                }
                None => {
                    let at = self.upper.len() as u32;
                    self.upper.resize(self.upper.len() + k, UNLINKED);
                    at
                }
            }
        } else {
            0
        };
        let member = Member::new(member);
        self.member_heap += member.heap();
        let n = Node {
            score,
            fwd0: NIL,
            lv: [UNLINKED; 2],
            back: NIL,
            upper,
            height: height as u8,
            member,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = n;
                i
            }
            None => {
                self.nodes.push(n);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Free node `id`'s slot (already unlinked and unindexed).
    fn release(&mut self, id: u32) {
        let n = std::mem::replace(&mut self.nodes[id as usize], Node::free());
        self.member_heap -= n.member.heap();
        let height = n.height as usize;
        if height > INLINE_LEVELS {
            let k = height - INLINE_LEVELS;
            if self.upper_free.len() < k {
                self.upper_free.resize_with(k, Vec::new);
            }
            self.upper_free[k - 1].push(n.upper);
        }
        self.free.push(id);
    }

    // ---------------------------------------------------------------- linking

    /// Link the allocated, unlinked node `id` into its place by (score, member).
    fn link(&mut self, id: u32) {
        self.fingers.clear();
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let height = self.nodes[id as usize].height as usize;
        {
            let me = &self.nodes[id as usize];
            let (score, m) = (me.score, me.member.bytes());
            let mut x = HEAD;
            let mut r = 0u32;
            for i in (0..self.levels).rev() {
                loop {
                    let l = self.level(x, i);
                    if l.fwd == NIL {
                        break;
                    }
                    let n = &self.nodes[l.fwd as usize];
                    if !before(n.score, n.member.bytes(), score, m) {
                        break;
                    }
                    r += l.span;
                    x = l.fwd;
                }
                update[i] = x;
                rank[i] = r;
            }
        }
        if height > self.levels {
            for i in self.levels..height {
                rank[i] = 0;
                update[i] = HEAD;
                self.set_level(
                    HEAD,
                    i,
                    Level {
                        fwd: NIL,
                        span: self.len as u32,
                    },
                );
            }
            self.levels = height;
        }
        for i in 0..height {
            let u = update[i];
            let ul = self.level(u, i);
            let d = rank[0] - rank[i];
            self.set_level(
                id,
                i,
                Level {
                    fwd: ul.fwd,
                    span: ul.span - d,
                },
            );
            self.set_level(
                u,
                i,
                Level {
                    fwd: id,
                    span: d + 1,
                },
            );
        }
        for (i, &u) in update.iter().enumerate().take(self.levels).skip(height) {
            self.add_span(u, i, 1);
        }
        self.nodes[id as usize].back = if update[0] == HEAD { NIL } else { update[0] };
        let f = self.nodes[id as usize].fwd0;
        if f != NIL {
            self.nodes[f as usize].back = id;
        } else {
            self.tail = id;
        }
        self.len += 1;
    }

    /// Unlink node `id` from the skip list (not from the index; its slot stays allocated).
    fn unlink(&mut self, id: u32) {
        self.fingers.clear();
        let mut update = [HEAD; MAX_LEVEL];
        {
            let me = &self.nodes[id as usize];
            let (score, m) = (me.score, me.member.bytes());
            let mut x = HEAD;
            for i in (0..self.levels).rev() {
                loop {
                    let f = self.fwd(x, i);
                    if f == NIL || f == id || {
                        let n = &self.nodes[f as usize];
                        !before(n.score, n.member.bytes(), score, m)
                    } {
                        break;
                    }
                    x = f;
                }
                update[i] = x;
            }
        }
        debug_assert_eq!(self.fwd(update[0], 0), id);
        for (i, &u) in update.iter().enumerate().take(self.levels) {
            if i == 0 {
                let f = self.nodes[id as usize].fwd0;
                self.nodes[u as usize].fwd0 = f;
                continue;
            }
            let ul = self.level(u, i);
            if ul.fwd == id {
                let il = self.level(id, i);
                self.set_level(
                    u,
                    i,
                    Level {
                        fwd: il.fwd,
                        span: ul.span + il.span - 1,
                    },
                );
            } else {
                self.add_span(u, i, u32::MAX);
            }
        }
        let (f, b) = {
            let n = &self.nodes[id as usize];
            (n.fwd0, n.back)
        };
        if f != NIL {
            self.nodes[f as usize].back = b;
        } else {
            self.tail = b;
        }
        while self.levels > 1 && self.fwd(HEAD, self.levels - 1) == NIL {
            self.levels -= 1;
        }
        self.len -= 1;
    }

    // ---------------------------------------------------------------- writes

    /// Insert a member known to be absent.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let h = self.hasher.hash_one(member);
        let id = self.alloc(member, score);
        self.link(id);
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.index.insert_unique(h, id, |&i| {
            hasher.hash_one(nodes[i as usize].member.bytes())
        });
    }

    /// Remove `member`; its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hasher.hash_one(member);
        let nodes = &self.nodes;
        let id = match self
            .index
            .find_entry(h, |&i| nodes[i as usize].member.bytes() == member)
        {
            Ok(e) => e.remove().0,
            Err(_) => return None,
        };
        let score = self.nodes[id as usize].score;
        self.unlink(id);
        self.release(id);
        Some(score)
    }

    /// Change a present member's score. In place when the order is unchanged (Redis's
    /// zslUpdateScore shortcut), otherwise unlink the node and link it again where it now
    /// belongs: the same slot, levels, member and index entry.
    fn update(&mut self, id: u32, score: f64) {
        let n = &self.nodes[id as usize];
        let (b, f, m) = (n.back, n.fwd0, n.member.bytes());
        let ok_back = b == NIL || {
            let p = &self.nodes[b as usize];
            before(p.score, p.member.bytes(), score, m)
        };
        let ok_fwd = f == NIL || {
            let q = &self.nodes[f as usize];
            before(score, m, q.score, q.member.bytes())
        };
        if ok_back && ok_fwd {
            self.nodes[id as usize].score = score;
            return;
        }
        self.unlink(id);
        self.nodes[id as usize].score = score;
        self.link(id);
    }

    /// Set `member`'s score, inserting it if absent; the previous score. One probe of the
    /// index either way.
    pub fn set(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let h = self.hasher.hash_one(member);
        let next = self.next_id();
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        match self.index.entry(
            h,
            |&i| nodes[i as usize].member.bytes() == member,
            |&i| hasher.hash_one(nodes[i as usize].member.bytes()),
        ) {
            Slot::Occupied(e) => {
                let id = *e.get();
                let old = self.nodes[id as usize].score;
                if old != score {
                    self.update(id, score);
                }
                Some(old)
            }
            Slot::Vacant(v) => {
                // The index names the slot before the node is in it; nothing reads the
                // index until it is.
                v.insert(next);
                let id = self.alloc(member, score);
                debug_assert_eq!(id, next);
                self.link(id);
                None
            }
        }
    }

    // ---------------------------------------------------------------- reads

    /// 0-based rank of `member` with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let (score, m) = {
            let n = &self.nodes[id as usize];
            (n.score, n.member.bytes())
        };
        let mut x = HEAD;
        let mut r = 0usize;
        for i in (0..self.levels).rev() {
            loop {
                let l = self.level(x, i);
                if l.fwd != NIL
                    && (l.fwd == id || {
                        let n = &self.nodes[l.fwd as usize];
                        before(n.score, n.member.bytes(), score, m)
                    })
                {
                    r += l.span as usize;
                    x = l.fwd;
                } else {
                    break;
                }
            }
            if x == id {
                return Some((r - 1, score));
            }
        }
        None
    }

    /// The node at 0-based rank `r` (< len).
    fn node_at(&self, r: usize) -> u32 {
        for i in 0..2 {
            match self.fingers.get(i) {
                Some((fr, x)) if fr == r => return x,
                Some((fr, x)) if fr == r + 1 => return self.nodes[x as usize].back,
                _ => {}
            }
        }
        let target = r + 1;
        let mut x = HEAD;
        let mut t = 0usize;
        for i in (0..self.levels).rev() {
            loop {
                let l = self.level(x, i);
                if l.fwd != NIL && t + l.span as usize <= target {
                    t += l.span as usize;
                    x = l.fwd;
                } else {
                    break;
                }
            }
            if t == target {
                return x;
            }
        }
        NIL
    }

    /// The element at 0-based rank `r` (None past the end).
    pub fn at(&self, r: usize) -> Option<(&[u8], f64)> {
        if r >= self.len {
            return None;
        }
        let n = &self.nodes[self.node_at(r) as usize];
        Some((n.member.bytes(), n.score))
    }

    /// How many leading elements satisfy `pred` (which must hold for a prefix of the order).
    pub fn count_while(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        let mut x = HEAD;
        let mut r = 0usize;
        for i in (0..self.levels).rev() {
            loop {
                let l = self.level(x, i);
                if l.fwd != NIL && {
                    let n = &self.nodes[l.fwd as usize];
                    pred(n.member.bytes(), n.score)
                } {
                    r += l.span as usize;
                    x = l.fwd;
                } else {
                    break;
                }
            }
        }
        let first_after = self.nodes[x as usize].fwd0;
        if first_after != NIL {
            self.fingers.put(r, first_after);
        }
        r
    }

    /// Visit ranks `start..end`, forward, or backward from `end - 1` when `rev`.
    pub fn for_range<'s>(
        &'s self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'s [u8], f64),
    ) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        let mut x = self.node_at(if rev { end - 1 } else { start });
        for _ in start..end {
            let n = &self.nodes[x as usize];
            f(n.member.bytes(), n.score);
            x = if rev { n.back } else { n.fwd0 };
        }
    }

    /// ZSCAN step over arena slots from `cursor`, visiting about `count` slots; the next
    /// cursor (0 when done). An element keeps its slot for as long as it is present (a
    /// score change relinks the same node) and the arena only grows, so a scan from slot 0
    /// upwards returns every element present for the whole scan exactly once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let mut i = (cursor as usize).max(1);
        let mut seen = 0;
        while i < self.nodes.len() && seen < count.max(1) {
            let n = &self.nodes[i];
            if n.height != 0 {
                f(n.member.bytes(), n.score);
                seen += 1;
            }
            i += 1;
        }
        if i >= self.nodes.len() {
            0
        } else {
            i as u64
        }
    }

    /// Check the skip list's invariants (tests): order, back links, every level's links
    /// and spans against level 0, the index, the level runs and the heap count.
    #[doc(hidden)]
    pub fn check(&self) {
        // Level 0: order, back links, ranks; rank of each node by id.
        let mut rank_of = std::collections::HashMap::new();
        let mut x = self.nodes[HEAD as usize].fwd0;
        let mut prev = NIL;
        let mut n = 0usize;
        while x != NIL {
            let node = &self.nodes[x as usize];
            assert!(node.height >= 1, "linked node {x} is free");
            assert_eq!(node.back, prev);
            if prev != NIL {
                let p = &self.nodes[prev as usize];
                assert!(before(
                    p.score,
                    p.member.bytes(),
                    node.score,
                    node.member.bytes()
                ));
            }
            assert_eq!(self.find(node.member.bytes()), Some(x));
            n += 1;
            rank_of.insert(x, n);
            prev = x;
            x = node.fwd0;
        }
        assert_eq!(n, self.len);
        assert_eq!(self.tail, prev);
        assert_eq!(self.index.len(), self.len);
        // Higher levels: each link lands on a node tall enough, later, with the right span;
        // a level links exactly the nodes at least that tall.
        assert!(self.levels >= 1 && self.levels <= MAX_LEVEL);
        for i in 1..MAX_LEVEL {
            let mut x = HEAD;
            let mut at = 0usize;
            let mut seen = 0usize;
            loop {
                let l = self.level(x, i);
                if i >= self.levels {
                    assert_eq!(l.fwd, NIL, "head level {i} above {}", self.levels);
                    break;
                }
                if l.fwd == NIL {
                    assert_eq!(l.span as usize, self.len - at, "end span, level {i}");
                    break;
                }
                let r = rank_of[&l.fwd];
                assert!(self.nodes[l.fwd as usize].height as usize > i);
                assert_eq!(l.span as usize, r - at, "span, level {i}");
                at = r;
                x = l.fwd;
                seen += 1;
            }
            let tall = rank_of
                .keys()
                .filter(|&&id| self.nodes[id as usize].height as usize > i)
                .count();
            if i < self.levels {
                assert_eq!(seen, tall, "nodes on level {i}");
            }
        }
        if self.levels > 1 {
            assert_ne!(self.fwd(HEAD, self.levels - 1), NIL);
        }
        // Slots: free ones are marked; upper runs are disjoint and cover `upper`.
        let free: std::collections::HashSet<u32> = self.free.iter().copied().collect();
        assert_eq!(free.len(), self.free.len());
        let mut runs = vec![(0usize, MAX_LEVEL - INLINE_LEVELS)];
        for (id, node) in self.nodes.iter().enumerate().skip(1) {
            let id = id as u32;
            assert_eq!(node.height == 0, free.contains(&id), "slot {id}");
            assert_eq!(node.height != 0, rank_of.contains_key(&id));
            if node.height as usize > INLINE_LEVELS {
                runs.push((node.upper as usize, node.height as usize - INLINE_LEVELS));
            }
        }
        for (k, starts) in self.upper_free.iter().enumerate() {
            runs.extend(starts.iter().map(|&s| (s as usize, k + 1)));
        }
        runs.sort_unstable();
        let mut end = 0;
        for (s, k) in runs {
            assert_eq!(s, end, "level runs overlap or leave a gap");
            end = s + k;
        }
        assert_eq!(end, self.upper.len());
        let heap: usize = self.nodes.iter().map(|n| n.member.heap()).sum();
        assert_eq!(heap, self.member_heap);
    }
}

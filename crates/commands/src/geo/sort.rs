//! Ordering search results by distance exactly as Redis orders them, ties included.
//!
//! Redis sorts all results with the C library's `qsort` (glibc's is a merge sort: stable)
//! when it returns them all, and with its own partial quicksort (`pqsort`: Bentley and
//! McIlroy's three-way partitioning, recursing only into the parts that overlap the wanted
//! ranks) when COUNT returns fewer. Points at the same distance — members at the same
//! position — come out in the order each algorithm leaves them, and with COUNT which of them
//! make the cut depends on it too; so the partial sort here follows the same partitioning
//! steps (same pivots, same swaps) to pick and order the same members.

use std::cmp::Ordering;

/// Sort `v` wholly and stably by `cmp` (what glibc's qsort does for Redis).
pub fn full<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    v.sort_by(cmp);
}

/// Put into positions `0..k` the `k` first elements by `cmp`, sorted, with Redis's
/// `pqsort(v, n, cmp, 0, k - 1)` partitioning; the rest are left in some order.
pub fn partial<T>(v: &mut [T], k: usize, cmp: impl Fn(&T, &T) -> Ordering) {
    if k == 0 || v.is_empty() {
        return;
    }
    let n = v.len();
    part(v, 0, n, 0, k - 1, &cmp);
}

/// The median of three positions, by Bentley and McIlroy's rule.
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    if cmp(&v[a], &v[b]).is_lt() {
        if cmp(&v[b], &v[c]).is_lt() {
            b
        } else if cmp(&v[a], &v[c]).is_lt() {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]).is_gt() {
        b
    } else if cmp(&v[a], &v[c]).is_lt() {
        a
    } else {
        c
    }
}

/// Swap the `n` elements from `a` with the `n` from `b`, pairwise in order.
fn swap_run<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Whether the subarray `[s, e)` holds any of the wanted ranks `lo..=hi`.
fn wanted(s: usize, e: usize, lo: usize, hi: usize) -> bool {
    !((lo < s && hi < s) || (lo >= e && hi >= e))
}

/// Partition `v[base..base + n]`, recursing into the part before the pivot run and
/// looping on the part after it, each only when it holds wanted ranks.
fn part<T>(
    v: &mut [T],
    mut base: usize,
    mut n: usize,
    lo: usize,
    hi: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    loop {
        if n < 7 {
            // Insertion sort of a small run.
            for m in base + 1..base + n {
                let mut l = m;
                while l > base && cmp(&v[l - 1], &v[l]).is_gt() {
                    v.swap(l, l - 1);
                    l -= 1;
                }
            }
            return;
        }
        let mut pm = base + n / 2;
        if n > 7 {
            let mut pl = base;
            let mut pn = base + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(base, pm);
        // Three-way partition around v[base]: equal keys gather at both ends, then move
        // to the middle.
        let (mut pa, mut pb) = (base + 1, base + 1);
        let (mut pc, mut pd) = (base + n - 1, base + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[base]);
                if c.is_gt() {
                    break;
                }
                if c.is_eq() {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[base]);
                if c.is_lt() {
                    break;
                }
                if c.is_eq() {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let end = base + n;
        let r = (pa - base).min(pb - pa);
        swap_run(v, base, pb - r, r);
        let r = (pd - pc).min(end - pd - 1);
        swap_run(v, pb, end - r, r);
        let r = pb - pa;
        if r > 1 && wanted(base, base + r, lo, hi) {
            part(v, base, r, lo, hi, cmp);
        }
        let r = pd - pc;
        if r > 1 {
            base = end - r;
            n = r;
            if wanted(base, base + n, lo, hi) {
                continue;
            }
        }
        return;
    }
}

//! Where each hash slot belongs: the *target* map, a pure function of the serving members.
//!
//! Weighted rendezvous (highest random weight) hashing: every member scores every slot with
//! a hash of (member id, slot), and the highest score wins. Every node that sees the same
//! members computes the same map with no coordination; a slot changes owner only when its
//! winner changes, so a join moves just the slots the newcomer wins (about 1/N) and a
//! leave just the leaver's. Weights use the `-w / ln(u)` form, under which a member's share
//! is proportional to its weight.
//!
//! The hash is fixed (FNV-1a of the id, then a SplitMix64 finaliser per slot), never a
//! seeded or platform hasher: nodes of different builds and processes must agree.

/// A serving member: its node id (stable across restarts) and weight (≥ 1; 0 is treated
/// as 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub id: &'a str,
    pub weight: u32,
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: a well-mixed 64-bit value from any input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The member's raw hash for `slot`.
#[inline]
fn slot_hash(id_hash: u64, slot: u16) -> u64 {
    mix(id_hash ^ (slot as u64).wrapping_mul(0xd6e8_feb8_6659_fd93))
}

/// The weighted score: `-w / ln(u)` with `u` in (0, 1) from the hash's top 53 bits.
#[inline]
fn score(h: u64, weight: u32) -> f64 {
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    -(weight.max(1) as f64) / u.ln()
}

/// The target owner of every slot, as an index into `members` (`SLOTS` entries; empty
/// when there are no members). The result does not depend on the order of `members`.
pub fn target_map(members: &[Member<'_>]) -> Vec<u16> {
    if members.is_empty() {
        return Vec::new();
    }
    assert!(members.len() <= u16::MAX as usize, "at most 65535 members");
    let ids: Vec<u64> = members.iter().map(|m| fnv1a(m.id.as_bytes())).collect();
    let equal = members
        .windows(2)
        .all(|w| w[0].weight.max(1) == w[1].weight.max(1));
    let mut out = Vec::with_capacity(crate::SLOTS);
    for slot in 0..crate::SLOTS as u16 {
        let mut best = 0usize;
        let mut best_h = slot_hash(ids[0], slot);
        let mut best_s = if equal {
            0.0
        } else {
            score(best_h, members[0].weight)
        };
        for (i, &id) in ids.iter().enumerate().skip(1) {
            let h = slot_hash(id, slot);
            // Equal weights: the raw hash orders like the score, without a logarithm.
            let (wins, s) = if equal {
                (
                    h > best_h || (h == best_h && members[i].id > members[best].id),
                    0.0,
                )
            } else {
                let s = score(h, members[i].weight);
                (
                    s > best_s || (s == best_s && members[i].id > members[best].id),
                    s,
                )
            };
            if wins {
                best = i;
                best_h = h;
                best_s = s;
            }
        }
        out.push(best as u16);
    }
    out
}

/// How many slots have a different owner between two maps of the same slots, each given
/// as owner ids (`target_map` resolved through its member list).
pub fn moved(before: &[&str], after: &[&str]) -> usize {
    before.iter().zip(after).filter(|(a, b)| a != b).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owners<'a>(members: &[Member<'a>]) -> Vec<&'a str> {
        target_map(members)
            .into_iter()
            .map(|i| members[i as usize].id)
            .collect()
    }

    fn nodes(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("node-{i:04}-{:x}", mix(i as u64)))
            .collect()
    }

    fn equal(ids: &[String]) -> Vec<Member<'_>> {
        ids.iter().map(|id| Member { id, weight: 1 }).collect()
    }

    #[test]
    fn the_map_does_not_depend_on_member_order() {
        let ids = nodes(7);
        let a = owners(&equal(&ids));
        let mut rev = equal(&ids);
        rev.reverse();
        assert_eq!(a, owners(&rev));
        assert_eq!(a.len(), crate::SLOTS);
    }

    #[test]
    fn slots_are_spread_evenly() {
        for n in [2, 3, 6, 10] {
            let ids = nodes(n);
            let map = target_map(&equal(&ids));
            let mut count = vec![0usize; n];
            for &o in &map {
                count[o as usize] += 1;
            }
            let even = crate::SLOTS as f64 / n as f64;
            for c in count {
                assert!(
                    (c as f64 - even).abs() / even < 0.1,
                    "{n} nodes: {c} vs {even}"
                );
            }
        }
    }

    #[test]
    fn a_join_moves_only_the_newcomers_slots_and_about_one_nth() {
        for n in 1..=100 {
            let ids = nodes(n + 1);
            let before = owners(&equal(&ids[..n]));
            let after = owners(&equal(&ids));
            let m = moved(&before, &after);
            // Every moved slot went to the newcomer.
            assert!(before
                .iter()
                .zip(&after)
                .all(|(b, a)| b == a || *a == ids[n].as_str()));
            let bound = 1.2 * crate::SLOTS as f64 / (n + 1) as f64;
            assert!(
                (m as f64) <= bound,
                "{n}+1 nodes: {m} slots moved > {bound}"
            );
        }
    }

    #[test]
    fn a_leave_moves_only_the_leavers_slots() {
        let ids = nodes(5);
        let before = owners(&equal(&ids));
        let after = owners(&equal(&ids[1..]));
        for (b, a) in before.iter().zip(&after) {
            assert!(b == a || *b == ids[0].as_str());
        }
    }

    #[test]
    fn weights_give_proportional_shares() {
        let ids = nodes(3);
        let members = vec![
            Member {
                id: &ids[0],
                weight: 1,
            },
            Member {
                id: &ids[1],
                weight: 2,
            },
            Member {
                id: &ids[2],
                weight: 1,
            },
        ];
        let map = target_map(&members);
        let heavy = map.iter().filter(|&&o| o == 1).count() as f64;
        let share = heavy / crate::SLOTS as f64;
        assert!((share - 0.5).abs() < 0.03, "weight 2 of 4: {share}");
    }

    #[test]
    fn known_values_stay_the_same() {
        // Nodes of different builds must agree: these values are part of the protocol.
        let members = [
            Member { id: "a", weight: 1 },
            Member { id: "b", weight: 1 },
            Member { id: "c", weight: 1 },
        ];
        let map = target_map(&members);
        let sample: Vec<u16> = [0usize, 1, 2, 100, 5461, 16383]
            .iter()
            .map(|&s| map[s])
            .collect();
        assert_eq!(sample, GOLDEN);
    }

    const GOLDEN: [u16; 6] = [2, 2, 1, 1, 1, 2];

    proptest! {
        #[test]
        fn any_member_set_maps_every_slot_to_a_member(
            n in 1usize..20,
            weights in proptest::collection::vec(1u32..5, 20),
        ) {
            let ids = nodes(n);
            let members: Vec<Member<'_>> = ids
                .iter()
                .zip(&weights)
                .map(|(id, &weight)| Member { id, weight })
                .collect();
            let map = target_map(&members);
            prop_assert_eq!(map.len(), crate::SLOTS);
            prop_assert!(map.iter().all(|&o| (o as usize) < n));
        }
    }
}

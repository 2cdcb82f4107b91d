//! The rcache cluster (docs/CLUSTER.md has the design and its invariants).
//!
//! ```text
//!  slots.rs        where each of the 16384 hash slots belongs: the target map, a pure
//!                  function of the serving members (weighted rendezvous hashing), and
//!                  what a change of members moves
//!  membership.rs   who is alive and what each node publishes (chitchat gossip), and the
//!                  serving members the target map is computed from
//! ```
//! To come, in this crate: the cluster secret on gossip and the bus, the current map
//! (claims with epochs), routing and forwarding, and slot hand-off.

pub mod membership;
pub mod slots;

pub use membership::{serving, Config, MemberInfo, Membership};
pub use slots::{moved, target_map, Member};
pub use storage::{key_slot, SLOTS};

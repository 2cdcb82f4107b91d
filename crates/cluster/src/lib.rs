//! The rcache cluster (docs/CLUSTER.md has the design and its invariants).
//!
//! ```text
//!  slots.rs   where each of the 16384 hash slots belongs: the target map, a pure function
//!             of the serving members (weighted rendezvous hashing), and what a change of
//!             members moves
//! ```
//! To come, in this crate: membership (chitchat gossip behind the cluster secret), the
//! current map (claims with epochs), routing and forwarding, and slot hand-off.

pub mod slots;

pub use slots::{moved, target_map, Member};
pub use storage::{key_slot, SLOTS};

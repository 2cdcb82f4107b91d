//! The rcache cluster (docs/CLUSTER.md has the design and its invariants).
//!
//! ```text
//!  slots.rs        where each of the 16384 hash slots belongs: the target map, a pure
//!                  function of the serving members (weighted rendezvous hashing), and
//!                  what a change of members moves
//!  membership.rs   who is alive and what each node publishes (chitchat gossip), and the
//!                  serving members the target map is computed from
//!  secure.rs       gossip closed to strangers: datagrams tagged with HMAC-SHA256 of the
//!                  cluster secret, untagged or stale ones dropped unread
//! ```
//! To come, in this crate: the secret on the internal bus, the current map (claims with
//! epochs), routing and forwarding, and slot hand-off.

pub mod membership;
pub mod secure;
pub mod slots;

pub use membership::{serving, Config, MemberInfo, Membership};
pub use slots::{moved, target_map, Member};
pub use storage::{key_slot, SLOTS};

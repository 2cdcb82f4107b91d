//! The rcache cluster (docs/CLUSTER.md has the design and its invariants).
//!
//! ```text
//!  slots.rs        where each of the 16384 hash slots belongs: the target map, a pure
//!                  function of the serving members (weighted rendezvous hashing), and
//!                  what a change of members moves
//!  membership.rs   who is alive and what each node publishes (chitchat gossip), and the
//!                  serving members the target map is computed from
//!  claims.rs       the slots a node owns, with their epochs, as gossip carries them
//!  state.rs        this node's view: the current owner of every slot (highest epoch wins),
//!                  routing (`route`), the hand-off's freeze / flip / import / commit
//!  link.rs         the internal bus, client side: challenge-response on the cluster
//!                  secret, then pipelined forwarding shared by many clients
//!  secure.rs       gossip closed to strangers: datagrams tagged with HMAC-SHA256 of the
//!                  cluster secret, untagged or stale ones dropped unread
//! ```
//! The server wires these together (crates/server/src/cluster/): the bus listener, the
//! reconciler that folds gossip into `state`, request routing and the hand-off driver.

pub mod claims;
pub mod link;
pub mod membership;
pub mod secure;
pub mod slots;
pub mod state;

pub use membership::{serving, Config, MemberInfo, Membership};
pub use slots::{moved, target_map, Member};
pub use state::{Cluster, NodeInfo, Route};
pub use storage::{key_slot, SLOTS};

//! Unit tests of the memcached door, run in-process against a ServerState.

//! INFO: the sections server, clients, memory, persistence, stats, replication, cpu and
//! keyspace, in Redis's `field:value` format.

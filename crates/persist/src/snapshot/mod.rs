//! rcache's own snapshot: a point-in-time copy of every database in one file.
//!
//! ```text
//!  format.rs   the file layout (header, function libraries, checksummed lz4 blocks, end
//!              marker) and the record
//!              codec — the DUMP body, so one entry serialisation serves every use
//!  writer.rs   start/finish a snapshot: the copy-before-write sink, workers, writer thread
//!  reader.rs   verify and read a file; load it into the keyspace on every core; inspect
//! ```
//! What "point in time" means, and what it costs, is in docs/PERSISTENCE.md.

pub mod format;
pub mod reader;
pub mod writer;

pub use reader::{inspect, load, load_with, ReadError, Summary};
pub use writer::{save, save_with, start, start_with, Pace, Running, SaveStats};

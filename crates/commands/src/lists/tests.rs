//! Tests of the list family and the blocking machinery.

//! Tests of the set family.

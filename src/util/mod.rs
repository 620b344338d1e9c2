//! Small pure helpers with no I/O: wildcard matching, civil time, IP networks.

pub mod cidr;
pub mod glob;
pub mod timefmt;

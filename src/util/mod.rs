//! Small pure helpers with no I/O of their own: wildcard matching, civil time, IP networks,
//! and digests of a reader the caller opened.

pub mod cidr;
pub mod digest;
pub mod glob;
pub mod numfmt;
pub mod timefmt;

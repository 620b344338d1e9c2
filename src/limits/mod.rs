//! Limits on what clients may hold: connection counts ([`connections`]).

pub mod bandwidth;
pub mod connections;
pub mod defender;
pub mod usage;

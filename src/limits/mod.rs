//! Limits on what clients may hold: connection counts ([`connections`]).

pub mod connections;

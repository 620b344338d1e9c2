//! Who may log in: the SFTPGo user dump ([`users`]), password hashes ([`hash`]) and the
//! login decision ([`login`]).

pub mod hash;
pub mod login;
pub mod permissions;
pub mod users;

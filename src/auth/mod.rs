//! Who may log in: the SFTPGo user dump ([`users`]), password hashes ([`hash`]) and the
//! login decision ([`login`]).

pub mod cache;
pub mod folders;
pub mod hash;
pub mod ip_lists;
pub mod login;
pub mod permissions;
pub mod user_limits;
pub mod users;

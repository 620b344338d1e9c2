//! FTP commands: the table every verb is a row of ([`table`]) and the pure parser from a
//! control line to a typed [`Command`] ([`parse()`]).

pub mod parse;
pub mod table;

pub use parse::{parse, Command, EpsvArg, ParseError, TransferType};
pub use table::{Verb, TABLE};

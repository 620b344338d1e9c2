//! FEAT (RFC 2389), HELP, OPTS (RFC 2389, RFC 3659 7.9; OPTS HASH is in [`super::ext`]).

use crate::command::table::{feat_lines, help_verbs, lookup, Gate, Row, Verb};
use crate::config::tls::TlsMode;
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use std::io;

impl Session {
    pub(crate) fn cmd_feat(&mut self) -> io::Result<()> {
        let mut lines = vec!["Features:".to_string()];
        lines.extend(feat_lines(|r| self.row_open(r)).into_iter().map(|l| {
            // The MLST line marks the facts this session selected (RFC 3659 7.8).
            if l.starts_with("MLST ") {
                super::listing::mlst_feat_line(self.mlst_facts)
            } else if l == "HASH" {
                // The algorithms, this session's choice starred (draft-bryan-ftpext-hash 3.1).
                crate::util::digest::feat_line(self.hash_algo)
            } else {
                l.to_string()
            }
        }));
        lines.push("End".into());
        self.send(&Reply::multi(ReplyCode::SystemStatus, lines))
    }

    pub(crate) fn cmd_help(&mut self, arg: Option<&str>) -> io::Result<()> {
        if let Some(verb) = arg.map(str::trim).filter(|a| !a.is_empty()) {
            return match lookup(verb) {
                Some(row) if !self.row_open(row) => self.reply(
                    ReplyCode::Help,
                    format!("Syntax: {} (not enabled here)", row.help),
                ),
                Some(row) => self.reply(ReplyCode::Help, format!("Syntax: {}", row.help)),
                None => self.reply(
                    ReplyCode::ArgumentError,
                    format!("Unknown command {:?}", super::login::printable(verb)),
                ),
            };
        }
        let mut lines = vec!["The following commands are recognized:".to_string()];
        for chunk in help_verbs(|r| self.row_open(r)).chunks(8) {
            lines.push(
                chunk
                    .iter()
                    .map(|v| format!("{v:<5}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        lines.push("Help OK".into());
        self.send(&Reply::multi(ReplyCode::Help, lines))
    }

    /// Whether a table row applies to this session (its gate is open).
    fn row_open(&self, r: &Row) -> bool {
        match r.gate {
            Gate::Always => true,
            Gate::Tls => {
                let Some(ctx) = self.tls_context() else {
                    return false;
                };
                // Implicit TLS has nothing to negotiate.
                !(r.verb == Verb::Auth && ctx.settings().mode == TlsMode::Implicit)
            }
            Gate::Hash | Gate::Comb | Gate::Active => self.extension_off(r.gate).is_none(),
        }
    }

    pub(crate) fn cmd_opts(&mut self, arg: &str) -> io::Result<()> {
        let (name, value) = arg.trim().split_once(' ').unwrap_or((arg.trim(), ""));
        match name.to_ascii_uppercase().as_str() {
            "UTF8" | "UTF-8" => self.reply(ReplyCode::Ok, "UTF8 is always on"),
            // Every fact is always sent; echo what was asked, as RFC 3659 7.9 wants.
            "MLST" => {
                self.mlst_facts = super::listing::select_facts(value);
                let chosen = super::listing::fact_list(self.mlst_facts);
                self.reply(ReplyCode::Ok, format!("MLST OPTS {chosen}"))
            }
            "HASH" => self.cmd_opts_hash(value),
            _ => self.reply(
                ReplyCode::ArgumentError,
                format!("Option {:?} not understood", super::login::printable(name)),
            ),
        }
    }
}

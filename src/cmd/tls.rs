//! RFC 4217 (FTP over TLS) commands: AUTH, PBSZ, PROT, CCC. The gate in the session has
//! already answered 502 where the binding has no certificate.

use crate::config::tls::TlsMode;
use crate::reply::ReplyCode;
use crate::session::Session;
use std::io;

impl Session {
    pub(crate) fn cmd_auth(&mut self) -> io::Result<()> {
        if self.tls.is_some() {
            return self.reply(ReplyCode::BadSequence, "TLS is already on");
        }
        if self.logged_in().is_some() {
            return self.reply(ReplyCode::BadSequence, "AUTH must come before login");
        }
        self.reply(ReplyCode::AuthOk, "AUTH TLS ok: starting TLS")?;
        if !self.start_tls_aside() {
            // The client expected a handshake; nothing sensible can follow a failed one.
            self.control_lost = true;
        }
        Ok(())
    }

    pub(crate) fn cmd_pbsz(&mut self, _size: u64) -> io::Result<()> {
        if self.tls.is_none() {
            return self.reply(ReplyCode::BadSequence, "PBSZ needs AUTH TLS first");
        }
        // RFC 4217 9: TLS is a stream; the only buffer size is 0.
        self.reply(ReplyCode::Ok, "PBSZ=0")
    }

    pub(crate) fn cmd_prot(&mut self, private: bool) -> io::Result<()> {
        if self.tls.is_none() {
            return self.reply(ReplyCode::BadSequence, "PROT needs AUTH TLS first");
        }
        match (self.binding().tls.mode, private) {
            (TlsMode::Explicit | TlsMode::Implicit, false) => self.reply(
                ReplyCode::PolicyDenied,
                "PROT C refused: data connections must be protected here",
            ),
            (TlsMode::ControlOnly, true) => self.reply(
                ReplyCode::PolicyDenied,
                "PROT P refused: data connections are clear here (tls_mode 3)",
            ),
            (_, p) => {
                self.prot_private = p;
                let what = if p { "Private" } else { "Clear" };
                self.reply(ReplyCode::Ok, format!("Protection set to {what}"))
            }
        }
    }

    /// CCC would put the rest of the session, and its commands, in clear text: refused.
    pub(crate) fn cmd_ccc(&mut self) -> io::Result<()> {
        self.reply(
            ReplyCode::PolicyDenied,
            "CCC refused: the control connection stays encrypted",
        )
    }

    /// Whether data connections carry TLS for the next transfer.
    pub(crate) fn data_tls(&self) -> bool {
        match self.binding().tls.mode {
            TlsMode::Implicit => true,
            TlsMode::ControlOnly => false,
            _ => self.prot_private && self.tls.is_some(),
        }
    }

    /// tls_mode 1 refuses transfers until PROT P (RFC 4217 10: 521).
    pub(crate) fn data_protection_ok(&mut self) -> io::Result<bool> {
        if self.binding().tls.mode == TlsMode::Explicit && !self.prot_private {
            self.reply(
                ReplyCode::DataProtectionRequired,
                "Data connections must be protected: send PBSZ 0 and PROT P",
            )?;
            return Ok(false);
        }
        Ok(true)
    }
}

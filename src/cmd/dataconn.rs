//! Setting up the data connection: PASV and PORT (RFC 959 4.1.2), EPSV and EPRT with
//! `EPSV ALL` (RFC 2428).

use crate::command::EpsvArg;
use crate::data::{self, active, passive};
use crate::reply::ReplyCode;
use crate::session::Session;
use std::io;
use std::net::{IpAddr, SocketAddr};

impl Session {
    pub(crate) fn cmd_pasv(&mut self) -> io::Result<()> {
        if self.epsv_all {
            return self.reply(
                ReplyCode::BadSequence,
                "EPSV ALL was sent: only EPSV is allowed",
            );
        }
        if self.local.is_ipv6()
            && self.binding().passive_ip_overrides.is_empty()
            && self.binding().force_passive_ip.is_none()
        {
            return self.reply(
                ReplyCode::ArgumentError,
                "PASV is for IPv4; use EPSV on an IPv6 connection",
            );
        }
        let ip = match passive::announced_ipv4(self.binding(), self.peer.ip(), self.local.ip()) {
            Ok(ip) => ip,
            Err(why) => return self.reply(ReplyCode::CantOpenData, why),
        };
        let Some(port) = self.listen_passive()? else {
            return Ok(());
        };
        let o = ip.octets();
        self.reply(
            ReplyCode::EnteringPassive,
            format!(
                "Entering Passive Mode ({},{},{},{},{},{})",
                o[0],
                o[1],
                o[2],
                o[3],
                port >> 8,
                port & 0xff
            ),
        )
    }

    pub(crate) fn cmd_epsv(&mut self, arg: EpsvArg) -> io::Result<()> {
        let v6 = self.local.is_ipv6();
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                return self.reply(ReplyCode::Ok, "EPSV ALL ok: only EPSV from now on");
            }
            EpsvArg::V4 if v6 => return self.wrong_family(),
            EpsvArg::V6 if !v6 => return self.wrong_family(),
            _ => {}
        }
        let Some(port) = self.listen_passive()? else {
            return Ok(());
        };
        self.reply(
            ReplyCode::EnteringExtendedPassive,
            format!("Entering Extended Passive Mode (|||{port}|)"),
        )
    }

    fn wrong_family(&mut self) -> io::Result<()> {
        let which = if self.local.is_ipv6() { "2" } else { "1" };
        self.reply(
            ReplyCode::ProtocolNotSupported,
            format!("Network protocol not supported, use ({which})"),
        )
    }

    /// A passive listener on the control connection's local address; replaces any earlier
    /// one (its port is freed as it drops). None after a 425 has been sent.
    fn listen_passive(&mut self) -> io::Result<Option<u16>> {
        self.plan = data::Plan::None;
        let listener = self
            .server
            .ports
            .listen(self.local.ip())
            .and_then(|l| l.port().map(|p| (l, p)));
        match listener {
            Ok((l, port)) => {
                self.plan = data::Plan::Passive(l);
                Ok(Some(port))
            }
            Err(e) => {
                log::warn!("passive listen failed for {}: {e}", self.peer);
                self.reply(
                    ReplyCode::CantOpenData,
                    format!("Cannot open passive connection: {e}"),
                )?;
                Ok(None)
            }
        }
    }

    /// PORT (`extended` false) and EPRT.
    pub(crate) fn cmd_port(&mut self, target: SocketAddr, extended: bool) -> io::Result<()> {
        let verb = if extended { "EPRT" } else { "PORT" };
        if self.epsv_all {
            return self.reply(
                ReplyCode::BadSequence,
                "EPSV ALL was sent: only EPSV is allowed",
            );
        }
        let target = SocketAddr::new(target.ip().to_canonical(), target.port());
        if extended && (target.ip().is_ipv6() != self.peer.ip().is_ipv6()) {
            return self.wrong_family();
        }
        let peer: IpAddr = self.peer.ip();
        if let Err(why) = active::check_target(target, peer, self.binding().active_ip_check) {
            log::warn!("{verb} to {target} refused for {}: {why}", self.peer);
            return self.reply(ReplyCode::ArgumentError, why);
        }
        self.plan = data::Plan::Active(target);
        self.reply(ReplyCode::Ok, format!("{verb} command successful"))
    }
}

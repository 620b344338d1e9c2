//! A small synchronous ACME client (RFC 8555): the directory, nonces, the account, orders,
//! authorizations, challenges, finalization and the certificate download, each request a
//! JWS signed with the account key (ES256, ES384 or RS256, through aws-lc-rs).
//!
//! Blocking HTTP over rustls with ureq; no request runs without a timeout, and no timeout
//! covers name resolution (ureq resolves in a helper thread when one does, and the daemon
//! issues its first certificate before the privilege drop, which needs a single thread:
//! getaddrinfo's own timeouts bound it instead). Every response body is size-bounded and
//! parsed before use; a `badNonce` answer is retried with the fresh nonce it carries, as
//! the RFC asks (Pebble refuses 5% of good nonces to check exactly that).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest response body read (certificate chains are a few KiB).
const MAX_BODY: u64 = 1 << 20;
/// How many times one request is signed again after `badNonce`.
const BAD_NONCE_RETRIES: usize = 5;
/// Bounds for one polling wait (the server's Retry-After is clamped to these).
const POLL_MIN: Duration = Duration::from_millis(250);
const POLL_MAX: Duration = Duration::from_secs(10);

/// base64url without padding, as JWS wants it.
pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// The account key, in one of the JWS algorithms CAs accept.
pub enum AccountKey {
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alg())
    }
}

impl AccountKey {
    /// A new P-256 key and its PKCS#8 DER (to store).
    pub fn generate() -> Result<(AccountKey, Vec<u8>), String> {
        let k = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "cannot generate an account key".to_string())?;
        let der = k
            .to_pkcs8v1()
            .map_err(|_| "cannot encode the account key".to_string())?
            .as_ref()
            .to_vec();
        Ok((AccountKey::P256(k), der))
    }

    /// A PEM key: PKCS#8, SEC1 ("EC PRIVATE KEY", P-256 or P-384) or PKCS#1 ("RSA PRIVATE
    /// KEY"), so an account key SFTPGo (lego) made is used as it is.
    pub fn from_pem(pem: &[u8]) -> Result<AccountKey, String> {
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("no private key: {e}"))?;
        let ec = |der: &[u8]| -> Option<AccountKey> {
            EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map(AccountKey::P256)
                .or_else(|_| {
                    EcdsaKeyPair::from_private_key_der(
                        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                        der,
                    )
                    .map(AccountKey::P384)
                })
                .ok()
        };
        let found = match &key {
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .ok()
                .map(AccountKey::Rsa),
            PrivateKeyDer::Sec1(k) => ec(k.secret_sec1_der()),
            PrivateKeyDer::Pkcs8(k) => ec(k.secret_pkcs8_der()).or_else(|| {
                RsaKeyPair::from_pkcs8(k.secret_pkcs8_der())
                    .ok()
                    .map(AccountKey::Rsa)
            }),
            _ => None,
        };
        found.ok_or_else(|| "not a P-256, P-384 or RSA key".to_string())
    }

    fn alg(&self) -> &'static str {
        match self {
            AccountKey::P256(_) => "ES256",
            AccountKey::P384(_) => "ES384",
            AccountKey::Rsa(_) => "RS256",
        }
    }

    /// The public JWK with only its required members, in lexicographic order: exactly the
    /// text RFC 7638 hashes for the thumbprint.
    fn jwk_text(&self) -> Result<String, String> {
        match self {
            AccountKey::P256(k) | AccountKey::P384(k) => {
                let (crv, n) = match self {
                    AccountKey::P384(_) => ("P-384", 48),
                    _ => ("P-256", 32),
                };
                // Uncompressed point: 0x04 || X || Y.
                let point = k.public_key().as_ref();
                let (x, y) = match point.split_first() {
                    Some((4, xy)) if xy.len() == 2 * n => xy.split_at(n),
                    _ => return Err("unexpected EC public key encoding".into()),
                };
                Ok(format!(
                    r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64(x),
                    b64(y)
                ))
            }
            AccountKey::Rsa(k) => {
                let spki = k
                    .public_key()
                    .as_der()
                    .map_err(|_| "cannot encode the RSA public key".to_string())?;
                let (n, e) = rsa_numbers(spki.as_ref())?;
                Ok(format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64(&e),
                    b64(&n)
                ))
            }
        }
    }

    fn jwk(&self) -> Result<Value, String> {
        serde_json::from_str(&self.jwk_text()?).map_err(|e| format!("JWK: {e}"))
    }

    /// RFC 7638 thumbprint: the second half of every key authorization.
    pub fn thumbprint(&self) -> Result<String, String> {
        let text = self.jwk_text()?;
        Ok(b64(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            text.as_bytes(),
        )
        .as_ref()))
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match self {
            // The FIXED algorithms give r || s, the JWS form (not ASN.1).
            AccountKey::P256(k) | AccountKey::P384(k) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ECDSA signing failed".to_string()),
            AccountKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| "RSA signing failed".to_string())?;
                Ok(sig)
            }
        }
    }
}

/// The modulus and exponent (big-endian, no leading zeros) of an RSA SubjectPublicKeyInfo.
fn rsa_numbers(spki: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    let bad = || "unexpected RSA public key encoding".to_string();
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki).map_err(|_| bad())?;
    match info.parsed() {
        Ok(PublicKey::RSA(k)) => {
            let strip = |b: &[u8]| -> Vec<u8> {
                let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b.get(start..).unwrap_or_default().to_vec()
            };
            Ok((strip(k.modulus), strip(k.exponent)))
        }
        _ => Err(bad()),
    }
}

/// An ACME problem document (RFC 8555 section 6.7).
#[derive(Debug, Default, Deserialize, Clone)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub subproblems: Vec<Problem>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self
            .kind
            .strip_prefix("urn:ietf:params:acme:error:")
            .unwrap_or(&self.kind);
        match (kind.is_empty(), self.detail.is_empty()) {
            (true, true) => f.write_str("no details")?,
            (false, true) => f.write_str(kind)?,
            (true, false) => f.write_str(&self.detail)?,
            (false, false) => write!(f, "{kind}: {}", self.detail)?,
        }
        for s in &self.subproblems {
            write!(f, "; {s}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct Directory {
    #[serde(rename = "newNonce")]
    new_nonce: String,
    #[serde(rename = "newAccount")]
    new_account: String,
    #[serde(rename = "newOrder")]
    new_order: String,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Order {
    pub status: String,
    #[serde(default)]
    pub authorizations: Vec<String>,
    #[serde(default)]
    pub finalize: String,
    pub certificate: Option<String>,
    pub error: Option<Problem>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Challenge {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub status: String,
    pub error: Option<Problem>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Authorization {
    pub status: String,
    pub identifier: Identifier,
    #[serde(default)]
    pub challenges: Vec<Challenge>,
}

impl Authorization {
    /// Why a failed authorization failed: its challenges' errors.
    pub fn why(&self) -> String {
        let errs: Vec<String> = self
            .challenges
            .iter()
            .filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.kind)))
            .collect();
        if errs.is_empty() {
            "no reason given".into()
        } else {
            errs.join("; ")
        }
    }
}

/// What a request brought back.
struct Reply {
    status: u16,
    location: Option<String>,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Reply {
    fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("{what}: unexpected answer: {e}"))
    }
}

/// A session with one ACME server and one account key.
pub struct Client {
    agent: ureq::Agent,
    dir: Directory,
    key: AccountKey,
    /// The account URL once known (`kid` of every later JWS).
    kid: Option<String>,
    nonce: Option<String>,
}

impl Client {
    /// Reads the directory. `roots`: the CA certificates trusted for the server (None: the
    /// compiled-in public roots).
    pub fn connect(
        endpoint: &str,
        roots: Option<Vec<CertificateDer<'static>>>,
        key: AccountKey,
    ) -> Result<Client, String> {
        let roots = match roots {
            Some(certs) => ureq::tls::RootCerts::new_with_certs(
                &certs
                    .iter()
                    .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                    .collect::<Vec<_>>(),
            ),
            None => ureq::tls::RootCerts::WebPki,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(roots)
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .http_status_as_error(false)
            .user_agent(format!("ferroftpd/{} (ACME)", crate::VERSION))
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_send_request(Some(Duration::from_secs(30)))
            .timeout_send_body(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut resp = agent
            .get(endpoint)
            .call()
            .map_err(|e| format!("GET {endpoint}: {e}"))?;
        let reply = read_reply(&mut resp, endpoint)?;
        if reply.status != 200 {
            return Err(format!("GET {endpoint}: HTTP {}", reply.status));
        }
        let dir: Directory = reply.json(&format!("directory {endpoint}"))?;
        Ok(Client {
            agent,
            dir,
            key,
            kid: None,
            nonce: None,
        })
    }

    pub fn key(&self) -> &AccountKey {
        &self.key
    }

    fn fresh_nonce(&mut self) -> Result<String, String> {
        if let Some(n) = self.nonce.take() {
            return Ok(n);
        }
        let url = self.dir.new_nonce.clone();
        let resp = self
            .agent
            .head(&url)
            .call()
            .map_err(|e| format!("HEAD {url}: {e}"))?;
        header(&resp, "replay-nonce").ok_or_else(|| format!("HEAD {url}: no Replay-Nonce"))
    }

    /// A signed POST; `payload` None is a POST-as-GET (empty payload).
    fn post(&mut self, url: &str, payload: Option<&Value>, accept: &str) -> Result<Reply, String> {
        for attempt in 0..=BAD_NONCE_RETRIES {
            let nonce = self.fresh_nonce()?;
            // RFC 8555 section 6.2: the account URL once there is one, else the key itself.
            let (name, id) = match &self.kid {
                Some(kid) => ("kid", json!(kid)),
                None => ("jwk", self.key.jwk()?),
            };
            let protected = json!({"alg": self.key.alg(), "nonce": nonce, "url": url, name: id});
            let p64 = b64(protected.to_string().as_bytes());
            let body64 = payload
                .map(|p| b64(p.to_string().as_bytes()))
                .unwrap_or_default();
            let sig = self.key.sign(format!("{p64}.{body64}").as_bytes())?;
            let jws = json!({"protected": p64, "payload": body64, "signature": b64(&sig)});
            let mut resp = self
                .agent
                .post(url)
                .header("Content-Type", "application/jose+json")
                .header("Accept", accept)
                .send(jws.to_string().as_bytes())
                .map_err(|e| format!("POST {url}: {e}"))?;
            self.nonce = header(&resp, "replay-nonce");
            let reply = read_reply(&mut resp, url)?;
            if reply.status < 400 {
                return Ok(reply);
            }
            let problem: Problem = serde_json::from_slice(&reply.body).unwrap_or_default();
            if problem.kind == "urn:ietf:params:acme:error:badNonce" && attempt < BAD_NONCE_RETRIES
            {
                log::debug!("acme: POST {url}: bad nonce, signing again");
                continue;
            }
            return Err(format!("POST {url}: HTTP {}: {problem}", reply.status));
        }
        Err(format!("POST {url}: the server kept refusing our nonces"))
    }

    /// Registers the account, or finds it (an existing key gets its account back); the
    /// terms of service are agreed to, as SFTPGo does. Returns the account URL.
    pub fn account(&mut self, email: &str) -> Result<String, String> {
        self.kid = None;
        let url = self.dir.new_account.clone();
        let reply = self.post(
            &url,
            Some(&json!({"termsOfServiceAgreed": true, "contact": [format!("mailto:{email}")]})),
            "application/json",
        )?;
        let account: Account = reply.json("account")?;
        if account.status != "valid" {
            return Err(format!("account status is {:?}", account.status));
        }
        let kid = reply
            .location
            .ok_or_else(|| format!("POST {url}: no account URL (Location)"))?;
        self.kid = Some(kid.clone());
        Ok(kid)
    }

    /// A new order for `names`: its URL and its state.
    pub fn new_order(&mut self, names: &[String]) -> Result<(String, Order), String> {
        let url = self.dir.new_order.clone();
        let ids: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect();
        let reply = self.post(
            &url,
            Some(&json!({ "identifiers": ids })),
            "application/json",
        )?;
        let order: Order = reply.json("order")?;
        let loc = reply
            .location
            .ok_or_else(|| format!("POST {url}: no order URL (Location)"))?;
        Ok((loc, order))
    }

    pub fn authorization(&mut self, url: &str) -> Result<Authorization, String> {
        self.post(url, None, "application/json")?
            .json("authorization")
    }

    /// Tells the server the challenge is ready to be checked.
    pub fn respond(&mut self, challenge_url: &str) -> Result<(), String> {
        self.post(challenge_url, Some(&json!({})), "application/json")
            .map(|_| ())
    }

    /// Polls the authorization until it is no longer pending.
    pub fn wait_authorization(
        &mut self,
        url: &str,
        deadline: Instant,
    ) -> Result<Authorization, String> {
        let mut wait = POLL_MIN;
        loop {
            let reply = self.post(url, None, "application/json")?;
            let authz: Authorization = reply.json("authorization")?;
            if authz.status != "pending" {
                return Ok(authz);
            }
            wait = pause(wait, reply.retry_after, deadline, "authorization", url)?;
        }
    }

    /// Polls the order until its status is not one of `waiting`.
    pub fn wait_order(
        &mut self,
        url: &str,
        waiting: &[&str],
        deadline: Instant,
    ) -> Result<Order, String> {
        let mut wait = POLL_MIN;
        loop {
            let reply = self.post(url, None, "application/json")?;
            let order: Order = reply.json("order")?;
            if !waiting.contains(&order.status.as_str()) {
                return Ok(order);
            }
            wait = pause(wait, reply.retry_after, deadline, "order", url)?;
        }
    }

    /// Sends the CSR (DER).
    pub fn finalize(&mut self, url: &str, csr: &[u8]) -> Result<Order, String> {
        self.post(url, Some(&json!({"csr": b64(csr)})), "application/json")?
            .json("order")
    }

    /// The issued chain as PEM (leaf first).
    pub fn certificate(&mut self, url: &str) -> Result<String, String> {
        let reply = self.post(url, None, "application/pem-certificate-chain")?;
        let text = String::from_utf8(reply.body)
            .map_err(|_| format!("POST {url}: the certificate is not PEM text"))?;
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!("POST {url}: no certificate in the answer"));
        }
        Ok(text)
    }
}

/// Sleeps before the next poll: the server's Retry-After when it gives one, else a doubling
/// wait; Err once `deadline` would pass.
fn pause(
    wait: Duration,
    retry_after: Option<Duration>,
    deadline: Instant,
    what: &str,
    url: &str,
) -> Result<Duration, String> {
    let this = retry_after.unwrap_or(wait).clamp(POLL_MIN, POLL_MAX);
    if Instant::now() + this > deadline {
        return Err(format!("{what} {url}: still pending, gave up waiting"));
    }
    std::thread::sleep(this);
    Ok((wait * 2).min(POLL_MAX))
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn read_reply(resp: &mut ureq::http::Response<ureq::Body>, url: &str) -> Result<Reply, String> {
    let status = resp.status().as_u16();
    let location = header(resp, "location");
    // Seconds only; an HTTP date falls back to our own pace.
    let retry_after = header(resp, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| format!("{url}: reading the answer: {e}"))?;
    Ok(Reply {
        status,
        location,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::UnparsedPublicKey;

    #[test]
    fn es256_jws_signature_verifies_and_jwk_is_canonical() {
        let (key, der) = AccountKey::generate().unwrap();
        let pem = crate::acme::store::pem("PRIVATE KEY", &der);
        let again = AccountKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(key.thumbprint().unwrap(), again.thumbprint().unwrap());
        let text = key.jwk_text().unwrap();
        assert!(
            text.starts_with(r#"{"crv":"P-256","kty":"EC","x":""#),
            "{text}"
        );
        let sig = key.sign(b"abc.def").unwrap();
        assert_eq!(sig.len(), 64);
        let AccountKey::P256(k) = &key else {
            panic!("not P-256")
        };
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, k.public_key().as_ref())
            .verify(b"abc.def", &sig)
            .unwrap();
        assert_eq!(key.thumbprint().unwrap().len(), 43);
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 section 3.1: the example RSA key's thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let text = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
        let t =
            b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref());
        assert_eq!(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn rsa_and_p384_keys_load_and_sign() {
        use aws_lc_rs::rsa::KeySize;
        let rsa = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&rsa).unwrap();
        let key =
            AccountKey::from_pem(crate::acme::store::pem("PRIVATE KEY", der.as_ref()).as_bytes())
                .unwrap();
        assert_eq!(key.alg(), "RS256");
        let text = key.jwk_text().unwrap();
        assert!(
            text.starts_with(r#"{"e":"AQAB","kty":"RSA","n":""#),
            "{text}"
        );
        assert_eq!(key.sign(b"x").unwrap().len(), 256);

        let ec = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let der = ec.to_pkcs8v1().unwrap();
        let key =
            AccountKey::from_pem(crate::acme::store::pem("PRIVATE KEY", der.as_ref()).as_bytes())
                .unwrap();
        assert_eq!(key.alg(), "ES384");
        assert_eq!(key.sign(b"x").unwrap().len(), 96);
        assert!(AccountKey::from_pem(b"not a key").is_err());
    }

    #[test]
    fn problems_read_well() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no","status":400}"#,
        )
        .unwrap();
        assert_eq!(p.to_string(), "rejectedIdentifier: no");
        assert_eq!(Problem::default().to_string(), "no details");
    }
}

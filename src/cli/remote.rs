//! A running engine's API server, as the kubeconfig `steady run --api` writes names it
//! (server, CA, token), and the few blocking requests the node commands send to it.
//!
//! Deliberately small: one HTTP/1.1 request per connection (`Connection: close`) over TLS
//! with the kubeconfig's CA (rustls, as the server), JSON in and out. What kubectl needs a
//! client library for, these commands do not.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The API server of a running engine.
pub struct Remote {
    host: String,
    port: u16,
    token: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// An answer: the HTTP status and the JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// The `message` of a Kubernetes Status body, or the status code.
    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }
}

impl Remote {
    /// Reads the kubeconfig at `path`: the current context's cluster server and CA and its
    /// user's token.
    pub fn from_kubeconfig(path: &Path) -> Result<Remote, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
        let docs = steady::manifest::parse::parse_documents(&text)
            .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
        let v = docs
            .into_iter()
            .next()
            .map(|d| d.value)
            .ok_or_else(|| format!("kubeconfig {}: empty", path.display()))?;
        let current = v["current-context"].as_str().unwrap_or("");
        let named = |list: &str, name: &str| -> Value {
            v[list]
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|e| name.is_empty() || e["name"] == name)
                        .cloned()
                })
                .unwrap_or(Value::Null)
        };
        let context = &named("contexts", current)["context"];
        let cluster = named("clusters", context["cluster"].as_str().unwrap_or(""));
        let user = named("users", context["user"].as_str().unwrap_or(""));
        let server = cluster["cluster"]["server"]
            .as_str()
            .ok_or_else(|| format!("kubeconfig {}: no cluster server", path.display()))?;
        let (scheme, rest) = server.split_once("://").ok_or_else(|| {
            format!(
                "kubeconfig {}: server {server:?} has no scheme",
                path.display()
            )
        })?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.parse()
                    .map_err(|_| format!("kubeconfig: bad port in server {server:?}"))?,
            ),
            None => (
                authority.to_string(),
                if scheme == "https" { 443 } else { 80 },
            ),
        };
        let tls = if scheme == "https" {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(ca) = cluster["cluster"]["certificate-authority-data"].as_str() {
                let pem = steady::api::base64::decode(ca)
                    .map_err(|e| format!("kubeconfig: certificate-authority-data: {e}"))?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert =
                        cert.map_err(|e| format!("kubeconfig: certificate-authority-data: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("kubeconfig: certificate-authority-data: {e}"))?;
                }
            }
            // The server's provider (see apiserver/tls.rs for why ring, deprecated or not).
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        } else {
            None
        };
        Ok(Remote {
            host,
            port,
            token: user["user"]["token"].as_str().map(str::to_string),
            tls,
        })
    }

    /// Sends `method path` with `body` (as `content_type`), returns the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &Value)>,
    ) -> Result<Reply, String> {
        let what = || format!("{method} {path}");
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .map_err(|e| format!("{}: connecting to {}:{}: {e}", what(), self.host, self.port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let payload = body.map(|(_, v)| v.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            self.port,
            payload.len()
        );
        if let Some((ct, _)) = body {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        let raw = match &self.tls {
            Some(config) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| format!("{}: server name {:?}: {e}", what(), self.host))?;
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| format!("{}: {e}", what()))?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                exchange(&mut s, &head, &payload).map_err(|e| format!("{}: {e}", what()))?
            }
            None => {
                let mut s = tcp;
                exchange(&mut s, &head, &payload).map_err(|e| format!("{}: {e}", what()))?
            }
        };
        parse_reply(&raw).map_err(|e| format!("{}: {e}", what()))
    }
}

/// Writes the request, reads the whole answer (a peer that closes without TLS
/// close_notify after a complete answer is fine).
fn exchange(s: &mut (impl Read + Write), head: &str, payload: &str) -> std::io::Result<Vec<u8>> {
    s.write_all(head.as_bytes())?;
    s.write_all(payload.as_bytes())?;
    s.flush()?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => Ok(raw),
        Err(e) => Err(e),
    }
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("an incomplete HTTP answer")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("an answer without a status")?;
    let chunked = lines.any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..eol])
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| "a bad chunk size")?;
            if size == 0 || rest.len() < eol + 2 + size {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[(eol + 4 + size).min(rest.len())..];
        }
        body = out;
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    Ok(Reply { status, body })
}

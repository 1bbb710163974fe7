//! The serving certificate: generated (a CA of its own, and a certificate it signs for the
//! bound address, `localhost` and `127.0.0.1`), or read from PEM files.

use crate::error::{Error, ObjectRef, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

fn tls_error(message: impl Into<String>) -> Error {
    Error::invalid(ObjectRef::new("ApiServerConfig", None, ""), "tls", message)
}

fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor> {
    // rustls deprecates its ring provider for lacking post-quantum key exchange; the
    // alternative (aws-lc-rs) builds a large C library with every build of the feature.
    // Classical ECDHE is what kube-apiserver offers most clients today too.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_error(format!("the certificate or key is not usable: {e}")))?;
    // HTTP/2 first, as kube-apiserver: kubectl and client-go then send every request of a
    // command over one connection.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A generated CA and a serving certificate it signs; returns the acceptor and the CA (PEM).
pub(super) fn generated(bind: IpAddr) -> Result<(TlsAcceptor, String)> {
    let fail = |e: rcgen::Error| tls_error(format!("cannot generate a certificate: {e}"));
    let ca_key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "steady-ca");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !bind.is_unspecified() && !bind.is_loopback() {
        names.push(bind.to_string());
    }
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(names).map_err(fail)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "steady");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(fail)?;
    let chain = vec![cert.der().clone()];
    let key = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| tls_error(format!("generated key: {e}")))?;
    Ok((acceptor(chain, key)?, ca_cert.pem()))
}

/// The acceptor for a certificate chain and key in PEM files; the chain's last certificate
/// is given back as the CA for the kubeconfig.
pub(super) fn from_files(cert: &Path, key: &Path) -> Result<(TlsAcceptor, String)> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| tls_error(format!("cannot read {}: {e}", p.display())))
    };
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| tls_error(format!("{}: {e}", cert.display())))?;
    let Some(last) = chain.last() else {
        return Err(tls_error(format!("{}: no certificate", cert.display())));
    };
    let ca = pem_of(last);
    let key = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| tls_error(format!("{}: {e}", key.display())))?;
    Ok((acceptor(chain, key)?, ca))
}

fn pem_of(der: &CertificateDer<'_>) -> String {
    let b64 = crate::api::base64::encode(der.as_ref());
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

//! An engine on an etcd that takes only TLS clients with a certificate its CA signed, and
//! whose authentication is on (feature `etcd`; the certificates are made with rcgen, which
//! the `apiserver` feature brings): with the CA, a client certificate and a user whose role
//! may read and write the prefix alone, the engine runs a Deployment there; a wrong password
//! is refused with an error naming etcd.
#![cfg(all(feature = "etcd", feature = "apiserver"))]

mod common;

use common::etcd::{etcdctl, free_port};
use common::eventually;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use steady::store::etcd::EtcdConfig;
use steady::{Engine, Error};

/// A CA, a serving certificate for 127.0.0.1 and a client certificate, as PEM files in `dir`.
fn certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test-ca");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for (name, names, usage) in [
        (
            "server",
            vec!["127.0.0.1".to_string(), "localhost".to_string()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        ("client", Vec::new(), ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    }
}

/// etcd serving clients over TLS only, with client certificates required.
struct SecureEtcd {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl SecureEtcd {
    fn start() -> SecureEtcd {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("etcd-secure-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        certificates(&dir);
        let url = format!("https://127.0.0.1:{}", free_port());
        let peer = format!("http://127.0.0.1:{}", free_port());
        let child = Command::new("etcd")
            .args(["--name", "secure", "--data-dir"])
            .arg(dir.join("data"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("secure={peer}")])
            .arg("--cert-file")
            .arg(dir.join("server.pem"))
            .arg("--key-file")
            .arg(dir.join("server-key.pem"))
            .arg("--trusted-ca-file")
            .arg(dir.join("ca.pem"))
            .arg("--client-cert-auth")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd runs (Debian's etcd-server; .ci/run installs it)");
        let etcd = SecureEtcd { child, url, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while etcd.ctl(&["endpoint", "health"]).is_none() {
            assert!(Instant::now() < deadline, "etcd did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
        etcd
    }

    /// etcdctl over TLS with the client certificate; its stdout when it succeeded.
    fn ctl(&self, args: &[&str]) -> Option<String> {
        let file = |name: &str| self.dir.join(name).display().to_string();
        let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client-key.pem"));
        etcdctl(
            &[
                "--endpoints",
                &self.url,
                "--cacert",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
            ],
            args,
        )
    }

    fn config(&self, password: &str) -> EtcdConfig {
        EtcdConfig::default()
            .tls(
                self.dir.join("ca.pem"),
                Some((self.dir.join("client.pem"), self.dir.join("client-key.pem"))),
            )
            .user("steady", password)
            .timeout(Duration::from_secs(5))
    }
}

impl Drop for SecureEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn an_engine_runs_on_an_etcd_with_tls_client_certificates_and_a_password() {
    let etcd = SecureEtcd::start();
    // Authentication on: root, and a user `steady` whose role reads and writes /steady/
    // and nothing else.
    for args in [
        &["user", "add", "root", "--new-user-password", "root-secret"][..],
        &["role", "add", "steady"],
        &[
            "role",
            "grant-permission",
            "steady",
            "readwrite",
            "/steady/",
            "--prefix=true",
        ],
        &["user", "add", "steady", "--new-user-password", "s3cret"],
        &["user", "grant-role", "steady", "steady"],
        &["auth", "enable"],
    ] {
        etcd.ctl(args)
            .unwrap_or_else(|| panic!("etcdctl {args:?} failed"));
    }

    let wrong = Engine::builder()
        .local_node(false)
        .etcd([etcd.url.clone()], etcd.config("wrong"))
        .build()
        .unwrap_err();
    assert!(matches!(wrong, Error::Backend { .. }), "{wrong}");
    let message = wrong.to_string();
    assert!(message.contains(&etcd.url), "{message}");
    assert!(message.contains("authentication failed"), "{message}");

    let engine = Engine::builder()
        .local_node(false)
        .simulated_nodes(1, 8000, 16 << 30)
        .etcd([etcd.url.clone()], etcd.config("s3cret"))
        .build()
        .unwrap();
    engine
        .apply(
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: sim}]
",
        )
        .unwrap();
    eventually(30, "two pods running", || {
        common::running_pods(&engine).len() == 2
    });
    // What the engine wrote is in etcd, under its prefix, for whoever may read it there.
    let keys = etcd
        .ctl(&[
            "--user",
            "root:root-secret",
            "get",
            "/steady/Deployment/",
            "--prefix",
            "--keys-only",
        ])
        .unwrap();
    assert!(keys.contains("/steady/Deployment/default/web"), "{keys}");
}

//! A throwaway PKI for the Redis TLS tests, made once per test process with
//! `openssl` (scripts/test.sh installs it): a CA, a server certificate for
//! 127.0.0.1 (and `localhost`), one for another name, a client certificate,
//! and an unrelated CA. EC P-256 keys: fast to make.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use deadpool_redis::redis::{ClientTlsConfig, TlsCertificates};

pub struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `openssl` ({e}); scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A self-signed CA `name`.pem / `name`.key.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN={cn}"),
    );
    let mut args = vec!["req", "-x509", "-new", "-nodes"];
    args.extend(EC);
    args.extend([
        "-keyout",
        &key,
        "-out",
        &pem,
        "-days",
        "3",
        "-subj",
        &subj,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
}

/// `name`.pem / `name`.key signed by `ca`, with these subjectAltNames.
fn make_leaf(dir: &Path, ca: &str, name: &str, san: &str) {
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={san}\n"
        ),
    )
    .expect("write ext");
    let mut args = vec!["req", "-new", "-nodes"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=tessera-test"]);
    openssl(dir, &args);
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "3",
            "-extfile",
            &ext,
        ],
    );
}

impl Pki {
    fn make() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("tessera-pki-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        make_ca(d, "ca", "Tessera Test CA");
        make_ca(d, "other-ca", "Somebody Else's CA");
        make_leaf(d, "ca", "server", "IP:127.0.0.1,DNS:localhost");
        make_leaf(d, "ca", "wrong-name", "DNS:redis.elsewhere.test");
        make_leaf(d, "ca", "client", "DNS:tessera-client");
        Pki { dir }
    }

    /// A file of this PKI: `ca.pem`, `other-ca.pem`, `server.pem|key`,
    /// `wrong-name.pem|key`, `client.pem|key`.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).expect("pki file")
    }

    /// What a test's own client trusts and presents: this CA, the client
    /// certificate.
    pub fn client_certificates(&self) -> TlsCertificates {
        TlsCertificates {
            client_tls: Some(ClientTlsConfig {
                client_cert: self.read("client.pem"),
                client_key: self.read("client.key"),
            }),
            root_cert: Some(self.read("ca.pem")),
        }
    }

    /// redis-server arguments for TLS only on `port`: certificate `cert`
    /// (`server` or `wrong-name`), client certificates required or not.
    pub fn server_args(&self, port: u16, cert: &str, auth_clients: bool) -> Vec<String> {
        let p = |f: &str| self.path(f).display().to_string();
        [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &p(&format!("{cert}.pem")),
            "--tls-key-file",
            &p(&format!("{cert}.key")),
            "--tls-ca-cert-file",
            &p("ca.pem"),
            "--tls-auth-clients",
            if auth_clients { "yes" } else { "no" },
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// The one PKI of this test process.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(Pki::make)
}

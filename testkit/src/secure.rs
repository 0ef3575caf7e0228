//! Credentials and certificates for a secured cluster: a cluster secret and an admin token
//! written to files only their owner can read, and, for TLS, a throwaway CA that signs one
//! certificate per service (usable both to serve and, for mutual TLS, to call).
//!
//! Tests, the harness and `scripts/cluster.sh` (through `jepsen-like certs`) make them here,
//! so every secured setup is made the same way.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use toystore_api::transport::ClientTls;
use toystore_api::{Secret, Transport};

/// The files of a secured cluster.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The cluster secret.
    pub cluster_token: PathBuf,
    /// The admin token.
    pub admin_token: PathBuf,
    /// The CA, when TLS is on; service certificates are `<name>.pem` / `<name>-key.pem`.
    pub tls: bool,
}

/// Writes `contents` to a new file readable by its owner only (mode 0600).
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

/// 32 random bytes as hex: a fresh secret.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Secrets {
    /// The files of a secured cluster under `dir`, whether or not they exist yet.
    pub fn at(dir: &Path, tls: bool) -> Self {
        Secrets {
            dir: dir.to_path_buf(),
            cluster_token: dir.join("cluster.token"),
            admin_token: dir.join("admin.token"),
            tls,
        }
    }

    /// Makes a cluster secret and an admin token under `dir`, and with `tls` a CA and a
    /// certificate for each of `names` valid for `hosts` (IP addresses or DNS names).
    pub fn create(dir: &Path, tls: bool, names: &[&str], hosts: &[String]) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        let secrets = Secrets::at(dir, tls);
        write_private(&secrets.cluster_token, random_secret().as_bytes())?;
        write_private(&secrets.admin_token, random_secret().as_bytes())?;
        if tls {
            make_certificates(dir, names, hosts)?;
        }
        Ok(secrets)
    }

    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Certificate and key of service `name`.
    pub fn cert(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}-key.pem")),
        )
    }

    /// The flags service `name` is started with: the cluster secret, the admin token when
    /// `admin` (the services that check admin routes), and its certificate.
    pub fn flags(&self, name: &str, admin: bool) -> Vec<String> {
        let mut args = vec![
            "--cluster-token-file".to_string(),
            self.cluster_token.display().to_string(),
        ];
        if admin {
            args.extend([
                "--admin-token-file".to_string(),
                self.admin_token.display().to_string(),
            ]);
        }
        if self.tls {
            let (cert, key) = self.cert(name);
            args.extend([
                "--tls-cert".to_string(),
                cert.display().to_string(),
                "--tls-key".to_string(),
                key.display().to_string(),
                "--tls-ca".to_string(),
                self.ca().display().to_string(),
            ]);
        }
        args
    }

    /// How a shopper's client reaches the public gateway: no credential, and the CA to
    /// check the gateway's certificate when TLS is on.
    pub fn public_transport(&self) -> anyhow::Result<Transport> {
        let tls = if self.tls {
            Some(ClientTls {
                ca_pem: fs::read(self.ca())?,
                identity_pem: None,
            })
        } else {
            None
        };
        Ok(Transport { token: None, tls })
    }

    /// How an operator's client reaches the cluster: the admin token (accepted wherever a
    /// member is), the CA and, for mutual TLS, the `admin` certificate when one was made.
    pub fn admin_transport(&self) -> anyhow::Result<Transport> {
        let token = Secret::from_file(&self.admin_token)?;
        let tls = if self.tls {
            let (cert, key) = self.cert("admin");
            let identity_pem = if cert.exists() {
                let mut pem = fs::read(&cert)?;
                pem.extend(fs::read(&key)?);
                Some(pem)
            } else {
                None
            };
            Some(ClientTls {
                ca_pem: fs::read(self.ca())?,
                identity_pem,
            })
        } else {
            None
        };
        Ok(Transport {
            token: Some(token),
            tls,
        })
    }
}

/// A CA (`ca.pem`; its key is not kept: nothing is signed later) and one certificate per
/// name, each for serving and calling.
fn make_certificates(dir: &Path, names: &[&str], hosts: &[String]) -> anyhow::Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "toystore throwaway CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;
    fs::write(dir.join("ca.pem"), ca.pem())?;
    for name in names {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(hosts.to_vec())?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("toystore {name}"));
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &ca, &ca_key)?;
        fs::write(dir.join(format!("{name}.pem")), cert.pem())?;
        write_private(
            &dir.join(format!("{name}-key.pem")),
            key.serialize_pem().as_bytes(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_private_and_certificates_load() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let secrets = Secrets::create(dir.path(), true, &["catalog", "admin"], &hosts).unwrap();
        for file in [&secrets.cluster_token, &secrets.admin_token] {
            let mode = fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        let cluster = fs::read_to_string(&secrets.cluster_token).unwrap();
        let admin = fs::read_to_string(&secrets.admin_token).unwrap();
        assert_eq!(cluster.len(), 64);
        assert_ne!(cluster, admin);
        let transport = secrets.admin_transport().unwrap();
        assert_eq!(transport.scheme(), "https");
        transport.builder().unwrap().build().unwrap();
        let flags = secrets.flags("catalog", true);
        assert!(flags.contains(&"--tls-ca".to_string()));
    }
}

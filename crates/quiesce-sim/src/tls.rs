//! HTTPS for the simulator: a CA generated at start-up (rcgen) signs the server certificate,
//! which covers `localhost`, `127.0.0.1`, `::1` and any extra names; rustls (the same one the
//! runner's reqwest uses) serves it. Clients trust the CA's PEM, as they trust an ES
//! cluster's `http_ca.crt`. Nothing is read from disk; the CA is written only where asked.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names every simulator certificate covers.
pub(crate) const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A generated CA and the server configuration its certificate serves.
pub(crate) struct Certificates {
    /// The CA certificate in PEM, for clients to trust.
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

/// Generates a CA and a server certificate it signs for [`DEFAULT_NAMES`] and `extra_names`.
pub(crate) fn generate(extra_names: &[String]) -> Result<Certificates, String> {
    let failed = |what: &str, error: &dyn std::fmt::Display| format!("{what}: {error}");
    let ca_key = KeyPair::generate().map_err(|e| failed("generate the CA key", &e))?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| failed("describe the CA", &e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "quiesce-sim CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)
        .map_err(|e| failed("sign the CA certificate", &e))?;

    let names: Vec<String> = DEFAULT_NAMES
        .iter()
        .map(|name| (*name).to_owned())
        .chain(extra_names.iter().cloned())
        .collect();
    let mut params = CertificateParams::new(names.clone())
        .map_err(|e| failed(&format!("use the names {names:?}"), &e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "quiesce-sim");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let key = KeyPair::generate().map_err(|e| failed("generate the server key", &e))?;
    let cert = params
        .signed_by(&key, &ca)
        .map_err(|e| failed("sign the server certificate", &e))?;

    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("choose TLS versions", &e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key_der)
        .map_err(|e| failed("load the server certificate", &e))?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Certificates {
        ca_pem: ca.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_pem_and_each_start_makes_a_new_one() {
        let first = generate(&["sim.example".to_owned()]).expect("certificates");
        let second = generate(&[]).expect("certificates");
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(first.ca_pem, second.ca_pem);
    }

    #[test]
    fn a_name_that_is_not_a_dns_name_is_refused() {
        let error = generate(&["nöt-ascii".to_owned()]).err().expect("refused");
        assert!(error.contains("nöt-ascii"), "{error}");
    }
}

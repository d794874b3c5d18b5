//! What a refused TLS certificate means, in plain words with what to do: rustls says
//! `InvalidCertificate(UnknownIssuer)` or `Other(OtherError(CaUsedAsEndEntity))`; a person
//! needs to hear that the cluster's CA is not trusted, or that the server shows a CA
//! certificate as its own, and which setting fixes it.
//!
//! Owns the reading of rustls's certificate errors out of a failed connection. Must never
//! decide whether to retry: a refused certificate does not get better by asking again.

use std::error::Error as StdError;

use rustls::CertificateError;

/// Why the cluster's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsProblem {
    /// Signed by a CA that neither the system nor `ES_CA_CERT`/`cluster.ca_cert` trusts.
    UnknownIssuer,
    /// Issued for other names than the URL's host.
    NameMismatch,
    Expired,
    NotYetValid,
    /// The server shows a CA certificate (basic constraints `CA:TRUE`) as its own: a
    /// self-signed certificate made as a CA.
    CaAsServer,
    /// Anything else rustls refused, in its words.
    Other(String),
}

impl TlsProblem {
    /// The certificate problem behind a failed request, if that is what it was.
    pub(crate) fn find(err: &(dyn StdError + 'static)) -> Option<TlsProblem> {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(err) = cause {
            if let Some(rustls::Error::InvalidCertificate(certificate)) =
                err.downcast_ref::<rustls::Error>()
            {
                return Some(TlsProblem::from(certificate));
            }
            // `io::Error::source` skips the error it wraps: look inside.
            cause = match err.downcast_ref::<std::io::Error>() {
                Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
                None => err.source(),
            };
        }
        None
    }

    /// What to do about it.
    pub(crate) fn help(&self) -> String {
        match self {
            TlsProblem::UnknownIssuer => "Give quiesce the certificate (PEM) of the CA that signed the cluster's HTTP certificate: `ES_CA_CERT=path` or `cluster.ca_cert` in the playbook (a self-managed Elasticsearch 8 keeps it in `config/certs/http_ca.crt`).".to_owned(),
            TlsProblem::NameMismatch => "Use a host name the certificate was issued for (its subject alternative names), e.g. the node's DNS name rather than its IP address, or reissue the certificate with this name.".to_owned(),
            TlsProblem::Expired => "Renew the cluster's HTTP certificate (`elasticsearch-certutil http`), or check this machine's clock.".to_owned(),
            TlsProblem::NotYetValid => "Check this machine's clock, or the certificate's start date.".to_owned(),
            TlsProblem::CaAsServer => "A server must show a certificate issued by a CA, not a CA certificate itself. Issue an HTTP certificate from that CA (`elasticsearch-certutil http`) and give quiesce the CA with `ES_CA_CERT`; or make the self-signed certificate with `basicConstraints=critical,CA:FALSE` and give that file as `ES_CA_CERT`.".to_owned(),
            TlsProblem::Other(_) => "Check the cluster's HTTP certificate, and the CA given by `ES_CA_CERT` or `cluster.ca_cert`.".to_owned(),
        }
    }
}

impl From<&CertificateError> for TlsProblem {
    fn from(error: &CertificateError) -> TlsProblem {
        match error {
            CertificateError::UnknownIssuer => TlsProblem::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::NameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsProblem::NotYetValid
            }
            // webpki's error inside rustls's `Other`; only its name says which it is.
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => TlsProblem::CaAsServer,
            other => TlsProblem::Other(format!("{other:?}")),
        }
    }
}

impl std::fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsProblem::UnknownIssuer => f.write_str(
                "its certificate is signed by a certificate authority quiesce does not trust",
            ),
            TlsProblem::NameMismatch => {
                f.write_str("its certificate is not valid for the host name in the URL")
            }
            TlsProblem::Expired => f.write_str("its certificate has expired"),
            TlsProblem::NotYetValid => f.write_str("its certificate is not valid yet"),
            TlsProblem::CaAsServer => f.write_str(
                "it shows a CA certificate (CA:TRUE) as its own certificate, which TLS refuses",
            ),
            TlsProblem::Other(reason) => write!(f, "its certificate was refused: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_read_in_plain_words() {
        let wrapped = std::io::Error::other(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(TlsProblem::find(&wrapped), Some(TlsProblem::UnknownIssuer));
        assert!(TlsProblem::UnknownIssuer.help().contains("ES_CA_CERT"));
        assert_eq!(
            TlsProblem::from(&CertificateError::NotValidForName),
            TlsProblem::NameMismatch
        );
        assert_eq!(
            TlsProblem::from(&CertificateError::Expired),
            TlsProblem::Expired
        );
        let plain = std::io::Error::other("connection refused");
        assert_eq!(TlsProblem::find(&plain), None);
    }
}

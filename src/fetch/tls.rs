//! TLS for the fetcher: the platform's certificate verifier, built at the
//! first handshake.
//!
//! reqwest builds its verifier with the client, and the platform verifier
//! reads every root certificate of the system to do so: about 19 million
//! instructions and a few hundred file reads, 10 % of the main thread's work
//! in a `kisha once` whose 1,000 sources all answer `304` (callgrind). Most government
//! sites kisha watches are https, but a run whose sources are all http (the
//! benchmark, a test) should not pay it, and a run with https sources pays it
//! once, at the first handshake, as before.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_platform_verifier::Verifier;

/// A TLS client configuration for HTTP/1.1 with `provider`'s algorithms,
/// that verifies servers with the platform's roots, loaded at the first
/// handshake.
pub fn client_config(provider: Arc<CryptoProvider>) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LazyVerifier { provider, inner: OnceLock::new() }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// [`Verifier`], made on first use. Its signature schemes are the crypto
/// provider's, as the platform verifier's are, so a handshake can start
/// before the roots are loaded.
struct LazyVerifier {
    provider: Arc<CryptoProvider>,
    inner: OnceLock<Result<Verifier, rustls::Error>>,
}

impl fmt::Debug for LazyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyVerifier").field("loaded", &self.inner.get().is_some()).finish()
    }
}

impl LazyVerifier {
    fn get(&self) -> Result<&Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(|e| rustls::Error::General(format!("unable to load the system's root certificates: {e}")))
    }
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.get()?.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `localhost` (tests/fixtures/tls).
    const SELF_SIGNED: &[u8] = include_bytes!("../../tests/fixtures/tls/self-signed-localhost.der");

    fn verifier() -> LazyVerifier {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        LazyVerifier { provider, inner: OnceLock::new() }
    }

    #[test]
    fn the_roots_are_loaded_at_the_first_verification_only() {
        let v = verifier();
        assert!(!v.supported_verify_schemes().is_empty());
        assert!(v.inner.get().is_none(), "building and offering schemes must not load the roots");
        let name = ServerName::try_from("localhost").unwrap();
        let err = v
            .verify_server_cert(&CertificateDer::from(SELF_SIGNED), &[], &name, &[], UnixTime::now())
            .expect_err("a self-signed certificate is not trusted");
        assert!(v.inner.get().is_some(), "the first verification loads the roots");
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)) || err.to_string().contains("root certificates"),
            "{err}"
        );
    }
}

//! Leaf certificates for intercepted hosts, minted on demand and cached.
//!
//! A leaf names exactly one host: a DNS name, or an IP address for IP literals. It is signed by
//! the proxy CA, valid for seven days from an hour in the past (for clients whose clocks lag)
//! and replaced a day before it expires.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::ServerConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

use super::{ALPN_PROTOCOLS, CertificateAuthority, TlsError, provider};
use crate::address::canonical_host;

/// How long a leaf is valid, counted from when it is minted.
pub(super) const LEAF_VALIDITY: Duration = Duration::days(7);
/// How far `not_before` lies in the past.
const BACKDATE: Duration = Duration::hours(1);
/// How long before expiry a cached leaf is replaced.
pub(super) const RENEW_BEFORE: Duration = Duration::days(1);
/// How many hosts [`LeafCache::new`] keeps leaves for.
pub(super) const DEFAULT_CAPACITY: u64 = 10_000;

impl CertificateAuthority {
    /// Mints a leaf certificate for `host`, with the CA certificate after it in the chain.
    ///
    /// `host` is a DNS name or an IP literal; IPv6 may be written with or without brackets.
    pub fn mint_leaf(&self, host: &str) -> Result<CertifiedKey, TlsError> {
        let host = canonical_host(host);
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        let failed = |source| TlsError::Generate {
            subject: host.clone(),
            source,
        };
        let san = match bare.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(bare.try_into().map_err(failed)?),
        };
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if bare.len() <= 64 {
            params.distinguished_name.push(DnType::CommonName, bare);
        }
        params.subject_alt_names = vec![san];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + LEAF_VALIDITY;
        let cert = params.signed_by(&key, self.issuer()).map_err(failed)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let chain = vec![cert.der().clone(), self.cert_der().clone()];
        Ok(CertifiedKey::from_der(chain, key_der, &provider())?)
    }
}

/// Signs a test leaf and verifies it against the CA certificate alone.
pub(super) fn check_signing(ca: &CertificateAuthority) -> Result<(), String> {
    const PROBE_HOST: &str = "ca-check.invalid";
    let leaf = ca.mint_leaf(PROBE_HOST).map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.cert_der().clone())
        .map_err(|e| e.to_string())?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(PROBE_HOST).map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(&leaf.cert[0], &[], &name, &[], UnixTime::now())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The server configuration that presents a minted leaf.
struct Leaf {
    config: Arc<ServerConfig>,
}

/// Leaf certificates and their server configurations, per host, minted once and reused.
///
/// Concurrent requests for the same host wait for one mint. Entries are dropped
/// a day ahead of expiry, and the least used hosts go first when the cache is full.
pub struct LeafCache {
    ca: Arc<CertificateAuthority>,
    leaves: moka::future::Cache<String, Arc<Leaf>>,
    minted: AtomicU64,
}

impl LeafCache {
    /// A cache for up to 10 000 hosts.
    pub fn new(ca: Arc<CertificateAuthority>) -> Self {
        Self::with_capacity(ca, DEFAULT_CAPACITY)
    }

    /// A cache for up to `hosts` hosts.
    pub fn with_capacity(ca: Arc<CertificateAuthority>, hosts: u64) -> Self {
        let reuse = (LEAF_VALIDITY - RENEW_BEFORE).unsigned_abs();
        Self {
            ca,
            leaves: moka::future::Cache::builder()
                .max_capacity(hosts)
                .time_to_live(reuse)
                .build(),
            minted: AtomicU64::new(0),
        }
    }

    /// The CA that signs the leaves.
    pub fn ca(&self) -> &Arc<CertificateAuthority> {
        &self.ca
    }

    /// How many leaves this cache has minted so far.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    /// A server configuration presenting the leaf for `host` (minted when there is none or it
    /// is near expiry), offering ALPN `h2` and `http/1.1`.
    pub(crate) async fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, TlsError> {
        Ok(self.leaf(host).await?.config.clone())
    }

    async fn leaf(&self, host: &str) -> Result<Arc<Leaf>, TlsError> {
        let host = canonical_host(host);
        let mint = async {
            let key = Arc::new(self.ca.mint_leaf(&host)?);
            let mut config = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(SingleCertAndKey::from(key.clone())));
            config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
            self.minted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%host, "minted a leaf certificate");
            Ok::<_, TlsError>(Arc::new(Leaf {
                config: Arc::new(config),
            }))
        };
        Ok(self.leaves.try_get_with(host.clone(), mint).await?)
    }
}

impl std::fmt::Debug for LeafCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafCache")
            .field("hosts", &self.leaves.entry_count())
            .field("minted", &self.minted())
            .finish_non_exhaustive()
    }
}

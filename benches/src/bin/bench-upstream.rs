//! `bench-upstream`: the small, fast HTTP/1.1 tool that the load harness puts behind nginx and
//! the proxy.
//!
//! `GET /big?bytes=N` streams N zero bytes from one shared buffer (nothing is allocated per
//! byte), `POST`/`PUT /sink` reads and discards the body and answers the byte count, any other
//! `GET` answers a small fixed body. With `--expect-authorization`, requests carrying another
//! `Authorization` value get `401`, so a proxy that fails to inject shows up as errors.
//! With `--tls-ca-out FILE` it serves HTTPS instead: it generates a throwaway CA and a leaf for
//! `127.0.0.1` and `localhost`, and writes the CA certificate (PEM) to FILE before listening.
//! Prints `listening on ADDR` to stdout once it accepts connections.

use std::convert::Infallible;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::{Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The body of every small `GET`.
const SMALL_BODY: &[u8] = b"hello from the bench upstream\n";
/// Size of the shared chunk `/big` repeats.
const CHUNK: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Reply = Response<BoxBody<Bytes, BoxError>>;

#[derive(Parser)]
#[command(about = "A fast upstream for the connectors-proxy load harness")]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Refuse (401) requests whose `Authorization` is not exactly this value.
    #[arg(long)]
    expect_authorization: Option<String>,
    /// Serve HTTPS with a freshly generated CA whose certificate is written to this file.
    #[arg(long)]
    tls_ca_out: Option<PathBuf>,
}

/// `remaining` zero bytes, served in slices of one shared buffer.
struct Zeros {
    chunk: Bytes,
    remaining: u64,
}

impl Body for Zeros {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let body = http_body_util::Full::new(body.into())
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

fn big(query: Option<&str>, chunk: &Bytes) -> Reply {
    let bytes = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("bytes="))
        .and_then(|n| n.parse::<u64>().ok());
    let Some(bytes) = bytes else {
        return full(StatusCode::BAD_REQUEST, "want /big?bytes=N\n");
    };
    let body = Zeros {
        chunk: chunk.clone(),
        remaining: bytes,
    };
    let mut response = Response::new(body.boxed());
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, bytes.into());
    response
}

async fn sink(body: Incoming) -> Reply {
    let mut body = body;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => total += frame.data_ref().map_or(0, |d| d.len() as u64),
            Err(err) => return full(StatusCode::BAD_REQUEST, format!("body error: {err}\n")),
        }
    }
    full(StatusCode::OK, format!("{total}\n"))
}

async fn handle(
    req: Request<Incoming>,
    expected: Option<Arc<str>>,
    chunk: Bytes,
) -> Result<Reply, Infallible> {
    if let Some(expected) = expected {
        let given = req.headers().get(header::AUTHORIZATION);
        if given.is_none_or(|v| v.as_bytes() != expected.as_bytes()) {
            return Ok(full(StatusCode::UNAUTHORIZED, "wrong credentials\n"));
        }
    }
    let reply = match (req.method(), req.uri().path()) {
        (&Method::GET, "/big") => big(req.uri().query(), &chunk),
        (&Method::POST | &Method::PUT, "/sink") => sink(req.into_body()).await,
        (&Method::GET, _) => full(StatusCode::OK, Bytes::from_static(SMALL_BODY)),
        _ => full(StatusCode::METHOD_NOT_ALLOWED, "GET, or POST/PUT /sink\n"),
    };
    Ok(reply)
}

/// A TLS acceptor presenting a leaf for `127.0.0.1`/`localhost` signed by a new CA, whose
/// certificate is written to `ca_out`.
fn tls_acceptor(ca_out: &Path) -> Result<TlsAcceptor, BoxError> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    std::fs::write(ca_out, ca_cert.pem())?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves HTTP/1.1 with keep-alive on one connection until the client closes it.
async fn serve<IO>(io: IO, expected: Option<Arc<str>>, chunk: Bytes)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| handle(req, expected.clone(), chunk.clone()));
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let tls = args.tls_ca_out.as_deref().map(tls_acceptor).transpose()?;
    let listener = TcpListener::bind(&args.listen).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
    }
    let expected: Option<Arc<str>> = args.expect_authorization.map(Arc::from);
    let chunk = Bytes::from(vec![0u8; CHUNK]);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors or a reset during accept: keep serving the others.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let expected = expected.clone();
        let chunk = chunk.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        serve(stream, expected, chunk).await;
                    }
                }
                None => serve(stream, expected, chunk).await,
            }
        });
    }
}

//! `bench-idle`: opens N keep-alive connections to a server, sends one request on each, reads
//! the response and then holds every connection open until the process is stopped.
//!
//! Prints `holding <open> of <wanted> connections (<failed> failed: <first error>)` once all
//! attempts are done, so the caller can sample the server's memory while the sockets are idle.

use std::io::Write as _;
use std::sync::Arc;

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[derive(Parser)]
#[command(about = "Hold many idle keep-alive connections open")]
struct Args {
    /// The server, `HOST:PORT`.
    #[arg(long)]
    addr: String,
    /// The request path, for example `/namespaces/ns/connectors/c/small`.
    #[arg(long, default_value = "/")]
    path: String,
    /// The `Authorization` header value to send, if any.
    #[arg(long)]
    authorization: Option<String>,
    /// How many connections to open.
    #[arg(long)]
    connections: usize,
    /// How many connections to open at the same time.
    #[arg(long, default_value_t = 100)]
    parallel: usize,
}

/// Reads one response (status line, headers, `Content-Length` body); the status code.
async fn read_response(stream: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("connection closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(std::io::Error::other)?;
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(status)
}

async fn open_one(addr: &str, request: &[u8]) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(request).await?;
    match read_response(&mut stream).await? {
        200 => Ok(stream),
        status => Err(std::io::Error::other(format!("status {status}"))),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n",
        args.path, args.addr
    );
    if let Some(value) = &args.authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    let request: Arc<[u8]> = Arc::from(request.into_bytes());
    let addr: Arc<str> = Arc::from(args.addr.as_str());
    let permits = Arc::new(Semaphore::new(args.parallel.max(1)));
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let (request, addr, permits) = (request.clone(), addr.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(std::io::Error::other)?;
            open_one(&addr, &request).await
        }));
    }
    let mut held = Vec::with_capacity(args.connections);
    let mut failed = 0usize;
    let mut first_error = String::from("none");
    for task in tasks {
        match task.await.map_err(std::io::Error::other)? {
            Ok(stream) => held.push(stream),
            Err(err) => {
                if failed == 0 {
                    first_error = err.to_string();
                }
                failed += 1;
            }
        }
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "holding {} of {} connections ({failed} failed: {first_error})",
            held.len(),
            args.connections
        )?;
        out.flush()?;
    }
    // Hold every connection until the caller stops this process.
    std::future::pending::<()>().await;
    drop(held);
    Ok(())
}

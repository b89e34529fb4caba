//! A TCP relay in front of the registry that records what the registry sends back, so a test
//! can compare the registry's own headers with what the proxy's client received.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The most response bytes kept; responses in these tests are small.
const MAX_RECORDED: usize = 4 << 20;

/// A running relay; it lives as long as the test process.
pub(crate) struct Tee {
    /// Where the relay listens.
    pub(crate) port: u16,
    recorded: Arc<Mutex<Vec<u8>>>,
}

impl Tee {
    /// Relays connections to `127.0.0.1:<upstream>`.
    pub(crate) fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let record = recorded.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || copy(c2, s2, None));
                let record = record.clone();
                std::thread::spawn(move || copy(server, client, Some(record)));
            }
        });
        Self { port, recorded }
    }

    /// Every `Location` header value the registry sent, in order.
    pub(crate) fn locations(&self) -> Vec<String> {
        let bytes = self.recorded.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .split("\r\n")
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_owned())
            })
            .collect()
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream, record: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(record) = &record {
            let mut record = record.lock().unwrap();
            let room = MAX_RECORDED.saturating_sub(record.len()).min(n);
            record.extend_from_slice(&buf[..room]);
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

//! A real Prometheus (the Debian `prometheus` binary) on loopback, scraping a metrics
//! endpoint the test controls: the stand-in for a model's own metrics in canary tests.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::poll;

/// An HTTP endpoint serving whatever exposition text the test sets.
pub struct MetricsSource {
    pub port: u16,
    body: Arc<Mutex<String>>,
}

impl MetricsSource {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(Mutex::new(String::new()));
        let served = body.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, &served.lock().unwrap().clone());
            }
        });
        Self { port, body }
    }

    /// Replaces the exposition text served from now on.
    pub fn set(&self, text: &str) {
        *self.body.lock().unwrap() = text.to_string();
    }
}

fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// A Prometheus server scraping `target` every second; stopped on drop.
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Prometheus {
    pub fn start(target_port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("accord-e2e-prometheus-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: model\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus is installed (Debian package prometheus)");
        let prometheus = Self {
            child,
            dir,
            address: format!("http://127.0.0.1:{port}"),
        };
        poll("Prometheus to be ready", Duration::from_secs(60), || {
            let ready = TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
                let _ = s.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
            });
            ready.then_some(()).ok_or_else(|| {
                std::fs::read_to_string(prometheus.dir.join("prometheus.log")).unwrap_or_default()
            })
        });
        prometheus
    }

    /// Waits until a query returns `value` (Prometheus has scraped it).
    pub fn wait_for(&self, query: &str, value: &str) {
        let port = self.address.rsplit(':').next().unwrap().to_string();
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        poll(
            &format!("Prometheus to answer {value} to {query}"),
            Duration::from_secs(30),
            || {
                let mut answer = String::new();
                if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())) {
                    let _ = write!(s, "GET /api/v1/query?query={encoded} HTTP/1.0\r\n\r\n");
                    let _ = s.read_to_string(&mut answer);
                }
                answer
                    .contains(&format!("\"{value}\""))
                    .then_some(())
                    .ok_or(answer)
            },
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

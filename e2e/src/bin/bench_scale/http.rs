//! A keep-alive HTTP/1.1 client on a std `TcpStream`, as a browser tab talks to the
//! board: one connection, requests one after another, each answer read whole (by its
//! `Content-Length`, or chunked) before the next is sent. Timed from the request's
//! first byte written to the answer's last byte read.

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

/// One answer: its status, its body and how long it took.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    pub(super) took: Duration,
}

impl Answer {
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection to `addr` (`127.0.0.1:PORT`, also the `Host` header),
/// opened again when the server closes it.
pub(super) struct Connection {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
    /// The connections opened so far (1 when keep-alive held throughout).
    pub(super) opened: usize,
    /// The session cookie the board set (at its login link), sent with every request.
    cookie: Option<String>,
}

impl Connection {
    pub(super) fn new(addr: &str) -> Connection {
        Connection {
            addr: addr.to_string(),
            reader: None,
            opened: 0,
            cookie: None,
        }
    }

    fn connect(&mut self) -> Result<&mut BufReader<TcpStream>, String> {
        if self.reader.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .map_err(|e| e.to_string())?;
            self.opened += 1;
            self.reader = Some(BufReader::with_capacity(1 << 16, stream));
        }
        Ok(self.reader.as_mut().expect("connected"))
    }

    /// `GET path`; on a connection the server has closed meanwhile, once more on a new
    /// one (that try is the one timed).
    pub(super) fn get(&mut self, path: &str) -> Result<Answer, String> {
        let reused = self.reader.is_some();
        match self.try_get(path) {
            Err(_) if reused => {
                self.reader = None;
                self.try_get(path)
            }
            answer => answer,
        }
    }

    fn try_get(&mut self, path: &str) -> Result<Answer, String> {
        let cookie = self
            .cookie
            .as_ref()
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\nUser-Agent: bench-scale\r\n{cookie}\r\n",
            self.addr
        );
        let reader = self.connect()?;
        let started = Instant::now();
        let answer = reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| format!("send GET {path}: {e}"))
            .and_then(|()| read_response(reader));
        match answer {
            Ok((status, body, close, cookie)) => {
                let took = started.elapsed();
                if cookie.is_some() {
                    self.cookie = cookie;
                }
                if close {
                    self.reader = None;
                }
                Ok(Answer { status, body, took })
            }
            Err(e) => {
                self.reader = None;
                Err(format!("GET {path}: {e}"))
            }
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err("the connection was closed".into()),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// One response read: status, body, whether the server closes the connection, and the
/// cookie it set (`name=value`).
type Received = (u16, Vec<u8>, bool, Option<String>);

/// Reads one response.
fn read_response(reader: &mut impl BufRead) -> Result<Received, String> {
    let status_line = read_line(reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let (mut length, mut chunked, mut close, mut cookie) = (None, false, false, None);
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("set-cookie") {
            cookie = value.split(';').next().map(|c| c.trim().to_string());
        }
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => close = value.contains("close"),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        body
    } else {
        close = true;
        let mut body = Vec::new();
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        body
    };
    Ok((status, body, close, cookie))
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader)?;
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("not a chunk size: {size_line:?}"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|e| e.to_string())?;
        read_line(reader)?;
    }
}

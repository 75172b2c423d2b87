//! A minimal HTTP/1.1 client on a std `TcpStream`: one request per connection
//! (`Connection: close`), the whole response read. It speaks the WebDriver wire
//! ([`crate::browser`]) and sends the hand-made requests a browser never would (a
//! foreign `Host`, a forged form POST), so every header is the caller's to choose.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

/// A response: status code, headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `method path` to `addr` (`host:port`) with `headers` as given (a `Host` header
/// is added only when `headers` has none) and `body`, and reads the response. `Err`
/// when the connection fails or the answer is not HTTP.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("send to {addr}: {e}"))?;
    read_response(&mut stream).map_err(|e| format!("read from {addr}: {e}"))
}

/// Reads until the response is complete: its `Content-Length`, its last chunk, or
/// the end of the connection (a server may keep it open despite `Connection: close`).
fn read_response(stream: &mut TcpStream) -> Result<Response, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        raw.extend_from_slice(&buf[..n]);
        if let Some(response) = parse(&raw, n == 0) {
            return Ok(response);
        }
        if n == 0 {
            return Err(format!(
                "not an HTTP response: {}",
                String::from_utf8_lossy(&raw)
            ));
        }
    }
}

/// `application/x-www-form-urlencoded` of `fields`, as a browser encodes a form.
pub fn form_urlencoded(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The response in `raw`, once it is complete (`eof`: nothing more will come).
fn parse(raw: &[u8], eof: bool) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    let length = response
        .header("content-length")
        .and_then(|l| l.parse().ok());
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    if chunked {
        response.body = dechunk(&response.body)?;
    } else if let Some(length) = length {
        response.body.truncate(length);
        if response.body.len() < length {
            return None;
        }
    } else if !(eof || status == 204 || status == 304 || status < 200) {
        return None;
    }
    Some(response)
}

/// The payload of a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = end + 2;
        out.extend_from_slice(body.get(start..start + size)?);
        body = body.get(start + size + 2..)?;
    }
}

//! A lean HTTP/1.1 `GET` client for the stream bench: one keep-alive connection, the request
//! written in one call, the head read through a small buffer and the body read straight into the
//! caller's buffer (as `wrk` does). The client shares the machine's two cores with the server it
//! measures, so every cycle it spends is taken from the server's share: a general client
//! (`ureq`) copies each body once more through its own buffer and walks it 16 bytes at a time for
//! its trace log, which made the client three times as costly per byte as the kernel's copy and
//! hid most of the difference between two servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The most bytes of a response's head.
const MAX_HEAD: usize = 16 * 1024;

/// One keep-alive connection to the host of a URL.
pub(crate) struct Getter {
    reader: BufReader<TcpStream>,
    host: String,
    target: String,
    request: Vec<u8>,
    line: String,
}

impl Getter {
    /// Connects to `url` (`http://HOST:PORT/PATH?QUERY`), whose target every request asks for.
    pub(crate) fn connect(url: &str) -> Result<Getter, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: not an http:// URL"))?;
        let (host, target) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let stream = TcpStream::connect(host).map_err(|e| format!("{host}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Getter {
            reader: BufReader::with_capacity(8 * 1024, stream),
            host: host.to_owned(),
            target: target.to_owned(),
            request: Vec::with_capacity(256),
            line: String::with_capacity(256),
        })
    }

    /// `GET` the target (the bytes `range` when given, both ends inclusive), reading the body
    /// into the start of `body`: its status and length. A body longer than `body` is an error.
    pub(crate) fn get(
        &mut self,
        range: Option<(u64, u64)>,
        body: &mut [u8],
    ) -> Result<(u16, usize), String> {
        self.request.clear();
        write!(
            self.request,
            "GET {} HTTP/1.1\r\nHost: {}\r\n",
            self.target, self.host
        )
        .map_err(|e| e.to_string())?;
        if let Some((first, last)) = range {
            write!(self.request, "Range: bytes={first}-{last}\r\n").map_err(|e| e.to_string())?;
        }
        self.request.extend_from_slice(b"\r\n");
        self.reader
            .get_mut()
            .write_all(&self.request)
            .map_err(|e| e.to_string())?;

        let mut status = None;
        let mut length = None;
        let mut head = 0;
        loop {
            self.line.clear();
            // At most what is left of the head's bound, plus one byte to see it exceeded.
            let n = (&mut self.reader)
                .take((MAX_HEAD + 1 - head) as u64)
                .read_line(&mut self.line)
                .map_err(|e| e.to_string())?;
            head += n;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            if head > MAX_HEAD {
                return Err(format!("a response head over {MAX_HEAD} bytes"));
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if status.is_none() {
                status = line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse::<u16>().ok())
                    .map(Some)
                    .ok_or_else(|| format!("not an HTTP status line: {line}"))?;
                continue;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("a bad content-length: {line}"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err("a chunked body (this client reads content-length bodies)".into());
            }
        }
        let status = status.ok_or("an empty response head")?;
        let length = length.ok_or("a response without content-length")?;
        let into = body
            .get_mut(..length)
            .ok_or_else(|| format!("a body of {length} bytes, over the buffer"))?;
        // A read at least as large as the buffer skips it once it is drained.
        self.reader.read_exact(into).map_err(|e| e.to_string())?;
        Ok((status, length))
    }
}

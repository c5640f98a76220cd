//! Zero-copy sending of hot blobs: bytes the HTTP server writes that lie inside a hot blob
//! ([`crate::hot`]) go to the socket with `sendfile(2)` from a sealed copy of the blob in a
//! memory file, as nginx sends files, instead of being copied into the socket by `write(2)`.
//!
//! How: a hot blob is held twice, as heap bytes (what responses carry, what hyper sees) and as
//! a `memfd` written from those same bytes and then sealed against any change
//! (`F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`), so the kernel guarantees the
//! two hold the same bytes for as long as both exist. Each such heap buffer is registered here
//! by address for exactly its lifetime (registered when made, unregistered when its last
//! reference drops). The connection type [`Stream`] looks up every large buffer hyper asks it
//! to write: inside a registered buffer, it sends the same range of the sealed file; anywhere
//! else, it writes as usual. Nothing is unsafe: no mapping, only file descriptors.
//!
//! Linux only; elsewhere every write is an ordinary write and [`hold`] keeps no file.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Writes shorter than this are written as usual (a lookup and a second syscall for the
/// response head would cost more than the copy saves).
const MIN_ZERO_COPY: usize = 16 * 1024;

/// Registered buffers: start address → (length, sealed file holding the same bytes).
type Registry = BTreeMap<usize, (usize, Arc<std::os::fd::OwnedFd>)>;

static REGISTRY: RwLock<Registry> = RwLock::new(BTreeMap::new());

fn registry_read() -> std::sync::RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(|p| p.into_inner())
}

fn registry_write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|p| p.into_inner())
}

/// Heap bytes with a sealed file copy; unregistered when dropped (after every `Bytes` slice of
/// it has gone).
struct Held {
    data: Box<[u8]>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.data.is_empty() {
            registry_write().remove(&(self.data.as_ptr() as usize));
        }
    }
}

/// `bytes` as [`Bytes`] that [`Stream`] sends without copying, and the memory this takes in
/// all (the bytes twice when the sealed copy could be made). When the memory file cannot be
/// made (not Linux, or the kernel refuses), the bytes are returned as they are.
pub fn hold(bytes: Bytes) -> (Bytes, usize) {
    let len = bytes.len();
    if len == 0 {
        return (bytes, 0);
    }
    match sealed_copy(&bytes) {
        Ok(fd) => {
            let held = Held {
                data: bytes.to_vec().into_boxed_slice(),
            };
            registry_write().insert(held.data.as_ptr() as usize, (len, Arc::new(fd)));
            (Bytes::from_owner(held), 2 * len)
        }
        Err(e) => {
            tracing::debug!(error = %e, "no sealed copy; this blob is sent by copying");
            (bytes, len)
        }
    }
}

#[cfg(target_os = "linux")]
fn sealed_copy(bytes: &[u8]) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    use std::io::Write as _;
    let fd = rustix::fs::memfd_create(
        "cadenza-hot-blob",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    let fd = std::os::fd::OwnedFd::from(file);
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    )?;
    Ok(fd)
}

#[cfg(not(target_os = "linux"))]
fn sealed_copy(_: &[u8]) -> io::Result<std::os::fd::OwnedFd> {
    Err(io::Error::other("sealed memory files are Linux only"))
}

/// The sealed file and offset holding `buf`, if `buf` lies inside a registered buffer.
fn locate(buf: &[u8]) -> Option<(Arc<std::os::fd::OwnedFd>, u64)> {
    if buf.len() < MIN_ZERO_COPY {
        return None;
    }
    let at = buf.as_ptr() as usize;
    let registry = registry_read();
    let (start, (len, fd)) = registry.range(..=at).next_back()?;
    (at + buf.len() <= start + len).then(|| (fd.clone(), (at - start) as u64))
}

/// A TCP listener whose connections send hot blob bytes with `sendfile(2)`.
#[derive(Debug)]
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Stream, SocketAddr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (Stream(stream), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A connection of [`Listener`].
#[derive(Debug)]
pub struct Stream(pub TcpStream);

impl Stream {
    #[cfg(target_os = "linux")]
    fn poll_send_file(
        &self,
        cx: &mut Context<'_>,
        fd: &std::os::fd::OwnedFd,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            let mut at = offset;
            match self.0.try_io(tokio::io::Interest::WRITABLE, || {
                rustix::fs::sendfile(&self.0, fd, Some(&mut at), len).map_err(io::Error::from)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                sent => return Poll::Ready(sent),
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn poll_send_file(
        &self,
        _: &mut Context<'_>,
        _: &std::os::fd::OwnedFd,
        _: u64,
        _: usize,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::other("sendfile is Linux only here")))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match locate(buf) {
            Some((fd, offset)) => self.poll_send_file(cx, &fd, offset, buf.len()),
            None => Pin::new(&mut self.0).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // Ordinary slices up to the first hot one are written together; a hot slice first in
        // line is sent on its own. Either way a short count is fine: the caller writes the rest.
        // Empty slices in front (a head already written) are skipped.
        let bufs = &bufs[bufs.iter().take_while(|b| b.is_empty()).count()..];
        let hot = bufs.iter().position(|b| locate(b).is_some());
        match hot {
            Some(0) => {
                let (fd, offset) = locate(&bufs[0]).expect("just located");
                self.poll_send_file(cx, &fd, offset, bufs[0].len())
            }
            Some(n) => Pin::new(&mut self.0).poll_write_vectored(cx, &bufs[..n]),
            None => Pin::new(&mut self.0).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn held_bytes_are_sent_by_file_and_arrive_exactly() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let (held, cost) = hold(Bytes::from(data.clone()));
        assert_eq!(&held[..], &data[..]);
        if cfg!(target_os = "linux") {
            assert_eq!(cost, 2 * data.len());
            assert!(locate(&held[1000..100_000]).is_some());
        }
        assert!(
            locate(&data[1000..100_000]).is_none(),
            "other memory is not held"
        );
        assert!(locate(&held[..100]).is_none(), "small writes are ordinary");

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut server = Listener(listener);
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.expect("connect");
            let mut got = Vec::new();
            c.read_to_end(&mut got).await.expect("read");
            got
        });
        let (mut conn, _) = axum::serve::Listener::accept(&mut server).await;
        // A head, then a hot range, as hyper writes a response; then the whole.
        let head = b"HTTP/1.1 206 Partial Content\r\n\r\n";
        let slice = held.slice(12_345..212_345);
        let mut sent = 0;
        while sent < head.len() + slice.len() {
            let parts = [
                io::IoSlice::new(&head[sent.min(head.len())..]),
                io::IoSlice::new(&slice[sent.saturating_sub(head.len())..]),
            ];
            sent += conn.write_vectored(&parts).await.expect("write");
        }
        conn.write_all(&held).await.expect("write all");
        conn.shutdown().await.expect("shutdown");
        drop(conn);
        let got = client.await.expect("client");
        let mut want = head.to_vec();
        want.extend_from_slice(&data[12_345..212_345]);
        want.extend_from_slice(&data);
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the bytes arrived exactly");
        // Once the last reference is gone, nothing is registered at its address.
        let at = held.as_ptr() as usize;
        drop((held, slice));
        assert!(!registry_read().contains_key(&at));
    }
}

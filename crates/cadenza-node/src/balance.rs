//! New connections go to the least busy HTTP thread.
//!
//! Each HTTP thread ([`crate::api::serve_threads`]) accepts on the same listening socket. Every
//! thread is woken for each new connection and the first to call `accept` takes it, so which
//! thread served a connection was chance: with the few long keep-alive connections of players
//! or a benchmark, one thread often served three of four connections while the other idled
//! (`cadenza-bench stream`: runs of one build gave 0.70-1.08 of nginx's rate for 64 KiB ranges
//! and 0.72-0.83 for whole files; with this, 0.95-1.18 and 0.92-1.04). Here each thread counts
//! its open connections, and a thread that has more than another one does not wait in `accept`:
//! woken by a new connection like the others, it looks [`DEFER`] later whether the connection
//! is still waiting. The less busy thread takes a new connection first, and a connection never
//! waits long if that thread is busy.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long a busier thread leaves a waiting connection to the others.
pub const DEFER: Duration = Duration::from_millis(2);

/// Open connections of each HTTP thread.
#[derive(Clone)]
pub struct Loads(Arc<[AtomicUsize]>);

impl Loads {
    /// Counters for `threads` threads, all at zero.
    pub fn new(threads: usize) -> Loads {
        Loads((0..threads.max(1)).map(|_| AtomicUsize::new(0)).collect())
    }

    /// Open connections of thread `i`.
    pub fn of(&self, i: usize) -> usize {
        self.0[i].load(Ordering::Relaxed)
    }

    /// Whether another thread has fewer open connections than thread `me`.
    fn busier(&self, me: usize) -> bool {
        let mine = self.of(me);
        self.0.iter().any(|l| l.load(Ordering::Relaxed) < mine)
    }
}

/// One thread's side of a listening socket shared by several threads (see the module docs).
pub struct Balanced {
    listener: TcpListener,
    loads: Loads,
    me: usize,
}

impl Balanced {
    /// Thread `me`'s listener on `listener` (a clone of the shared socket). Call it on the
    /// thread's runtime: the socket is registered with that runtime's reactor.
    pub fn new(listener: std::net::TcpListener, loads: Loads, me: usize) -> io::Result<Balanced> {
        if me >= loads.0.len() {
            return Err(io::Error::other("a thread number beyond the counters"));
        }
        listener.set_nonblocking(true)?;
        Ok(Balanced {
            listener: TcpListener::from_std(listener)?,
            loads,
            me,
        })
    }

    async fn try_accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            if !self.loads.busier(self.me) {
                return self.listener.accept().await;
            }
            // Busier: a less busy thread takes what arrives first. What it leaves waiting for
            // DEFER is taken here; with nothing waiting, this waits (woken by the listener, with
            // no timer) for the next arrival and then looks again.
            tokio::time::sleep(DEFER).await;
            let listener = &self.listener;
            let mut armed = false;
            let waiting = std::future::poll_fn(|cx| {
                if armed {
                    return Poll::Ready(None);
                }
                match listener.poll_accept(cx) {
                    Poll::Ready(accepted) => Poll::Ready(Some(accepted)),
                    Poll::Pending => {
                        armed = true;
                        Poll::Pending
                    }
                }
            })
            .await;
            if let Some(accepted) = waiting {
                return accepted;
            }
        }
    }
}

impl axum::serve::Listener for Balanced {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            let accepted = self.try_accept().await.and_then(|(stream, addr)| {
                // No Nagle: a response's last partial segment goes out at once rather than
                // after the client's ACK of the segments before it.
                stream.set_nodelay(true)?;
                Ok((stream, addr))
            });
            match accepted {
                Ok((stream, addr)) => {
                    self.loads.0[self.me].fetch_add(1, Ordering::Relaxed);
                    let counted = Counted {
                        stream,
                        loads: self.loads.clone(),
                        me: self.me,
                    };
                    return (counted, addr);
                }
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors, most likely: wait for connections to close.
                    tracing::warn!(error = %e, "cannot accept a connection; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// An accepted connection, counted against its thread until it is dropped.
pub struct Counted {
    stream: TcpStream,
    loads: Loads,
    me: usize,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.loads.0[self.me].fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;

    /// Two threads' listeners on one socket: with one connection open on thread 0, the next
    /// goes to thread 1; a busier thread still takes a connection no other thread takes; and
    /// closing a connection gives its thread's count back.
    #[test]
    fn a_new_connection_goes_to_the_less_busy_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = socket.local_addr().expect("addr");
            let loads = Loads::new(2);
            let mut zero = Balanced::new(socket.try_clone().expect("clone"), loads.clone(), 0)
                .expect("listener 0");
            let mut one = Balanced::new(socket, loads.clone(), 1).expect("listener 1");

            let _first = std::net::TcpStream::connect(addr).expect("connect");
            let (held, _) = zero.accept().await;
            assert_eq!((loads.of(0), loads.of(1)), (1, 0));

            // Both wait for the next connection, thread 0 asked first: busier, it defers to
            // thread 1.
            let _second = std::net::TcpStream::connect(addr).expect("connect");
            let taken = tokio::select! {
                biased;
                (io, _) = zero.accept() => (0, io),
                (io, _) = one.accept() => (1, io),
            };
            assert_eq!(taken.0, 1, "the busier thread took the connection");
            assert_eq!((loads.of(0), loads.of(1)), (1, 1));

            // Thread 1 busier now; with thread 1 not accepting at all, thread 0 still takes
            // the next connection.
            drop(held);
            assert_eq!((loads.of(0), loads.of(1)), (0, 1));
            let _third = std::net::TcpStream::connect(addr).expect("connect");
            let (third, _) = tokio::time::timeout(Duration::from_secs(5), zero.accept())
                .await
                .expect("thread 0 took the connection");
            assert_eq!((loads.of(0), loads.of(1)), (1, 1));
            // Thread 0 busier, thread 1 not accepting: thread 0 takes the next one a moment
            // later rather than leaving it waiting.
            drop(taken);
            let _fourth = std::net::TcpStream::connect(addr).expect("connect");
            let (fourth, _) = tokio::time::timeout(Duration::from_secs(5), zero.accept())
                .await
                .expect("the busier thread took a connection nobody else took");
            assert_eq!((loads.of(0), loads.of(1)), (2, 0));
            drop((third, fourth));
            assert_eq!((loads.of(0), loads.of(1)), (0, 0));
        });
    }
}

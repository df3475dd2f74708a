//! A connection wrapper that can cut an answer short and reset the connection, so the
//! "reset mid-response" and "daemon died while answering" faults look like the real thing to
//! the client (part of the bytes, then a TCP RST). It also spells `WWW-Authenticate` as Kea
//! does: the HTTP library title-cases header names (`Www-Authenticate`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Shared control of one connection.
#[derive(Debug, Default)]
pub struct ConnCtl {
    written: AtomicUsize,
    cut_at: AtomicUsize,
    reset: AtomicBool,
    socket: Mutex<Option<socket2::Socket>>,
}

impl ConnCtl {
    /// Control for a connection; `socket` is a duplicate of its descriptor (for the RST).
    pub fn new(socket: Option<socket2::Socket>) -> Arc<Self> {
        Arc::new(ConnCtl {
            written: AtomicUsize::new(0),
            cut_at: AtomicUsize::new(usize::MAX),
            reset: AtomicBool::new(false),
            socket: Mutex::new(socket),
        })
    }

    /// After `more` further bytes, stop writing and reset the connection.
    pub fn cut_after(&self, more: usize) {
        let at = self.written.load(Ordering::SeqCst).saturating_add(more);
        self.cut_at.store(at, Ordering::SeqCst);
    }

    /// Reset the connection now (RST on close).
    pub fn reset_now(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.arm_rst();
        self.cut_at.store(0, Ordering::SeqCst);
    }

    fn arm_rst(&self) {
        if let Some(s) = self.socket.lock().as_ref() {
            let _ = s.set_linger(Some(Duration::ZERO));
        }
    }

    /// Drop our duplicate of the descriptor (the RST goes out when the last copy closes).
    pub fn release(&self) {
        self.socket.lock().take();
    }
}

/// The wrapped stream.
pub struct FaultIo<S> {
    inner: S,
    ctl: Arc<ConnCtl>,
}

impl<S> FaultIo<S> {
    /// Wrap a stream.
    pub fn new(inner: S, ctl: Arc<ConnCtl>) -> Self {
        FaultIo { inner, ctl }
    }
}

const TITLE_CASED: &[u8] = b"\r\nWww-Authenticate:";
const KEA_CASED: &[u8] = b"\r\nWWW-Authenticate:";
/// How far into a write the 401 head is searched (headers are far shorter).
const HEAD_SCAN: usize = 4096;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn reset_err() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "kea-sim fault: connection reset")
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.ctl.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset_err()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FaultIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = self.ctl.written.load(Ordering::SeqCst);
        let cut = self.ctl.cut_at.load(Ordering::SeqCst);
        if written >= cut {
            self.ctl.reset.store(true, Ordering::SeqCst);
            self.ctl.arm_rst();
            return Poll::Ready(Err(reset_err()));
        }
        let allowed = buf.len().min(cut - written);
        let fixed;
        // Only a 401 head carries the header; the status-line test keeps the hot path free of scans.
        let head = &buf[..allowed.min(HEAD_SCAN)];
        let hit = if head.get(8..12) == Some(b" 401") {
            find(head, TITLE_CASED)
        } else {
            None
        };
        let out = match hit {
            Some(i) => {
                let mut v = buf[..allowed].to_vec();
                v[i..i + KEA_CASED.len()].copy_from_slice(KEA_CASED);
                fixed = v;
                &fixed[..]
            }
            None => &buf[..allowed],
        };
        match Pin::new(&mut self.inner).poll_write(cx, out) {
            Poll::Ready(Ok(n)) => {
                self.ctl.written.fetch_add(n, Ordering::SeqCst);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

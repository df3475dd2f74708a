//! The control socket listener. It follows the daemon's liveness: when the simulated process is
//! down the listening socket is closed (clients get ECONNREFUSED) and open connections are
//! dropped; when it comes back the same address is bound again.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::io::{ConnCtl, FaultIo};
use super::{Endpoint, HttpInput, HttpOutput, process, to_response};
use crate::server::Liveness;

/// Maximum request body (Kea has no small limit either).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Bind a listening socket that can be re-bound right after it is closed.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A running listener.
#[derive(Debug)]
pub struct ListenerHandle {
    /// Bound address.
    pub addr: SocketAddr,
    /// True while the socket is open.
    pub open: watch::Receiver<bool>,
}

impl ListenerHandle {
    /// Wait until the listening socket is open (`true`) or closed (`false`).
    pub async fn wait_open(&mut self, want: bool) {
        let _ = self.open.wait_for(|o| *o == want).await;
    }
}

/// Start serving `endpoint` on an already bound listener.
pub fn spawn(
    listener: TcpListener,
    endpoint: Endpoint,
    tls: Option<TlsAcceptor>,
    liveness: watch::Receiver<Liveness>,
    shutdown: CancellationToken,
) -> ListenerHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (open_tx, open_rx) = watch::channel(true);
    tokio::spawn(run(listener, addr, endpoint, tls, liveness, shutdown, open_tx));
    ListenerHandle { addr, open: open_rx }
}

async fn run(
    first: TcpListener,
    addr: SocketAddr,
    endpoint: Endpoint,
    tls: Option<TlsAcceptor>,
    mut liveness: watch::Receiver<Liveness>,
    shutdown: CancellationToken,
    open: watch::Sender<bool>,
) {
    let mut current = Some(first);
    loop {
        let listener = match current.take() {
            Some(l) => l,
            None => {
                // Down: wait for the daemon to come back, then bind again.
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = liveness.wait_for(|l| *l == Liveness::Up) => if r.is_err() { return; },
                }
                let mut attempt = 0;
                loop {
                    match bind(addr) {
                        Ok(l) => break l,
                        Err(e) => {
                            attempt += 1;
                            if attempt > 200 {
                                tracing::error!(%addr, error = %e, "cannot bind the control socket again");
                                return;
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        };
        if *liveness.borrow() == Liveness::Down {
            drop(listener);
            open.send_replace(false);
            continue;
        }
        open.send_replace(true);
        let conns = shutdown.child_token();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    conns.cancel();
                    return;
                }
                changed = liveness.changed() => {
                    if changed.is_err() || *liveness.borrow() == Liveness::Down {
                        conns.cancel();
                        break;
                    }
                }
                accepted = listener.accept() => {
                    if let Ok((stream, peer)) = accepted {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve_conn(stream, peer, endpoint.clone(), tls.clone(), conns.clone()));
                    }
                }
            }
        }
        drop(listener);
        open.send_replace(false);
    }
}

async fn serve_conn(
    stream: TcpStream,
    peer: SocketAddr,
    endpoint: Endpoint,
    tls: Option<TlsAcceptor>,
    token: CancellationToken,
) {
    let dup = stream
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(socket2::Socket::from);
    let ctl = ConnCtl::new(dup);
    match tls {
        Some(acceptor) => {
            let accepted = tokio::select! {
                _ = token.cancelled() => None,
                r = acceptor.accept(stream) => Some(r),
            };
            match accepted {
                Some(Ok(s)) => {
                    serve_io(FaultIo::new(s, ctl.clone()), peer, endpoint, ctl.clone(), token).await
                }
                Some(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                None => {}
            }
        }
        None => {
            serve_io(
                FaultIo::new(stream, ctl.clone()),
                peer,
                endpoint,
                ctl.clone(),
                token,
            )
            .await
        }
    }
    ctl.release();
}

async fn serve_io<S>(
    io: FaultIo<S>,
    peer: SocketAddr,
    endpoint: Endpoint,
    ctl: Arc<ConnCtl>,
    token: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let ctl = ctl.clone();
        async move { Ok::<_, Infallible>(handle(req, endpoint, peer, ctl).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .title_case_headers(true)
        .auto_date_header(false)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        r = conn => {
            if let Err(e) = r {
                tracing::trace!(%peer, error = %e, "connection ended");
            }
        }
        _ = token.cancelled() => {}
    }
}

async fn handle(
    req: hyper::Request<Incoming>,
    endpoint: Endpoint,
    peer: SocketAddr,
    ctl: Arc<ConnCtl>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let header = |name: hyper::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return to_response(400, Bytes::from(super::stock_body(400)), None, &[]),
    };
    let input = HttpInput {
        method: parts.method.clone(),
        content_type: header(hyper::header::CONTENT_TYPE),
        authorization: header(hyper::header::AUTHORIZATION),
        body,
        has_content_length: parts.headers.contains_key(hyper::header::CONTENT_LENGTH),
        remote: peer.ip(),
    };
    // Like Kea, a request that arrived is processed to the end even when the client hangs up
    // meanwhile (a client timeout during injected latency): the command still takes effect and is
    // logged. So it runs in a task of its own that dropping this connection does not cancel.
    let processing = endpoint.clone();
    let processed = tokio::spawn(async move { process(&processing, input).await }).await;
    let output = match processed {
        Ok(output) => output,
        Err(e) => {
            tracing::error!(error = %e, "request processing failed");
            return to_response(500, Bytes::from(super::stock_body(500)), None, &[]);
        }
    };
    match output {
        HttpOutput::Answer {
            status,
            body,
            www_authenticate,
            headers,
            cut_after,
        } => {
            if let Some(n) = cut_after {
                // Headers take about 110 bytes: cut inside the body.
                ctl.cut_after(110 + n);
            }
            to_response(status, body, www_authenticate.as_deref(), &headers)
        }
        HttpOutput::Hang => std::future::pending().await,
        HttpOutput::ResetNow => {
            ctl.reset_now();
            to_response(500, Bytes::new(), None, &[])
        }
        HttpOutput::ResetThenDown { restart, downtime } => {
            ctl.reset_now();
            super::take_down(&endpoint, restart, downtime);
            // The listener drops this connection once it has closed the listening socket.
            std::future::pending().await
        }
    }
}

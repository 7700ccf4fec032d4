//! The simulator's sockets, with a kill switch on each connection.
//!
//! Some of OVH's failures happen below HTTP: a connection reset in the middle of a poll, or an
//! upstream that cannot be reached at all. To play them, the simulator accepts connections
//! itself ([`FaultListener`]) and wraps each one ([`Wire`]) so that it can be cut at any moment:
//! a cut connection fails its next read or write and is closed with a reset (`SO_LINGER` 0),
//! which is what a client sees when a load balancer drops it. While the upstream is down, new
//! connections are reset as soon as they are accepted.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use futures::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The kill switch of one connection, shared by its socket and the handlers serving it.
#[derive(Debug, Default)]
pub(crate) struct Line {
    cut: AtomicBool,
    /// The connection's task, woken when the line is cut while it waits on the socket.
    waker: AtomicWaker,
}

impl Line {
    /// Resets the connection: whatever it was doing, it fails now.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// The connection a request came on, for handlers (axum's `ConnectInfo`).
#[derive(Clone, Debug)]
pub(crate) struct Conn(pub(crate) Arc<Line>);

impl Connected<IncomingStream<'_, FaultListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        Conn(stream.io().line.clone())
    }
}

/// Every live connection, so that all of them can be cut at once (the upstream going down).
#[derive(Debug, Default)]
pub(crate) struct Lines(Mutex<Vec<Weak<Line>>>);

impl Lines {
    fn add(&self, line: &Arc<Line>) {
        let mut lines = self.0.lock();
        lines.retain(|l| l.strong_count() > 0);
        lines.push(Arc::downgrade(line));
    }

    pub(crate) fn cut_all(&self) {
        for line in self.0.lock().iter().filter_map(Weak::upgrade) {
            line.cut();
        }
    }
}

/// Accepts connections, refusing them (with a reset) while `down` says so.
pub(crate) struct FaultListener {
    pub(crate) inner: TcpListener,
    pub(crate) lines: Arc<Lines>,
    pub(crate) down: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Listener for FaultListener {
    type Io = Wire;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Wire, SocketAddr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if (self.down)() {
                reset_on_close(&stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let line = Arc::new(Line::default());
            self.lines.add(&line);
            return (Wire { stream, line }, addr);
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Makes closing `stream` send a reset rather than an orderly FIN.
#[allow(deprecated)] // Tokio warns that a lingering close blocks; a zero linger never does.
fn reset_on_close(stream: &TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// A TCP connection that fails, with a reset, once its line is cut.
pub(crate) struct Wire {
    stream: TcpStream,
    line: Arc<Line>,
}

impl Wire {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.line.waker.register(cx.waker());
        if self.line.is_cut() {
            reset_on_close(&self.stream);
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        Ok(())
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

//! The daemon's listening socket. A request whose head hyper cannot read — a URI longer
//! than the 65534 bytes it parses, headers past its buffer, a malformed request line —
//! never reaches the router: hyper answers it itself, 414, 431 or 400 with an empty
//! body, and closes the connection. Each connection here rewrites that one answer into
//! the API's JSON error, so every error a client gets says what is wrong the same way.
//!
//! The router answers every error of its own with a JSON body (`linli_alliance::error::json_errors`),
//! so a head of one of those statuses that announces an empty body is hyper's.

use linli_alliance::{ApiErrorBody, ErrorCode};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections answer hyper's own errors as JSON.
pub struct JsonListener(pub TcpListener);

impl axum::serve::Listener for JsonListener {
    type Io = JsonErrors<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, address) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonErrors::new(io), address)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection that writes a JSON error in place of hyper's empty one.
pub struct JsonErrors<T> {
    inner: T,
    /// The rewritten answer, still to be written.
    pending: Vec<u8>,
}

impl<T> JsonErrors<T> {
    pub fn new(inner: T) -> JsonErrors<T> {
        JsonErrors {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Write what is pending of a rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..written);
        }
        Poll::Ready(Ok(()))
    }

    /// Take `head` as written, writing its JSON rewrite instead.
    fn replace(&mut self, cx: &mut Context<'_>, head: usize, answer: Vec<u8>) -> io::Result<usize> {
        self.pending = answer;
        match self.drain(cx) {
            // The rest goes with the flush hyper makes next.
            Poll::Ready(Ok(())) | Poll::Pending => Ok(head),
            Poll::Ready(Err(err)) => Err(err),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            return Poll::Ready(self.replace(cx, buf.len(), answer));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let mut filled = bufs.iter().filter(|buf| !buf.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(answer) = rewrite(only)
        {
            return Poll::Ready(self.replace(cx, only.len(), answer));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The JSON answer in place of `written`, when it is the whole head of one of hyper's
/// own error answers: status 400, 414 or 431 and `content-length: 0`.
fn rewrite(written: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(written).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let (version, rest) = status_line.split_once(' ')?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = rest.get(..3)?.parse().ok()?;
    let message = match status {
        400 => {
            "the request line or a header is malformed; send HTTP/1.1 with a valid method, URI and headers"
        }
        414 => {
            "the URI is longer than the 65534 bytes the daemon reads; send long values in a JSON body"
        }
        431 => "the request's headers are larger than the daemon reads; send less in headers",
        _ => return None,
    };
    let mut date = None;
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            empty = value == "0";
        } else if name.eq_ignore_ascii_case("date") {
            date = Some(value);
        }
    }
    if !empty {
        return None;
    }
    let code = ErrorCode::of_status(status);
    let body = serde_json::to_string(&ApiErrorBody::answer(code, message.to_string()))
        .expect("an error body serialises");
    let mut answer = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = date {
        answer.push_str(&format!("date: {date}\r\n"));
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn hypers_own_empty_errors_become_json_and_nothing_else_changes() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 22 Nov 2026 10:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewrite(hyper).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("date: Sun, 22 Nov 2026"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "uri_too_long");
        let malformed = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(
            String::from_utf8(rewrite(malformed).unwrap())
                .unwrap()
                .contains("bad_request")
        );

        // The router's own answers carry a body: they pass as they are.
        for passing in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 57\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n{}",
            b"{\"code\":\"bad_request\"}",
        ] {
            assert!(rewrite(passing).is_none(), "{}", String::from_utf8_lossy(passing));
        }
    }
}

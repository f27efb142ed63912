//! Just enough HTTP/1.1 for the LongPoll attack: a request out, one response (with a `Content-Length` body) in.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Writes `head` (the request line and headers, without the blank line) and reads the response: (status, body).
pub async fn request(tcp: &mut (impl AsyncRead + AsyncWrite + Unpin), head: &str) -> io::Result<(u16, String)> {
    tcp.write_all(format!("{head}\r\n\r\n").as_bytes()).await?;
    response(tcp).await
}

/// Reads one response: (status, body).
pub async fn response(tcp: &mut (impl AsyncRead + Unpin)) -> io::Result<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned()))
}

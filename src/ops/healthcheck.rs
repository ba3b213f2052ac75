//! `tessera healthcheck`: one HTTP `GET` of `/readyz` (or `/healthz`) on a
//! running Tessera, for container and orchestrator health checks, with no
//! tool in the image but the binary itself (plain HTTP over std's TCP: the
//! service speaks plain HTTP and TLS ends at the proxy in front of it).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The base URL of the service listening on `listen` (`host:port`, as
/// `server.listen`): an unspecified address is probed on loopback.
pub fn local_url(listen: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8080"));
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    format!("http://{host}:{port}")
}

/// `Ok` with the status line when `GET {base}{path}` answers 200 within
/// `timeout`; otherwise one line saying why.
pub fn probe(base: &str, path: &str, timeout: Duration) -> Result<String, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base}: only http:// URLs (Tessera serves plain HTTP)"))?
        .trim_end_matches('/');
    let url = format!("{base}{path}");
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{url}: cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: {authority} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("{url}: cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("{url}: {e}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: tessera-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{url}: cannot send: {e}"))?;
    // The status line is all that matters; read at most a small head.
    let mut head = [0u8; 256];
    let n = stream
        .read(&mut head)
        .map_err(|e| format!("{url}: no answer within {timeout:?}: {e}"))?;
    let text = String::from_utf8_lossy(&head[..n]);
    let status = text.lines().next().unwrap_or_default().trim().to_owned();
    match status.split(' ').nth(1) {
        Some("200") => Ok(format!("{url}: {status}")),
        Some(_) => Err(format!("{url}: {status}")),
        None => Err(format!("{url}: not an HTTP answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::local_url;

    #[test]
    fn an_unspecified_listen_address_is_probed_on_loopback() {
        assert_eq!(local_url("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(local_url("[::]:9000"), "http://[::1]:9000");
        assert_eq!(local_url("10.0.0.5:8081"), "http://10.0.0.5:8081");
    }
}

//! A TCP proxy between a node and Postgres that a test can cut and restore, to play "the
//! database went away" without stopping the machine's Postgres (other tests use it).
//!
//! Cutting closes every open link at once (what a client sees when the server dies) and then
//! either refuses new connections (the port is closed: `ECONNREFUSED`, Postgres stopped) or
//! blackholes them (accepted, never answered: a partition or a hung server). Restoring
//! forwards again on the same port.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forward,
    /// The port is closed: connecting is refused.
    Refuse,
    /// Connections are accepted and then nothing: no byte, no close.
    Blackhole,
}

pub struct DbProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl DbProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, watched) = watch::channel(Mode::Forward);
        let task = tokio::spawn(serve(listener, addr, upstream, watched));
        DbProxy { addr, mode, task }
    }

    /// A proxy in front of the database `url` names, and `url` pointed at the proxy.
    pub async fn in_front_of(url: &str) -> (DbProxy, String) {
        let mut url = url::Url::parse(url).expect("database url");
        let upstream = format!(
            "{}:{}",
            url.host_str().expect("host"),
            url.port().unwrap_or(5432)
        );
        let proxy = DbProxy::start(upstream).await;
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(proxy.addr.port())).expect("port");
        (proxy, url.to_string())
    }

    /// Closes every open link and handles new connections as `mode` says.
    pub fn cut(&self, mode: Mode) {
        assert_ne!(mode, Mode::Forward, "cut with Refuse or Blackhole");
        self.mode.send_replace(mode);
    }

    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: String,
    mut mode: watch::Receiver<Mode>,
) {
    let mut listener = Some(listener);
    let mut links: JoinSet<()> = JoinSet::new();
    let mut held: Vec<TcpStream> = Vec::new();
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Forward => held.clear(),
            // Dropping a link's sockets closes both ends.
            Mode::Refuse | Mode::Blackhole => links.abort_all(),
        }
        match (now, listener.is_some()) {
            (Mode::Refuse, true) => listener = None,
            (Mode::Forward | Mode::Blackhole, false) => listener = Some(rebind(addr).await),
            _ => {}
        }
        tokio::select! {
            changed = mode.changed() => if changed.is_err() { return },
            accepted = accept(listener.as_ref()) => {
                let Ok((stream, _)) = accepted else { continue };
                match now {
                    Mode::Forward => {
                        links.spawn(forward(stream, upstream.clone()));
                    }
                    Mode::Blackhole => held.push(stream),
                    Mode::Refuse => {}
                }
            }
            Some(_) = links.join_next(), if !links.is_empty() => {}
        }
    }
}

async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The same port again (SO_REUSEADDR is set by tokio on Unix, so closed links in TIME_WAIT do
/// not block it).
async fn rebind(addr: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot listen on {addr} again");
}

async fn forward(mut client: TcpStream, upstream: String) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

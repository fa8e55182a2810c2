//! A local S3-compatible server for trying `invigil serve --media s3://...`
//! without a cloud account, and for multi-node tests: `s3s-fs` (a
//! file-backed implementation of the S3 API) with request signatures
//! checked against one access key.
//!
//! ```sh
//! AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local-secret \
//!   cargo run -p invigil-server --example s3_server -- DIR [ADDR:PORT] [BUCKET]
//! ```
//!
//! Serves `DIR` (each subdirectory is a bucket; `BUCKET`, default
//! `invigil-media`, is created) on ADDR:PORT (default 127.0.0.1:9000) until
//! Ctrl-C. Then point the server at it with the same variables and
//! `AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true`.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: s3_server DIR [ADDR:PORT] [BUCKET] (with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set)";
    let root = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let addr: std::net::SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9000".into())
        .parse()
        .map_err(|e| anyhow::anyhow!("ADDR:PORT: {e}; {usage}"))?;
    let bucket = args.next().unwrap_or_else(|| "invigil-media".into());
    let key = std::env::var("AWS_ACCESS_KEY_ID").map_err(|_| anyhow::anyhow!(usage))?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| anyhow::anyhow!(usage))?;
    std::fs::create_dir_all(root.join(&bucket))?;
    let fs =
        s3s_fs::FileSystem::new(&root).map_err(|e| anyhow::anyhow!("{}: {e:?}", root.display()))?;
    let service = {
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(key, secret));
        b.build()
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "S3 server on http://{}, bucket {bucket} in {}",
        listener.local_addr()?,
        root.display()
    );
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

//! A real S3 server for tests: `s3s-fs` (a file-backed implementation of
//! the S3 API) in-process on loopback, with request signatures checked
//! against one access key (`s3s`'s `SimpleAuth`), unlike mocks that accept
//! anything.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use invigil_server::store::S3Options;

pub const ACCESS_KEY: &str = "invigil-test-key";
pub const SECRET_KEY: &str = "invigil-test-secret-0123456789";

/// An S3 server holding one bucket; stops when dropped.
pub struct S3Server {
    pub addr: SocketAddr,
    pub bucket: String,
    pub root: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3Server {
    /// Starts on a free loopback port with bucket `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(bucket)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Self {
            addr,
            bucket: bucket.to_owned(),
            root,
            task,
        }
    }

    /// What the server needs to reach this store with the right key.
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint: Some(format!("http://{}", self.addr)),
            region: Some("us-east-1".into()),
            allow_http: true,
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
        }
    }

    /// The objects under `prefix` in the bucket, as paths relative to it.
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        let base = self.root.path().join(&self.bucket);
        let mut out = Vec::new();
        let mut stack = vec![base.join(prefix)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&base).unwrap().display().to_string();
                    // s3s-fs keeps its own metadata beside the objects.
                    if !rel.contains(".s3s") && !rel.starts_with('.') {
                        out.push(rel);
                    }
                }
            }
        }
        out.sort();
        out
    }
}

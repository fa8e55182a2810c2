//! Media in an S3-compatible object store: `invigil_server::store::S3Store`
//! and a whole server with `--media s3://...`, against a real S3
//! implementation started here (s3s-fs, signatures checked).

mod common;
#[path = "common/s3.rs"]
mod s3;

use bytes::Bytes;
use futures_util::TryStreamExt;
use invigil_server::retention::{self, Reason};
use invigil_server::store::{self, MediaStore, S3Options, S3Store, Sha256Hex};
use s3::S3Server;
use sha2::{Digest, Sha256};

fn digest(body: &[u8]) -> Sha256Hex {
    Sha256Hex::parse(&invigil_core::chain::hex(&Sha256::digest(body))).unwrap()
}

async fn range(store: &dyn MediaStore, sha: &Sha256Hex, r: std::ops::Range<u64>) -> Vec<u8> {
    let chunks: Vec<Bytes> = store
        .get(sha, Some(r))
        .await
        .unwrap()
        .expect("held")
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_keeps_bodies_by_digest_and_serves_ranges() {
    let s3 = S3Server::start("exam-media").await;
    let store = S3Store::open("exam-media/prod", &s3.options()).unwrap();
    assert_eq!(store.describe(), "s3://exam-media/prod");
    let tmp = tempfile::tempdir().unwrap();

    // A clip-sized body: one conditional PUT; again: nothing changes.
    let small: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = digest(&small);
    assert!(store::read_all(&store, &sha).await.unwrap().is_none());
    store::put_bytes(&store, &sha, &small, tmp.path())
        .await
        .unwrap();
    store::put_bytes(&store, &sha, &small, tmp.path())
        .await
        .unwrap();
    assert_eq!(store::read_all(&store, &sha).await.unwrap().unwrap(), small);
    assert_eq!(range(&store, &sha, 1000..1010).await, &small[1000..1010]);
    assert_eq!(
        s3.objects(""),
        [format!("prod/{}/{}", &sha.as_str()[..2], sha.as_str())]
    );

    // Larger than one part (8 MiB): a multipart upload, read back whole
    // and across the part boundary.
    let large: Vec<u8> = (0..9_000_000u32).map(|i| (i % 253) as u8).collect();
    let big = digest(&large);
    store::put_bytes(&store, &big, &large, tmp.path())
        .await
        .unwrap();
    store::put_bytes(&store, &big, &large, tmp.path())
        .await
        .unwrap();
    let at = 8 * 1024 * 1024 - 5;
    assert_eq!(
        range(&store, &big, at..at + 10).await,
        &large[at as usize..at as usize + 10]
    );
    assert_eq!(store::read_all(&store, &big).await.unwrap().unwrap(), large);
    assert_eq!(s3.objects("").len(), 2);

    // Deletion, for retention and session deletion.
    assert!(store.delete(&sha).await.unwrap());
    assert!(!store.delete(&sha).await.unwrap(), "already gone");
    assert!(store::read_all(&store, &sha).await.unwrap().is_none());
    assert_eq!(s3.objects("").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_with_the_wrong_secret_is_refused() {
    let s3 = S3Server::start("exam-media").await;
    let wrong = S3Options {
        secret_access_key: Some("not-the-secret".into()),
        ..s3.options()
    };
    let store = S3Store::open("exam-media", &wrong).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let body = b"a photo".to_vec();
    let err = store::put_bytes(&store, &digest(&body), &body, tmp.path())
        .await
        .expect_err("a bad signature is refused")
        .to_string();
    assert!(err.contains("s3://exam-media"), "{err}");
    assert!(s3.objects("").is_empty(), "nothing stored");
    let err = match store.get(&digest(&body), None).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("read with a bad signature"),
    };
    assert!(err.contains("s3://exam-media"), "{err}");

    // A server so configured does not start: it says so at once rather
    // than at its first upload.
    let dir = tempfile::tempdir().unwrap();
    let mut config = invigil_server::Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.media = Some("s3://exam-media/prod".into());
    config.s3 = wrong;
    let err = match invigil_server::Server::start(config).await {
        Err(e) => format!("{e:#}"),
        Ok(_) => panic!("a server started with a wrong S3 secret"),
    };
    assert!(
        err.contains("cannot use the media store s3://exam-media/prod"),
        "{err}"
    );
    // With the right key it does (the check's key is never written).
    let mut config = invigil_server::Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.media = Some("s3://exam-media/prod".into());
    config.s3 = s3.options();
    let server = invigil_server::Server::start(config).await.unwrap();
    server.shutdown().await.unwrap();
    assert!(s3.objects("").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_keeps_its_media_in_the_bucket() {
    let s3 = S3Server::start("exam-media").await;
    let options = s3.options();
    let s = common::TestServer::start_with(common::Db::Sqlite, |c| {
        c.media = Some("s3://exam-media/prod".into());
        c.s3 = options;
    })
    .await
    .unwrap();
    let proctor = s.proctor("dave").await;
    let (id, token) = s.session("exam-s3", "cand-1").await;
    let body = common::mp4(
        &(0..400_000u32)
            .map(|i| (i * 13 % 241) as u8)
            .collect::<Vec<u8>>(),
    );
    let sha = invigil_core::chain::hex(&Sha256::digest(&body));
    let put = || {
        s.http
            .put(s.url(&format!(
                "/api/v1/sessions/{id}/media/{sha}?name=clip-1.mp4&kind=clip"
            )))
            .bearer_auth(&token)
            .body(body.clone())
            .send()
    };
    assert_eq!(put().await.unwrap().status(), 201);
    assert_eq!(put().await.unwrap().status(), 200, "idempotent");
    // A body that does not match its name is refused and never stored.
    let r = s
        .http
        .put(s.url(&format!(
            "/api/v1/sessions/{id}/media/{}?name=clip-2.mp4&kind=clip",
            "d".repeat(64)
        )))
        .bearer_auth(&token)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let key = format!("prod/{}/{sha}", &sha[..2]);
    assert_eq!(s3.objects(""), [key]);
    assert!(
        !s.dir.path().join("media").join(&sha[..2]).exists(),
        "nothing in the local media directory"
    );

    // Proctors read it back whole and by ranges (seeking in a clip).
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id}/media/{sha}")))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], body.len().to_string());
    assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id}/media/{sha}")))
        .bearer_auth(&proctor)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 1000-1999/{}", body.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &body[1000..2000]);

    // Deleting the session deletes its media from the bucket.
    let purged = retention::purge(
        s.server.state(),
        std::slice::from_ref(&id),
        Reason::Operator,
    )
    .await
    .unwrap();
    assert_eq!((purged.media, purged.files_deleted), (1, 1));
    assert!(s3.objects("").is_empty(), "{:?}", s3.objects(""));
}

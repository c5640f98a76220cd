//! The web app: the static ES modules of `web/` (at the repository root), embedded in the binary
//! at build time and served at `/` next to the API. There is no build step: the files are served
//! as they are written.
//!
//! Every answer carries its content type, `X-Content-Type-Options: nosniff`, and a strong ETag
//! (BLAKE3 of the bytes) with `Cache-Control: no-cache`, so a browser revalidates with one small
//! request and a `304` instead of downloading again; the HTML page also carries a Content
//! Security Policy that allows only this origin.

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// One embedded file.
pub struct Asset {
    /// Its path under `web/` (and under `/` when served).
    pub path: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path)),
        }),*]
    };
}

/// Every file the app serves (a test checks that this list and `web/` agree).
pub const ASSETS: &[Asset] = assets![
    "index.html",
    "favicon.svg",
    "css/app.css",
    "js/app.js",
    "js/api.js",
    "js/ui.js",
    "js/blake3.js",
    "js/encoding.js",
    "js/keys.js",
    "js/proof.js",
    "js/records.js",
    "js/verify.js",
    "js/wallet.js",
    "js/player.js",
    "js/pages/listen.js",
    "js/pages/studio.js",
    "js/pages/explorer.js",
    "js/pages/wallet.js",
];

/// The Content Security Policy of the page: scripts, styles and connections to this origin only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The content type of a file, from its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("txt") | None => "text/plain; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(bytes).to_hex()[..32])
}

fn respond(asset: &'static Asset, etag: &str, request: &HeaderMap) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.bytes.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if asset.path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// The routes of the web app: `/` (the page) and `/<path>` for every embedded file. Anything
/// else falls through to the API's router (and its JSON 404).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for asset in ASSETS {
        let tag = etag(asset.bytes);
        let serve = get(move |headers: HeaderMap| async move { respond(asset, &tag, &headers) });
        if asset.path == "index.html" {
            router = router.route("/", serve.clone());
        }
        router = router.route(&format!("/{}", asset.path), serve);
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn files_under(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("web/ is readable") {
            let path = entry.expect("a directory entry").path();
            let rel = path.strip_prefix(root).expect("under web/");
            if path.is_dir() {
                // Tests and their fixtures are not part of the app.
                if rel != Path::new("tests") {
                    files_under(&path, root, out);
                }
            } else {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_the_app_is_embedded_and_nothing_else() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        on_disk.retain(|p| !p.ends_with(".md"));
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "web::ASSETS must list every file of web/"
        );
    }

    async fn get(router: &mut Router, path: &str, if_none_match: Option<&str>) -> Response {
        use tower::Service as _;
        let mut request = axum::http::Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        router
            .call(request.body(axum::body::Body::empty()).expect("a request"))
            .await
            .expect("infallible")
    }

    #[tokio::test]
    async fn serves_the_page_and_its_modules_with_types_and_etags() {
        let mut router: Router = router();
        let page = get(&mut router, "/", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let tag = page.headers()[header::ETAG]
            .to_str()
            .expect("ascii")
            .to_owned();
        let body = axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .expect("a body");
        assert!(
            std::str::from_utf8(&body)
                .expect("utf-8")
                .contains("<main id=\"main\"")
        );
        // Revalidation answers 304 without the body.
        let again = get(&mut router, "/", Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let module = get(&mut router, "/js/app.js", None).await;
        assert_eq!(module.status(), StatusCode::OK);
        assert_eq!(
            module.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(module.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // Tests are not served; unknown paths are left to the API's fallback.
        let test = get(&mut router, "/tests/encoding.test.mjs", None).await;
        assert_eq!(test.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("css/app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE.txt"), "text/plain; charset=utf-8");
        for asset in ASSETS {
            assert_ne!(
                content_type(asset.path),
                "application/octet-stream",
                "{}",
                asset.path
            );
        }
    }
}

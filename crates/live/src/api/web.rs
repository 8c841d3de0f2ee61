//! The analysts' web page: `/` (the page) and `/ui/{file}` (its scripts and style), embedded
//! in the binary so that the service works with no network and nothing beside it to deploy.
//!
//! The page is plain HTML, CSS and ES2020 modules with no build step (`crates/live/web/`): what
//! is in the repository is what the browser runs. Every answer carries a Content-Security-Policy
//! that allows this origin only, so even a mistake in the page cannot make the browser fetch
//! from elsewhere (the end-to-end test checks that no request leaves the host).

use axum::extract::Path;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// `(file name, content type, contents)` of every file under `/ui/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("../../web/app.css")),
    ("app.js", JS, include_str!("../../web/app.js")),
    ("api.js", JS, include_str!("../../web/api.js")),
    ("i18n.js", JS, include_str!("../../web/i18n.js")),
    ("format.js", JS, include_str!("../../web/format.js")),
    ("chart.js", JS, include_str!("../../web/chart.js")),
    ("inbox.js", JS, include_str!("../../web/inbox.js")),
    ("token.js", JS, include_str!("../../web/token.js")),
    ("detail.js", JS, include_str!("../../web/detail.js")),
    ("seal.js", JS, include_str!("../../web/seal.js")),
    ("stations.js", JS, include_str!("../../web/stations.js")),
    ("replay.js", JS, include_str!("../../web/replay.js")),
    ("favicon.svg", SVG, include_str!("../../web/favicon.svg")),
];
const INDEX: &str = include_str!("../../web/index.html");
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";
const HTML: &str = "text/html; charset=utf-8";

/// Same origin only; no inline script; `data:` images for nothing but the browser's own use.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `GET /`: the page.
pub(super) async fn index() -> Response {
    file(HTML, INDEX)
}

/// `GET /ui/{file}`: one embedded asset, or a 404.
pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => file(kind, body),
        None => super::ApiError::not_found(format!("no file /ui/{name}")).into_response(),
    }
}

fn file(kind: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The page is small and changes with the binary: always revalidate.
            (header::CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
        ],
        body,
    )
        .into_response()
}

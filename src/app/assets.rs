//! The files pages load, embedded in the binary so that no page needs the
//! network or Node: pinned third-party bundles (`assets/vendor/`, listed
//! with their versions and licences in its README) and our own scripts and
//! styles (`assets/pages/`). Each is served at `/assets/{hash}/{name}`, the
//! hash being of its content: a changed file gets a new address, so a
//! browser may keep every address for a year.
//!
//! The dashboard's ES modules import one another by relative paths, which a
//! browser resolves against the importing file's address: those files
//! (`MODULES`) share one hash, of all their contents together, so that
//! `./wallet.js` next to `/assets/{hash}/pages/dashboard/app.js` is the
//! current `wallet.js`, and a change to any of them moves them all.
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where the assets are served, and the route that serves them.
const PREFIX: &str = "/assets";
pub const ROUTE: &str = "/assets/{hash}/{*name}";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Embedded {
    name: &'static str,
    bytes: &'static [u8],
    content_type: &'static str,
    /// One of the module graph's files, which share the graph's hash.
    module: bool,
}

macro_rules! embedded {
    ($name:literal, $content_type:expr) => {
        Embedded {
            name: $name,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name)),
            content_type: $content_type,
            module: false,
        }
    };
}

/// A file of the dashboard's module graph (see the module comment).
macro_rules! module {
    ($name:literal) => {
        Embedded { module: true, ..embedded!($name, JAVASCRIPT) }
    };
}

/// Every file a page may load. A page names them by these names.
const FILES: &[Embedded] = &[
    embedded!("vendor/react-18.3.1/react.production.min.js", JAVASCRIPT),
    embedded!("vendor/react-dom-18.3.1/react-dom.production.min.js", JAVASCRIPT),
    embedded!("vendor/graphiql-4.1.2/graphiql.min.js", JAVASCRIPT),
    embedded!("vendor/graphiql-4.1.2/graphiql.min.css", CSS),
    embedded!("pages/graphiql.js", JAVASCRIPT),
    embedded!("pages/graphiql.css", CSS),
    embedded!("vendor/uplot-1.6.32/uPlot.iife.min.js", JAVASCRIPT),
    embedded!("vendor/uplot-1.6.32/uPlot.min.css", CSS),
    embedded!("pages/dashboard.css", CSS),
    module!("vendor/htm-3.1.1/standalone.module.js"),
    module!("pages/dashboard/api.js"),
    module!("pages/dashboard/queries.js"),
    module!("pages/dashboard/live.js"),
    module!("pages/dashboard/format.js"),
    module!("pages/dashboard/filters.js"),
    module!("pages/dashboard/controls.js"),
    module!("pages/dashboard/limits.js"),
    module!("pages/dashboard/wallet.js"),
    module!("pages/dashboard/topup.js"),
    module!("pages/dashboard/chart.js"),
    module!("pages/dashboard/usage.js"),
    module!("pages/dashboard/platform.js"),
    module!("pages/dashboard/app.js"),
];

struct Asset {
    file: &'static Embedded,
    hash: String,
    url: String,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let graph: Vec<u8> =
        FILES.iter().filter(|file| file.module).flat_map(|file| [file.name.as_bytes(), file.bytes].concat()).collect();
    let graph_hash = fnv1a(&graph);
    FILES
        .iter()
        .map(|file| {
            let hash = format!("{:016x}", if file.module { graph_hash } else { fnv1a(file.bytes) });
            let url = format!("{PREFIX}/{hash}/{}", file.name);
            Asset { file, hash, url }
        })
        .collect()
});

/// The address of an embedded file, by its name under `assets/`.
pub fn url(name: &str) -> Option<&'static str> {
    ASSETS.iter().find(|asset| asset.file.name == name).map(|asset| asset.url.as_str())
}

/// `GET /assets/{hash}/{*name}`: the file, if both its name and its hash
/// are current; a stale hash is a 404 rather than other content at an
/// address a browser keeps for a year.
pub async fn serve(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.file.name == name && asset.hash == hash) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(asset.file.content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
    ];
    (headers, asset.file.bytes).into_response()
}

/// FNV-1a, 64 bits: enough to tell versions of a file apart in an address
/// (it is no defence against anyone, and needs none).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_its_own_address_under_the_prefix() {
        let mut urls: Vec<_> = FILES.iter().map(|file| url(file.name).expect("an address")).collect();
        assert!(urls.iter().all(|url| url.starts_with("/assets/")), "{urls:?}");
        urls.sort_unstable();
        urls.dedup();
        assert_eq!(urls.len(), FILES.len());
        assert_eq!(url("vendor/unknown.js"), None);
    }

    #[test]
    fn the_modules_share_one_folder_so_relative_imports_resolve() {
        let folder = |name: &str| url(name).expect("an address").split('/').nth(2).expect("a hash").to_owned();
        let app = folder("pages/dashboard/app.js");
        assert_eq!(folder("pages/dashboard/wallet.js"), app);
        assert_eq!(folder("vendor/htm-3.1.1/standalone.module.js"), app);
        assert_ne!(folder("pages/dashboard.css"), app);
    }

    #[test]
    fn the_hash_follows_the_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}

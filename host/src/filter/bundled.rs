//! The plugins shipped inside the `moat` binary, built by `host/build.rs` from `plugins/`.

use super::Capability;

/// A plugin embedded in the binary.
#[derive(Debug)]
pub struct BundledPlugin {
    /// Its name (`source = "bundled:NAME"`).
    pub name: &'static str,
    /// The component.
    pub wasm: &'static [u8],
    /// The capabilities it needs, granted unless the operator says otherwise.
    pub capabilities: &'static [Capability],
}

mod generated {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// The capabilities each bundled plugin needs, granted unless the operator says otherwise.
/// A bundled plugin not named here needs none.
const CAPABILITIES: &[(&str, &[Capability])] = &[
    ("dnsbl", &[Capability::Dns]),
    ("reputation", &[Capability::Kv]),
    ("ocr", &[Capability::Ocr]),
    // ocr: `moat learn` reads the images of the messages it learns (no ocr-text then).
    ("bayes", &[Capability::Kv, Capability::Ocr]),
];

/// The order bundled plugins run in unless `[filter] order` says otherwise: cheap checks
/// first (auth only reads the gateway's results), then content; ocr before bayes, which
/// reads ocr's `ocr-text` annotation.
const CANONICAL_ORDER: &[&str] = &["headers", "auth", "dnsbl", "reputation", "ocr", "bayes"];

/// Where the bundled plugin `name` comes in the canonical order (unknown names last).
pub fn rank(name: &str) -> usize {
    CANONICAL_ORDER
        .iter()
        .position(|n| *n == name)
        .unwrap_or(CANONICAL_ORDER.len())
}

fn capabilities(name: &str) -> &'static [Capability] {
    CAPABILITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[], |(_, caps)| caps)
}

static ALL: std::sync::LazyLock<Vec<BundledPlugin>> = std::sync::LazyLock::new(|| {
    generated::WASM
        .iter()
        .map(|(name, wasm)| BundledPlugin {
            name,
            wasm,
            capabilities: capabilities(name),
        })
        .collect()
});

/// Every bundled plugin, in name order.
pub fn all() -> &'static [BundledPlugin] {
    &ALL
}

/// The bundled plugin called `name`.
pub fn find(name: &str) -> Option<&'static BundledPlugin> {
    all().iter().find(|p| p.name == name)
}

/// The names of the bundled plugins, comma-separated, for error messages.
pub fn names() -> String {
    all().iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

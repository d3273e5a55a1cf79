//! The Rust bindings wit-bindgen generates from `wit/` (the `moat:filter` package,
//! world `plugin`). Internal: plugin authors use the typed modules of this crate and
//! [`export_plugin!`](crate::export_plugin); only the macro reaches in here.

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "moat_sdk::bindings",
});

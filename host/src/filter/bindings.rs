//! Host bindings generated from the WIT package `moat:filter` (wit/), and nothing else.

#![allow(missing_docs, reason = "generated code")]
#![allow(unreachable_pub, reason = "generated code")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: {
        "moat:filter/dns.lookup": async | trappable,
        "moat:filter/dns.lookup-all": async | trappable,
        "moat:filter/ocr.recognize": async | trappable,
        "moat:filter/kv": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "moat:filter/message.message": crate::message::MessageHandle,
    },
});

//! Write Moat filter plugins in plain Rust.
//!
//! A Moat plugin is a WebAssembly component the gateway calls at the stages of each SMTP
//! conversation it asks for. It answers with a [`Verdict`]: named, scored findings
//! ([`Symbol`]s) that the operator weighs, and optionally an [`Action`] it demands. This
//! crate hides the component plumbing: implement [`Plugin`], export it with
//! [`export_plugin!`], and build for `wasm32-wasip2`.
//!
//! # Quick start
//!
//! ```no_run
//! use moat_sdk::{export_plugin, Message, Plugin, PluginInfo, Session, Stage, Verdict};
//!
//! /// Scores messages whose subject offers money.
//! struct Money;
//!
//! impl Plugin for Money {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("money", env!("CARGO_PKG_VERSION"), [Stage::Data])
//!     }
//!
//!     fn on_data(_session: &Session, message: &Message) -> Verdict {
//!         let subject = message.subject().unwrap_or_default().to_lowercase();
//!         if subject.contains("free money") {
//!             return Verdict::new().symbol("MONEY_SUBJECT", 3.0, "subject offers free money");
//!         }
//!         Verdict::new()
//!     }
//! }
//!
//! export_plugin!(Money);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` (the crate needs
//! `crate-type = ["cdylib"]`), try it with `moat plugin test money.wasm message.eml`, and
//! drop the `.wasm` into the gateway's plugin directory. The crate's README walks through
//! it.
//!
//! # What a plugin can use
//!
//! - The [`Session`] (client, envelope, notes from earlier plugins) at every stage, and the
//!   [`Message`] at the data stage.
//! - Host capabilities, each granted or denied per plugin by the operator: [`dns`],
//!   [`kv`] (persistent storage) and [`ocr`]. Denied calls fail with a `Denied` error.
//! - Always: [`log`], [`config`] (the plugin's own settings), [`clock`], [`domain`] (the
//!   registrable domain, from the gateway's Public Suffix List), and [`sender_auth`] (the
//!   gateway's SPF, DKIM, DMARC and ARC results for the message).
//! - Helpers: [`url::Url`] (a link parsed and normalised; [`Message::links`]) and, for
//!   native unit tests, [`testing`] (the in-memory store `kv` uses there).
//!
//! Plugins get no filesystem, network, environment variables or real clock. Every call
//! runs in a fresh sandbox with a time and memory budget; a plugin keeps nothing between
//! calls except through [`kv`].

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings;

pub mod clock;
pub mod config;
pub mod dns;
pub mod domain;
mod export;
pub mod kv;
pub mod log;
mod message;
pub mod ocr;
mod outcome;
mod plugin;
pub mod scores;
pub mod sender_auth;
mod session;
pub mod testing;
pub mod url;
mod verdict;

#[doc(hidden)]
pub use export::PluginExport;
pub use message::{Address, Attachment, Header, Message};
pub use outcome::{Decision, Label, LearnOutcome, ScoredSymbol, Thresholds};
pub use plugin::{Plugin, PluginInfo, SDK_VERSION, Stage};
pub use session::{Annotation, ClientInfo, Envelope, Session, TlsInfo};
pub use verdict::{Action, Symbol, Verdict};

/// Exports a [`Plugin`] as the component's implementation of the `moat:filter` contract.
///
/// Invoke it once, at the top level of the plugin crate (a `cdylib`), with the type that
/// implements [`Plugin`]:
///
/// ```no_run
/// use moat_sdk::{Plugin, PluginInfo, Stage};
///
/// struct Quiet;
///
/// impl Plugin for Quiet {
///     fn describe() -> PluginInfo {
///         PluginInfo::new("quiet", "0.1.0", [Stage::Data])
///     }
/// }
///
/// moat_sdk::export_plugin!(Quiet);
/// # fn main() {}
/// ```
///
/// It generates the functions the host calls, converts their arguments to this crate's
/// types and the answers back, and fills in [`SDK_VERSION`] in the plugin's info.
///
/// The exports exist only when building for WebAssembly. A native build (`cargo test`,
/// `cargo clippy`) just checks that the type implements [`Plugin`]: the export names are
/// not valid native symbol names, and the host functions behind the [`Message`] methods
/// and the capability modules exist only in the gateway (natively they panic), except
/// [`kv`], which natively works on an in-memory store ([`testing`]). Unit-test a plugin's
/// logic as plain functions, with its kv calls as they are.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type MoatPluginExport = $crate::PluginExport<$plugin>;
    $crate::bindings::export!(MoatPluginExport with_types_in $crate::bindings);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = $crate::assert_plugin::<$plugin>;
    };
}

/// Compiles only for a type implementing [`Plugin`]; [`export_plugin!`] uses it in native
/// builds. Not for direct use.
#[doc(hidden)]
pub fn assert_plugin<P: Plugin>() {}

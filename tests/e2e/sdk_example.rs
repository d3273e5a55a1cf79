//! The example third-party plugin, built only against moat-sdk, runs under
//! `moat plugin test` and from a plugin directory.

use moat::test_guests::EXAMPLE_HELLO;
use moat_test_support::{scratch, workspace_root};

use crate::{message, moat};

#[test]
fn plugin_hello_depends_on_nothing_of_moat_but_the_sdk() {
    let manifest =
        std::fs::read_to_string(workspace_root().join("examples/plugin-hello/Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let deps = manifest["dependencies"].as_table().unwrap();
    let moat_deps: Vec<&String> = deps.keys().filter(|k| k.starts_with("moat")).collect();
    assert_eq!(moat_deps, ["moat-sdk"]);
}

#[test]
fn plugin_test_runs_the_example_plugin_and_shows_its_verdict() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("m.eml"),
        message("Free money, act now", "", "hello"),
    )
    .unwrap();
    let out = moat(
        dir.path(),
        &["plugin", "test", "--json", EXAMPLE_HELLO, "m.eml"],
    );
    out.assert_success();
    let stages = out.json_lines();
    let data = stages
        .iter()
        .find(|s| s["stage"] == "data")
        .expect("the plugin runs at the data stage");
    let symbols = data["verdict"]["symbols"].as_array().unwrap();
    assert!(
        symbols.iter().any(|s| s["name"] == "HELLO_SUBJECT_PHRASE"),
        "{data}"
    );
    assert!(
        data["elapsed_us"].as_u64().is_some() && data["peak_memory"].as_u64().unwrap() > 0,
        "{data}"
    );
}

#[test]
fn a_plugin_dropped_into_the_plugin_dir_runs_with_its_side_config() {
    let dir = scratch();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(EXAMPLE_HELLO, plugins.join("hello.wasm")).unwrap();
    std::fs::write(
        plugins.join("hello.toml"),
        "weight = 2.0\n[config.phrases]\n\"quarterly invoice\" = 4.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("moat.toml"),
        "[server]\ndata_dir = \"data\"\n[filter]\nplugin_dir = \"plugins\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("m.eml"),
        message("Your quarterly invoice", "", "hello"),
    )
    .unwrap();
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", "moat.toml", "m.eml"],
    );
    out.assert_success();
    let value = &out.json_lines()[0];
    let symbol = value["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["plugin"] == "hello")
        .unwrap_or_else(|| panic!("{value}"));
    assert_eq!(symbol["name"], "HELLO_SUBJECT_PHRASE");
    assert_eq!(symbol["score"], 4.0);
    assert_eq!(symbol["weight"], 2.0);
    assert_eq!(symbol["contribution"], 8.0);
}

/// `examples/plugin-hello` built against the WIT package before the `sender-auth`
/// interface was added (tests/golden/): plugins built against an older SDK keep loading.
const GOLDEN_HELLO: &str = "tests/golden/plugin-hello-wit-0.1.0.wasm";

#[test]
fn a_plugin_built_against_the_first_wit_still_loads_and_runs() {
    let dir = scratch();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        workspace_root().join(GOLDEN_HELLO),
        plugins.join("hello.wasm"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("moat.toml"),
        "[server]\ndata_dir = \"data\"\n[filter]\nplugin_dir = \"plugins\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("m.eml"),
        message("Free money, act now", "", "hello"),
    )
    .unwrap();
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", "moat.toml", "m.eml"],
    );
    out.assert_success();
    let value = &out.json_lines()[0];
    let names: Vec<(&str, &str)> = value["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["plugin"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    assert!(
        names.contains(&("hello", "HELLO_SUBJECT_PHRASE")),
        "{value}"
    );
    let golden = std::fs::read(workspace_root().join(GOLDEN_HELLO)).unwrap();
    assert!(
        !golden
            .windows(b"sender-auth".len())
            .any(|w| w == b"sender-auth"),
        "the golden plugin predates the sender-auth interface"
    );
}

//! Golden tests: the shipped configs load; each invalid config fails with exactly the
//! message in its `.err` file (error text is product text, reviewed like output).

use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/tests")
}

#[test]
fn the_embedded_default_loads() {
    let config = Config::embedded_default().unwrap();
    assert_eq!(config.server.data_dir, Path::new("moat-data"));
    assert_eq!(config.thresholds.reject, 15.0);
}

#[test]
fn the_documented_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/moat.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config.plugin.contains_key("headers"),
        "examples/moat.toml documents the bundled plugin's section"
    );
    assert_eq!(
        config.headers,
        super::HeadersConfig::default(),
        "examples/moat.toml shows the [headers] defaults"
    );
}

#[test]
fn invalid_configs_fail_with_the_reviewed_message() {
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(tests_dir().join("invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for toml in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let name = toml.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(toml).unwrap();
        let error = Config::parse(&text, &name).expect_err(&name);
        // MOAT_BLESS=1 writes the current messages; review the diff before committing.
        if std::env::var_os("MOAT_BLESS").is_some() {
            std::fs::write(toml.with_extension("err"), format!("{error}\n")).unwrap();
        }
        let expected = std::fs::read_to_string(toml.with_extension("err"))
            .unwrap_or_else(|_| panic!("{name} has no .err file"));
        assert!(
            matches!(
                error,
                ConfigError::Parse { .. } | ConfigError::Invalid { .. }
            ),
            "{name}"
        );
        assert_eq!(error.to_string().trim_end(), expected.trim_end(), "{name}");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} invalid configs were checked");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "[thresholds]\ntag = 20.0\nquarantine = 10.0\nreject = 5.0\n[filter]\nmemory_limit = \"1MiB\"\n";
    let Err(ConfigError::Invalid { problems, .. }) = Config::parse(text, "t") else {
        panic!("expected Invalid")
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "filter.memory_limit",
            "thresholds.quarantine",
            "thresholds.reject"
        ]
    );
}

#[test]
fn plugin_settings_from_moat_toml_win_over_the_side_file_key_by_key() {
    let side: super::PluginSettings = toml::from_str("weight = 2.0\non_error = \"tempfail\"\n[symbols]\nA = 1.0\nB = 1.0\n[config]\nx = 1\ny = 2").unwrap();
    let operator: super::PluginSettings =
        toml::from_str("weight = 3.0\n[symbols]\nB = 5.0\n[config]\ny = 9").unwrap();
    let merged = operator.over(&side);
    assert_eq!(merged.weight, Some(3.0));
    assert_eq!(merged.on_error, Some(super::OnError::Tempfail));
    assert_eq!(merged.symbols.get("A"), Some(&1.0));
    assert_eq!(merged.symbols.get("B"), Some(&5.0));
    let config = merged.config.unwrap();
    assert_eq!(config.get("x").and_then(toml::Value::as_integer), Some(1));
    assert_eq!(config.get("y").and_then(toml::Value::as_integer), Some(9));
}

#[test]
fn the_dnsbl_test_example_is_the_embedded_default_but_for_its_lists_and_resolver() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dnsbl-test.toml");
    let mut example = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut embedded = Config::embedded_default().unwrap();
    assert_eq!(
        example.dns.nameservers,
        ["127.0.0.1:5353".parse::<std::net::SocketAddr>().unwrap()]
    );
    let lists = example.plugin["dnsbl"].config.as_ref().unwrap()["lists"]
        .as_array()
        .unwrap();
    assert!(
        lists
            .iter()
            .any(|l| l["zone"].as_str() == Some("bl.moat.test"))
    );
    assert!(
        lists
            .iter()
            .any(|l| l["zone"].as_str() == Some("dbl.moat.test"))
    );
    for config in [&mut example, &mut embedded] {
        config.dns.nameservers.clear();
        if let Some(dnsbl) = config.plugin.get_mut("dnsbl") {
            dnsbl.config = None;
        }
    }
    assert_eq!(
        example, embedded,
        "dnsbl-test.toml differs from the embedded default elsewhere"
    );
}

#[test]
fn a_relative_tls_ca_file_is_read_from_the_config_files_folder() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["mx.test".to_owned()]).unwrap();
    std::fs::write(dir.path().join("ca.pem"), certified.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("moat.toml"),
        "[[delivery.route]]\ndomains = [\"example.org\"]\nservers = [\"10.0.0.5:25\"]\n\
         tls = \"verify\"\ntls_ca_file = \"ca.pem\"\n",
    )
    .unwrap();
    // The check reads the file: from the config's folder, not the current directory.
    let config = Config::load(&dir.path().join("moat.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.delivery.route[0].tls_ca_file.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
}

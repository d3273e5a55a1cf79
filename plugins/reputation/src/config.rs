//! The plugin's settings, from its config table. Every key is optional.

use serde::Deserialize;

use crate::subject::Kind;

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// The settings. Unknown keys make the whole table invalid (the plugin then logs an error
/// and runs on the defaults); a known key with an unusable value is replaced by its default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// After this many days without traffic, a history's counts are halved.
    pub(crate) half_life_days: f64,
    /// A subject gets no reputation symbol until its decayed history holds this many messages.
    pub(crate) min_messages: f64,
    /// The largest score (either sign) of `REPUTATION_IP`.
    pub(crate) max_score_ip: f64,
    /// The largest score (either sign) of `REPUTATION_NET`.
    pub(crate) max_score_net: f64,
    /// The largest score (either sign) of `REPUTATION_SENDER_DOMAIN`.
    pub(crate) max_score_sender_domain: f64,
    /// The largest score (either sign) of `REPUTATION_HELO`.
    pub(crate) max_score_helo: f64,
    /// The length of the burst-counting window, in seconds.
    pub(crate) window_seconds: u64,
    /// More connections than this from one IP in a window is a burst.
    pub(crate) max_connections_per_window: u32,
    /// More recipients than this from one IP in a window is a burst.
    pub(crate) max_recipients_per_window: u32,
    /// Neither score nor learn from logged-in users' sessions (submission): their
    /// addresses are home and mobile networks, and their mail would whitewash an address
    /// that then connects to the MX.
    pub(crate) exclude_authenticated: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            half_life_days: 14.0,
            min_messages: 5.0,
            max_score_ip: 3.0,
            max_score_net: 1.5,
            max_score_sender_domain: 2.0,
            max_score_helo: 1.0,
            window_seconds: 60,
            max_connections_per_window: 30,
            max_recipients_per_window: 100,
            exclude_authenticated: true,
        }
    }
}

impl Config {
    /// The half-life in milliseconds.
    pub(crate) fn half_life_ms(&self) -> f64 {
        self.half_life_days * DAY_MS
    }

    /// The burst window in milliseconds.
    pub(crate) fn window_ms(&self) -> u64 {
        self.window_seconds.saturating_mul(1000)
    }

    /// The largest score of a subject kind.
    pub(crate) fn max_score(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Ip => self.max_score_ip,
            Kind::Net => self.max_score_net,
            Kind::SenderDomain => self.max_score_sender_domain,
            Kind::Helo => self.max_score_helo,
        }
    }

    /// The config with every unusable value replaced by its default, and what was replaced.
    /// Unusable: a half-life that is not a positive finite number (or is so large that a
    /// millisecond count overflows), a negative or non-finite `min_messages` or maximum
    /// score, a zero window.
    pub(crate) fn validated(mut self) -> (Self, Vec<String>) {
        let defaults = Self::default();
        let mut problems = Vec::new();
        let mut check = |name: &str, value: &mut f64, default: f64, ok: bool| {
            if !ok {
                problems.push(format!(
                    "config key `{name}` = {value} is not usable; using {default}"
                ));
                *value = default;
            }
        };
        let half_life = self.half_life_days;
        check(
            "half_life_days",
            &mut self.half_life_days,
            defaults.half_life_days,
            half_life > 0.0 && (half_life * DAY_MS).is_finite(),
        );
        let min = self.min_messages;
        check(
            "min_messages",
            &mut self.min_messages,
            defaults.min_messages,
            min.is_finite() && min >= 0.0,
        );
        for (name, value, default) in [
            (
                "max_score_ip",
                &mut self.max_score_ip,
                defaults.max_score_ip,
            ),
            (
                "max_score_net",
                &mut self.max_score_net,
                defaults.max_score_net,
            ),
            (
                "max_score_sender_domain",
                &mut self.max_score_sender_domain,
                defaults.max_score_sender_domain,
            ),
            (
                "max_score_helo",
                &mut self.max_score_helo,
                defaults.max_score_helo,
            ),
        ] {
            let ok = value.is_finite() && *value >= 0.0;
            check(name, value, default, ok);
        }
        if self.window_seconds == 0 {
            problems.push(format!(
                "config key `window_seconds` = 0 is not usable; using {}",
                defaults.window_seconds
            ));
            self.window_seconds = defaults.window_seconds;
        }
        (self, problems)
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};

    use super::*;

    fn parse<V>(pairs: Vec<(&str, V)>) -> Result<Config, Error>
    where
        V: for<'de> serde::de::IntoDeserializer<'de, Error>,
    {
        Config::deserialize(MapDeserializer::new(pairs.into_iter()))
    }

    #[test]
    fn empty_table_gives_defaults() {
        let config = parse::<f64>(vec![]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.half_life_ms(), 14.0 * DAY_MS);
        assert_eq!(config.window_ms(), 60_000);
        assert_eq!(config.max_score(Kind::Ip), 3.0);
        assert_eq!(config.max_score(Kind::Net), 1.5);
        assert_eq!(config.max_score(Kind::SenderDomain), 2.0);
        assert_eq!(config.max_score(Kind::Helo), 1.0);
        assert_eq!(config.min_messages, 5.0);
        assert_eq!(config.max_connections_per_window, 30);
        assert_eq!(config.max_recipients_per_window, 100);
    }

    #[test]
    fn keys_override_defaults() {
        let config = parse(vec![("half_life_days", 7.0), ("max_score_helo", 0.5)]).unwrap();
        assert_eq!(config.half_life_days, 7.0);
        assert_eq!(config.max_score_helo, 0.5);
        assert_eq!(config.max_score_ip, 3.0);
        let config = parse(vec![
            ("window_seconds", 10_u64),
            ("max_connections_per_window", 5),
            ("max_recipients_per_window", 7),
        ])
        .unwrap();
        assert_eq!(config.window_ms(), 10_000);
        assert_eq!(config.max_connections_per_window, 5);
        assert_eq!(config.max_recipients_per_window, 7);
    }

    #[test]
    fn unknown_keys_and_bad_types_are_errors() {
        assert!(parse(vec![("half_life", 7.0)]).is_err());
        assert!(parse(vec![("window_seconds", "soon")]).is_err());
    }

    #[test]
    fn unusable_values_fall_back_to_defaults() {
        let (config, problems) = Config {
            half_life_days: 0.0,
            min_messages: -1.0,
            max_score_ip: f64::NAN,
            max_score_net: -2.0,
            max_score_sender_domain: f64::INFINITY,
            max_score_helo: 0.0,
            window_seconds: 0,
            ..Config::default()
        }
        .validated();
        assert_eq!(
            config,
            Config {
                max_score_helo: 0.0,
                ..Config::default()
            }
        );
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(problems[0].contains("half_life_days"));

        let (config, problems) = Config {
            half_life_days: f64::MAX,
            ..Config::default()
        }
        .validated();
        assert_eq!(config, Config::default());
        assert_eq!(problems.len(), 1);

        let (config, problems) = Config::default().validated();
        assert_eq!(config, Config::default());
        assert!(problems.is_empty());
    }
}

//! Test support: a small JSON reader and serde deserializer, so config tests can feed the
//! plugin's serde types the JSON the host hands to `moat_sdk::config::all` without a
//! `serde_json` dependency. Numbers are kept as integers where written so, as
//! `serde_json` does.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, Error as _, IntoDeserializer, Visitor};

/// A parsed JSON value.
#[derive(Clone, Debug)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Value>),
    Map(Vec<(String, Value)>),
}

/// Parses `json` and deserializes it into a `T`; the error as text.
pub(crate) fn from_str<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut parser = Parser {
        chars: json.chars().collect(),
        pos: 0,
    };
    let value = parser.value()?;
    parser.skip_ws();
    if parser.pos != parser.chars.len() {
        return Err("trailing characters".to_owned());
    }
    T::deserialize(value).map_err(|error| error.to_string())
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{c}` at {}", self.pos))
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek().ok_or("unexpected end")? {
            '{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                if self.peek() == Some('}') {
                    self.pos += 1;
                    return Ok(Value::Map(entries));
                }
                loop {
                    let Value::Str(key) = self.value()? else {
                        return Err("object key must be a string".to_owned());
                    };
                    self.expect(':')?;
                    entries.push((key, self.value()?));
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        _ => break self.expect('}').map(|()| Value::Map(entries)),
                    }
                }
            }
            '[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek() == Some(']') {
                    self.pos += 1;
                    return Ok(Value::Seq(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        _ => break self.expect(']').map(|()| Value::Seq(items)),
                    }
                }
            }
            '"' => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    match self
                        .chars
                        .get(self.pos)
                        .copied()
                        .ok_or("unterminated string")?
                    {
                        '"' => break,
                        '\\' => {
                            self.pos += 1;
                            match self.chars.get(self.pos).copied().ok_or("bad escape")? {
                                'n' => text.push('\n'),
                                't' => text.push('\t'),
                                other => text.push(other),
                            }
                        }
                        other => text.push(other),
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                Ok(Value::Str(text))
            }
            _ => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c))
                {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "null" => Ok(Value::Null),
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => word
                        .parse::<i64>()
                        .map(Value::Int)
                        .or_else(|_| word.parse::<f64>().map(Value::Float))
                        .map_err(|_| format!("bad token `{word}`")),
                }
            }
        }
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            Value::Seq(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            Value::Map(entries) => visitor.visit_map(MapDeserializer::new(entries.into_iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::Str(s) => IntoDeserializer::<Error>::into_deserializer(s)
                .deserialize_enum(name, variants, visitor),
            _ => Err(Error::custom("expected a string for an enum")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl IntoDeserializer<'_, Error> for Value {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn reads_nested_values() {
        let map: BTreeMap<String, Vec<f64>> =
            from_str(r#"{ "a": [1, 2.5, -3e1], "b": [] }"#).expect("parses");
        assert_eq!(map["a"], [1.0, 2.5, -30.0]);
        assert!(map["b"].is_empty());
        let text: Option<String> = from_str(r#""q\"uote""#).expect("parses");
        assert_eq!(text.as_deref(), Some("q\"uote"));
        let none: Option<String> = from_str("null").expect("parses");
        assert_eq!(none, None);
        assert!(from_str::<Vec<u8>>("[1, 2").is_err());
        assert!(from_str::<Vec<u8>>("[1] x").is_err());
    }
}

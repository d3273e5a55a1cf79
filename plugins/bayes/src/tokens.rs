//! The tokenizer: turns the parts of a message into the distinct features the classifier
//! counts. Every feature is a short human-readable string whose prefix says where it came
//! from (`subj:`, `from:`, `rcvd:`, `url:`, `ocr:` ...; body words have none).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use moat_sdk::domain::registrable;

use crate::html;

/// The parts of a message the tokenizer reads: what the gateway's `Message` and `Session`
/// give, as plain data so the classifier can be tested and driven without the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    /// Every header field as `(name, value)`, in message order, values unfolded and decoded.
    pub headers: Vec<(String, String)>,
    /// The `text/plain` body parts.
    pub text_parts: Vec<String>,
    /// The `text/html` body parts converted to text.
    pub html_parts: Vec<String>,
    /// The `text/html` body parts as HTML source (transfer encoding and charset decoded).
    pub html_sources: Vec<String>,
    /// The `http(s)` URLs of the body.
    pub urls: Vec<String>,
    /// The media types of the attachments and inline images, lower-case (`image/gif`).
    pub attachment_types: Vec<String>,
    /// Text an OCR plugin read in the message's images (the `ocr-text` annotation).
    pub ocr_text: Option<String>,
}

impl Input {
    /// The value of the first header field named `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where a feature came from; the symbol detail counts features per source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A header field.
    Header,
    /// The decoded text or HTML-as-text of the body, and the message's MIME structure.
    Body,
    /// A URL of the body.
    Url,
    /// The markup of the HTML parts.
    Html,
    /// Text read from images by OCR.
    Ocr,
}

impl Source {
    /// Every source, in the order the detail lists them.
    pub const ALL: [Self; 5] = [Self::Header, Self::Body, Self::Url, Self::Html, Self::Ocr];

    /// The lower-case name used in symbol details.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Body => "body",
            Self::Url => "url",
            Self::Html => "html",
            Self::Ocr => "ocr",
        }
    }
}

/// One distinct feature of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The feature, e.g. `subj:free`, `rcvd:dom:example.org`, `viagra`, `click <1> here`.
    pub text: String,
    /// Where it came from.
    pub source: Source,
    /// The 64-bit FNV-1a hash of `text`: the token's kv id counter.
    pub id: u64,
}

impl Token {
    /// The token `text` from `source`.
    #[must_use]
    pub fn new(text: String, source: Source) -> Self {
        let id = fnv1a(&[&text]);
        Self { text, source, id }
    }

    /// The family of a header, URL or markup token: its prefix up to the first `:`
    /// (`rcvd`, `from`, `url`, `html`). Body and OCR words have none.
    #[must_use]
    pub fn family(&self) -> Option<&str> {
        match self.source {
            Source::Body | Source::Ocr => None,
            Source::Header | Source::Url | Source::Html => {
                self.text.split_once(':').map(|(family, _)| family)
            }
        }
    }
}

/// How messages are cut into features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tokenizer {
    /// At most this many distinct features per message (headers first, then URLs, OCR
    /// text and body), which bounds the work and the kv keys a message touches.
    pub max_tokens: usize,
    /// Orthogonal sparse bigrams: each body word is also paired with each of the next
    /// `osb_window - 1` words (`a <d> b`, `d` words apart). 1 turns bigrams off.
    pub osb_window: usize,
    /// At most this many body words are read per message (text, HTML and OCR together).
    pub max_words: usize,
    /// How the words of image text (OCR) become features.
    pub ocr_tokens: OcrTokens,
}

/// How the words of image text become features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrTokens {
    /// Only as `ocr:`-prefixed words and bigrams: image text is learnt apart from body
    /// text, and what the body taught says nothing about it.
    Prefixed,
    /// As plain words and bigrams, the same features as body text: image text counts as
    /// much as the same words in the body.
    Plain,
    /// Both: each image word gives its `ocr:` feature and its plain one.
    #[default]
    Both,
}

impl OcrTokens {
    /// The prefixes an image word is written with.
    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Self::Prefixed => &["ocr:"],
            Self::Plain => &[""],
            Self::Both => &["ocr:", ""],
        }
    }
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self {
            max_tokens: 1000,
            osb_window: 2,
            max_words: 4000,
            ocr_tokens: OcrTokens::default(),
        }
    }
}

/// Shortest body word kept, in characters.
const MIN_WORD: usize = 2;
/// Longest body word kept, in characters; longer ones become a `skip:` feature.
const MAX_WORD: usize = 20;
/// Header values are read up to this many bytes.
const MAX_HEADER_VALUE: usize = 2000;
/// The gateway's own headers (and other filters' verdicts): learning them would teach the
/// classifier its own or another filter's vote.
const IGNORED_HEADER_PREFIXES: [&str; 3] = ["x-spam", "x-moat", "x-bogosity"];

impl Tokenizer {
    /// The distinct features of `input`, in order of first appearance, at most
    /// [`Tokenizer::max_tokens`].
    #[must_use]
    pub fn tokenize(&self, input: &Input) -> Vec<Token> {
        let mut out = Collector::new(self.max_tokens);
        headers(input, &mut out);
        urls(&input.urls, &mut out);
        structure(input, &mut out);
        out.source = Source::Html;
        for source in &input.html_sources {
            for feature in html::features(source) {
                out.push(feature);
            }
        }
        let mut budget = self.max_words;
        if let Some(ocr) = &input.ocr_text {
            out.source = Source::Ocr;
            self.words(ocr, self.ocr_tokens.prefixes(), &mut budget, &mut out);
        }
        out.source = Source::Body;
        for part in input.text_parts.iter().chain(&input.html_parts) {
            self.words(part, &[""], &mut budget, &mut out);
        }
        out.tokens
    }

    /// Body words (and their sparse bigrams) of `text`, each written once with every
    /// prefix of `prefixes`.
    fn words(&self, text: &str, prefixes: &[&str], budget: &mut usize, out: &mut Collector) {
        let window = self.osb_window.clamp(1, DISTANCES.len() + 1);
        // The last `window - 1` pieces, oldest first; their buffers are reused.
        let mut recent: Vec<String> = Vec::with_capacity(window);
        let mut scratch = WordScratch::default();
        for word in text.split_whitespace() {
            if *budget == 0 || out.full() {
                return;
            }
            *budget -= 1;
            scratch.each_feature(word, |piece| {
                for prefix in prefixes {
                    for (distance, earlier) in recent.iter().rev().enumerate() {
                        // `{prefix}{earlier} <{distance}> {piece}`, built only if new.
                        out.push_parts(&[prefix, earlier, " <", DISTANCES[distance], "> ", piece]);
                    }
                    out.push_parts(&[prefix, piece]);
                }
                if window > 1 {
                    let mut slot = if recent.len() == window - 1 {
                        recent.remove(0)
                    } else {
                        String::new()
                    };
                    slot.clear();
                    slot.push_str(piece);
                    recent.push(slot);
                }
            });
        }
    }
}

/// The distances of sparse bigrams, as text.
const DISTANCES: [&str; 4] = ["1", "2", "3", "4"];

/// The 64-bit FNV-1a hash of the concatenation of `parts`.
#[must_use]
pub fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id;
    }
}

/// Gathers distinct features up to a bound, by their ids (a text is made only for a
/// feature not seen before).
struct Collector {
    tokens: Vec<Token>,
    seen: HashSet<u64, BuildHasherDefault<IdHasher>>,
    max: usize,
    source: Source,
}

impl Collector {
    fn new(max: usize) -> Self {
        Self {
            tokens: Vec::with_capacity(max.min(4096)),
            seen: HashSet::with_capacity_and_hasher(max.min(4096), BuildHasherDefault::default()),
            max,
            source: Source::Header,
        }
    }

    fn full(&self) -> bool {
        self.tokens.len() >= self.max
    }

    fn push(&mut self, text: String) {
        if self.full() || text.is_empty() {
            return;
        }
        let id = fnv1a(&[&text]);
        if self.seen.insert(id) {
            self.tokens.push(Token {
                text,
                source: self.source,
                id,
            });
        }
    }

    /// Pushes the concatenation of `parts`.
    fn push_parts(&mut self, parts: &[&str]) {
        if self.full() || parts.iter().all(|part| part.is_empty()) {
            return;
        }
        let id = fnv1a(parts);
        if self.seen.insert(id) {
            self.tokens.push(Token {
                text: parts.concat(),
                source: self.source,
                id,
            });
        }
    }
}

/// The features of one whitespace-separated word of body text: the word lower-cased with
/// surrounding punctuation removed; a too long word gives `skip:<first char> <length/10>`;
/// a word joining parts with `/`, `=`, `&` or `?` (URLs, paths) gives its parts.
fn word_features(word: &str) -> Vec<String> {
    let mut features = Vec::new();
    WordScratch::default().each_feature(word, |feature| features.push(feature.to_owned()));
    features
}

/// What splits a word into parts (URLs, paths, markup left in text).
const WORD_SEPARATORS: [char; 12] = ['/', '=', '&', '?', '<', '>', '(', ')', '[', ']', '|', '"'];

/// Buffers for [`word_features`] without an allocation per word: the body has thousands.
#[derive(Default)]
struct WordScratch {
    lower: String,
    skip: String,
}

impl WordScratch {
    /// Calls `each` with every feature [`word_features`] gives for `word`, in order.
    fn each_feature(&mut self, word: &str, mut each: impl FnMut(&str)) {
        let trimmed = trim_punct(word);
        if trimmed.is_empty() {
            return;
        }
        self.lower.clear();
        if trimmed.is_ascii() {
            self.lower.push_str(trimmed);
            self.lower.make_ascii_lowercase();
        } else {
            // Not char by char: `to_lowercase` knows a final sigma.
            self.lower.push_str(&trimmed.to_lowercase());
        }
        let Self { lower, skip } = self;
        if lower.contains(WORD_SEPARATORS) {
            for part in lower.split(WORD_SEPARATORS) {
                if let Some(feature) = word_feature_in(trim_punct(part), skip) {
                    each(feature);
                }
            }
        } else if let Some(feature) = word_feature_in(lower, skip) {
            each(feature);
        }
    }
}

/// A single word's feature (the word itself, or its `skip:` feature written into `skip`),
/// or `None` when it is too short.
fn word_feature_in<'a>(word: &'a str, skip: &'a mut String) -> Option<&'a str> {
    let chars = if word.is_ascii() {
        word.len()
    } else {
        word.chars().count()
    };
    if chars < MIN_WORD {
        return None;
    }
    if chars > MAX_WORD {
        let first = word.chars().next().unwrap_or('?');
        skip.clear();
        // Writing to a String cannot fail.
        let _ = write!(skip, "skip:{first} {}", chars / 10 * 10);
        return Some(skip);
    }
    Some(word)
}

/// A single word's feature, or `None` when it is too short.
fn word_feature(word: &str) -> Option<String> {
    word_feature_in(word, &mut String::new()).map(str::to_owned)
}

/// `word` without leading and trailing punctuation (but keeping `$` and `%`, which spam
/// likes).
fn trim_punct(word: &str) -> &str {
    word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '$' || c == '%'))
}

/// Header features.
fn headers(input: &Input, out: &mut Collector) {
    out.source = Source::Header;
    let mut received = 0usize;
    for (name, value) in &input.headers {
        let name = name.to_ascii_lowercase();
        if IGNORED_HEADER_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let value = truncate(value, MAX_HEADER_VALUE);
        out.push(format!("hdr:{name}"));
        match name.as_str() {
            "subject" => subject(value, out),
            "from" | "to" | "cc" | "reply-to" | "sender" | "return-path" => {
                addresses(&name, value, out);
            }
            "received" => {
                received += 1;
                received_hosts(value, out);
            }
            "message-id" => message_id(value, out),
            "content-type" => content_type("ct", value, out),
            "content-transfer-encoding" => {
                out.push(format!("cte:{}", value.trim().to_ascii_lowercase()));
            }
            "x-mailer" | "user-agent" | "x-mimeole" | "organization" | "precedence" | "list-id"
            | "x-mailing-list" | "mailing-list" | "content-class" => {
                whole_value(&name, value, out);
            }
            _ => {}
        }
    }
    out.push(format!("rcvd:count:{}", received.min(10)));
    if input.header("subject").is_none() {
        out.push("subj:none".to_owned());
    }
    if input.header("x-mailer").is_none() && input.header("user-agent").is_none() {
        out.push("x-mailer:none".to_owned());
    }
}

/// `value` cut to at most `max` bytes on a character boundary.
fn truncate(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// Subject words (and their bigrams), plus its shape: shouting, money, exclamation.
fn subject(value: &str, out: &mut Collector) {
    let mut previous: Option<String> = None;
    for word in value.split_whitespace() {
        for piece in word_features(word) {
            if let Some(prev) = &previous {
                out.push(format!("subj:{prev} {piece}"));
            }
            out.push(format!("subj:{piece}"));
            previous = Some(piece);
        }
    }
    let letters = value.chars().filter(|c| c.is_alphabetic()).count();
    let upper = value.chars().filter(|c| c.is_uppercase()).count();
    if letters >= 8 && upper * 10 >= letters * 8 {
        out.push("subj:shape:caps".to_owned());
    }
    if value.contains('!') {
        out.push("subj:shape:bang".to_owned());
    }
    if value.contains('$') {
        out.push("subj:shape:dollar".to_owned());
    }
    let trailing_spaces = value.len() - value.trim_end().len();
    if trailing_spaces > 0 || value.contains("   ") {
        out.push("subj:shape:gap".to_owned());
    }
    if value.trim().is_empty() {
        out.push("subj:shape:empty".to_owned());
    }
}

/// Address fields: each address, its domain, the display-name words, and how many.
fn addresses(field: &str, value: &str, out: &mut Collector) {
    let mut count = 0usize;
    for item in split_addresses(value) {
        count += 1;
        if count > 20 {
            break;
        }
        let (name, address) = split_address(item);
        let address = address.to_ascii_lowercase();
        if let Some((local, domain)) = address.rsplit_once('@') {
            out.push(format!("{field}:addr:{address}"));
            out.push(format!("{field}:dom:{domain}"));
            if let Some(base) = registrable(domain) {
                out.push(format!("{field}:base:{base}"));
            }
            out.push(format!("{field}:local:{}", shape(local)));
        } else if !address.is_empty() {
            out.push(format!("{field}:bare:{address}"));
        }
        match name {
            Some(name) => {
                for word in name.split_whitespace() {
                    if let Some(piece) = word_feature(&trim_punct(word).to_lowercase()) {
                        out.push(format!("{field}:name:{piece}"));
                    }
                }
            }
            None => out.push(format!("{field}:noname")),
        }
    }
    out.push(format!("{field}:count:{}", count.min(5)));
}

/// Splits an address list on the commas that are outside quotes and angle brackets.
fn split_addresses(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `Name <addr>` → (`Some("Name")`, `addr`); a bare address → (`None`, `addr`).
fn split_address(item: &str) -> (Option<&str>, &str) {
    match (item.rfind('<'), item.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = item[..open].trim().trim_matches(['"', '\'']).trim();
            let name = (!name.is_empty()).then_some(name);
            (name, item[open + 1..close].trim())
        }
        _ => (None, item.trim_matches(['<', '>']).trim()),
    }
}

/// The shape of an identifier: runs of digits become `9`, of letters `a`, other
/// characters stay, and runs are collapsed; at most 12 characters.
fn shape(s: &str) -> String {
    let mut out = String::new();
    let mut last = None;
    for c in s.chars() {
        let class = if c.is_ascii_digit() {
            '9'
        } else if c.is_alphabetic() {
            'a'
        } else {
            c
        };
        if last != Some(class) {
            out.push(class);
            last = Some(class);
        }
        if out.len() >= 12 {
            break;
        }
    }
    out
}

/// The host names, domains and /24 networks a `Received` field names, and the protocol.
fn received_hosts(value: &str, out: &mut Collector) {
    let lower = value.to_ascii_lowercase();
    let clause = lower.split(';').next().unwrap_or_default();
    let mut previous = "";
    for raw in clause.split(|c: char| c.is_whitespace() || "()[]<>,;=".contains(c)) {
        let word = raw.trim_matches(|c: char| c == '.' || c == ':' || c == '"');
        if word.is_empty() {
            continue;
        }
        if previous == "with" {
            out.push(format!("rcvd:with:{word}"));
        }
        if is_ipv4(word) {
            if let Some((net, _)) = word.rsplit_once('.') {
                out.push(format!("rcvd:net:{net}"));
            }
        } else if word.contains('.')
            && !word.contains('@')
            && word.bytes().any(|b| b.is_ascii_alphabetic())
            && word
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        {
            out.push(format!("rcvd:host:{word}"));
            if let Some(base) = registrable(word) {
                out.push(format!("rcvd:dom:{base}"));
            }
        }
        previous = word;
    }
    if lower.contains("may be forged") {
        out.push("rcvd:forged".to_owned());
    }
    if lower.contains("unknown") {
        out.push("rcvd:unknown".to_owned());
    }
}

fn is_ipv4(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The domain and the shape of the local part of a `Message-ID`.
fn message_id(value: &str, out: &mut Collector) {
    let id = value.trim().trim_matches(['<', '>']).to_ascii_lowercase();
    match id.rsplit_once('@') {
        Some((local, domain)) => {
            out.push(format!("mid:dom:{domain}"));
            if let Some(base) = registrable(domain) {
                out.push(format!("mid:base:{base}"));
            }
            out.push(format!("mid:shape:{}", shape(local)));
        }
        None => out.push("mid:nodomain".to_owned()),
    }
}

/// A `Content-Type` field: the media type, the charset and the boundary's shape.
fn content_type(prefix: &str, value: &str, out: &mut Collector) {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    out.push(format!("{prefix}:{media}"));
    for param in parts {
        let Some((key, val)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let val = val.trim().trim_matches(['"', '\'']);
        match key.as_str() {
            "charset" => out.push(format!("{prefix}:charset:{}", val.to_ascii_lowercase())),
            "boundary" => out.push(format!("{prefix}:boundary:{}", boundary_shape(val))),
            _ => {}
        }
    }
}

/// A MIME boundary's skeleton: every run of letters and digits becomes `x`, the
/// punctuation stays (`----=_NextPart_000_0012_01C2` → `-=_x_x_x_x`), and at most 24
/// characters.
fn boundary_shape(boundary: &str) -> String {
    let mut out = String::new();
    let mut in_word = false;
    for c in boundary.chars() {
        if c.is_ascii_alphanumeric() {
            if !in_word {
                out.push('x');
            }
            in_word = true;
        } else {
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
            in_word = false;
        }
        if out.len() >= 24 {
            break;
        }
    }
    out
}

/// A field whose whole value identifies software or a list (X-Mailer, List-Id, ...): the
/// value up to 40 characters, and its words.
fn whole_value(name: &str, value: &str, out: &mut Collector) {
    let lower = value.trim().to_lowercase();
    out.push(format!("{name}:{}", truncate(&lower, 40)));
    for word in lower.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-')) {
        let word = word.trim_matches(['.', '-']);
        if word.len() >= 2 && word.len() <= MAX_WORD {
            out.push(format!("{name}:w:{word}"));
        }
    }
}

/// URL features: the host, its base domain, an IP-literal host, the path's file type, and
/// how many URLs there are.
fn urls(urls: &[String], out: &mut Collector) {
    out.source = Source::Url;
    for url in urls.iter().take(100) {
        let lower = url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                out.push("url:port".to_owned());
                host
            }
            _ => authority,
        };
        if host.is_empty() {
            continue;
        }
        if is_ipv4(host) {
            out.push("url:ip".to_owned());
        } else {
            out.push(format!("url:host:{host}"));
            if let Some(base) = registrable(host) {
                out.push(format!("url:dom:{base}"));
            }
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if let Some(segment) = path.rsplit('/').next()
            && let Some((_, ext)) = segment.rsplit_once('.')
            && (1..=5).contains(&ext.len())
        {
            out.push(format!("url:ext:{ext}"));
        }
        if lower.contains('?') {
            out.push("url:query".to_owned());
        }
        if lower.contains('%') {
            out.push("url:escaped".to_owned());
        }
    }
    let count = match urls.len() {
        0 => "0",
        1 => "1",
        2..=4 => "2-4",
        5..=9 => "5-9",
        _ => "10+",
    };
    out.push(format!("url:count:{count}"));
}

/// The MIME structure: text or HTML only, attachments' types.
fn structure(input: &Input, out: &mut Collector) {
    out.source = Source::Body;
    let shape = match (input.text_parts.is_empty(), input.html_parts.is_empty()) {
        (false, false) => "text+html",
        (false, true) => "text",
        (true, false) => "html",
        (true, true) => "none",
    };
    out.push(format!("mime:{shape}"));
    for kind in input.attachment_types.iter().take(20) {
        out.push(format!("mime:att:{kind}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    fn input_with_headers(headers: &[(&str, &str)]) -> Input {
        Input {
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            ..Input::default()
        }
    }

    #[test]
    fn body_words_are_lower_cased_trimmed_and_bounded_in_length() {
        let tokenizer = Tokenizer {
            osb_window: 1,
            ..Tokenizer::default()
        };
        let input = Input {
            text_parts: vec![
                "Hello, WORLD! a $100 (free) supercalifragilisticexpialidocious".into(),
            ],
            ..Input::default()
        };
        let tokens = tokenizer.tokenize(&input);
        let words: Vec<&str> = tokens
            .iter()
            .filter(|t| t.source == Source::Body && !t.text.starts_with("mime:"))
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(words, ["hello", "world", "$100", "free", "skip:s 30"]);
    }

    #[test]
    fn non_ascii_words_and_joined_parts_have_their_features_and_ids() {
        let tokenizer = Tokenizer {
            osb_window: 1,
            ..Tokenizer::default()
        };
        let input = Input {
            text_parts: vec![
                "ΟΔΟΣ Straße http://Example.COM/Path?q=Ünï long-éééééééééééééééééééééé".into(),
            ],
            ..Input::default()
        };
        let tokens = tokenizer.tokenize(&input);
        let words: Vec<&str> = tokens
            .iter()
            .filter(|t| t.source == Source::Body && !t.text.starts_with("mime:"))
            .map(|t| t.text.as_str())
            .collect();
        // A final capital sigma lower-cases to ς, as str::to_lowercase does.
        assert_eq!(
            words,
            [
                "οδος",
                "straße",
                "http",
                "example.com",
                "path",
                "ünï",
                "skip:l 20"
            ]
        );
        for token in &tokens {
            assert_eq!(token.id, fnv1a(&[&token.text]), "{}", token.text);
        }
    }

    #[test]
    fn sparse_bigrams_pair_words_within_the_window() {
        let tokenizer = Tokenizer {
            osb_window: 3,
            ..Tokenizer::default()
        };
        let input = Input {
            text_parts: vec!["click here now".into()],
            ..Input::default()
        };
        let tokens = tokenizer.tokenize(&input);
        let all = texts(&tokens);
        for expected in [
            "click",
            "here",
            "now",
            "click <1> here",
            "here <1> now",
            "click <2> now",
        ] {
            assert!(all.contains(&expected), "{expected} missing from {all:?}");
        }
        assert!(!all.iter().any(|t| t.starts_with("now <")));
    }

    #[test]
    fn features_are_distinct_and_bounded() {
        let tokenizer = Tokenizer {
            max_tokens: 10,
            osb_window: 1,
            ..Tokenizer::default()
        };
        let words: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let input = Input {
            text_parts: vec![words.join(" "), "w1 w1 w1".into()],
            ..Input::default()
        };
        let tokens = tokenizer.tokenize(&input);
        assert_eq!(tokens.len(), 10);
        let unique: HashSet<&str> = texts(&tokens).into_iter().collect();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn header_fields_are_prefixed_by_field() {
        let input = input_with_headers(&[
            ("Subject", "FREE Money Now!!!"),
            ("From", "\"Slim Down\" <Sabrina@mx3.Premio.com>"),
            ("To", "a@example.org, Bob <b@example.net>"),
            (
                "Received",
                "from email.qves.com (email1.qves.net [209.63.151.251] (may be forged)) by webnote.net (8.9.3/8.9.3) with ESMTP id OAA04953; Thu, 22 Aug 2002",
            ),
            ("Message-ID", "<9a63c01c249e0$e5a9d610@freeyankeedom.com>"),
            (
                "Content-Type",
                "multipart/alternative; boundary=\"----=_NextPart_000_0012_01C2\"; charset=\"ISO-8859-1\"",
            ),
            ("X-Mailer", "Microsoft Outlook Express 6.00"),
            ("X-Spam-Status", "Yes, score=20"),
        ]);
        let tokens = Tokenizer::default().tokenize(&input);
        assert!(tokens.iter().all(|t| t.source == Source::Header
            || t.text.starts_with("url:")
            || t.text.starts_with("mime:")));
        let all = texts(&tokens);
        for expected in [
            "hdr:subject",
            "subj:free",
            "subj:free money",
            "subj:shape:bang",
            "from:addr:sabrina@mx3.premio.com",
            "from:dom:mx3.premio.com",
            "from:base:premio.com",
            "from:name:slim",
            "to:dom:example.net",
            "to:noname",
            "to:count:2",
            "rcvd:host:email.qves.com",
            "rcvd:dom:qves.net",
            "rcvd:net:209.63.151",
            "rcvd:with:esmtp",
            "rcvd:forged",
            "mid:dom:freeyankeedom.com",
            "ct:multipart/alternative",
            "ct:charset:iso-8859-1",
            "ct:boundary:-=_x_x_x_x",
            "x-mailer:microsoft outlook express 6.00",
            "x-mailer:w:outlook",
        ] {
            assert!(all.contains(&expected), "{expected} missing from {all:?}");
        }
        assert!(!all.iter().any(|t| t.contains("x-spam")), "{all:?}");
        assert!(!all.contains(&"x-mailer:none"));
    }

    #[test]
    fn urls_give_hosts_domains_and_types() {
        let input = Input {
            urls: vec![
                "http://www.AdClick.ws/p.cfm?o=315".into(),
                "https://192.0.2.1:8080/x".into(),
                "https://shop.example.co.uk/".into(),
            ],
            ..Input::default()
        };
        let tokens = Tokenizer::default().tokenize(&input);
        let url_tokens: Vec<&str> = tokens
            .iter()
            .filter(|t| t.source == Source::Url)
            .map(|t| t.text.as_str())
            .collect();
        for expected in [
            "url:host:www.adclick.ws",
            "url:dom:adclick.ws",
            "url:ext:cfm",
            "url:query",
            "url:ip",
            "url:port",
            "url:dom:example.co.uk",
            "url:count:2-4",
        ] {
            assert!(
                url_tokens.contains(&expected),
                "{expected} missing from {url_tokens:?}"
            );
        }
    }

    #[test]
    fn html_sources_give_markup_tokens_with_families() {
        let input = Input {
            headers: vec![("Return-Path".into(), "<a@list.example>".into())],
            html_parts: vec!["Buy now".into()],
            html_sources: vec!["<font color=red size=1>Buy now</font>".into()],
            ..Input::default()
        };
        let tokens = Tokenizer::default().tokenize(&input);
        let markup: Vec<&Token> = tokens.iter().filter(|t| t.source == Source::Html).collect();
        assert!(
            markup.iter().any(|t| t.text == "html:val:color=red"),
            "{markup:?}"
        );
        assert!(markup.iter().all(|t| t.family() == Some("html")));
        let rp = tokens
            .iter()
            .find(|t| t.text == "return-path:dom:list.example")
            .unwrap();
        assert_eq!(rp.family(), Some("return-path"));
        let word = tokens.iter().find(|t| t.text == "buy").unwrap();
        assert_eq!((word.source, word.family()), (Source::Body, None));
    }

    #[test]
    fn ocr_text_becomes_prefixed_and_plain_tokens() {
        let input = Input {
            ocr_text: Some("Cheap Pills".into()),
            text_parts: vec!["pills today".into()],
            ..Input::default()
        };
        let ocr = |mode| {
            let tokenizer = Tokenizer {
                ocr_tokens: mode,
                ..Tokenizer::default()
            };
            let tokens = tokenizer.tokenize(&input);
            let ocr: Vec<String> = tokens
                .iter()
                .filter(|t| t.source == Source::Ocr)
                .map(|t| t.text.clone())
                .collect();
            let body: Vec<String> = tokens
                .iter()
                .filter(|t| t.source == Source::Body && !t.text.starts_with("mime:"))
                .map(|t| t.text.clone())
                .collect();
            (ocr, body)
        };
        assert_eq!(
            ocr(OcrTokens::Prefixed),
            (
                vec![
                    "ocr:cheap".into(),
                    "ocr:cheap <1> pills".into(),
                    "ocr:pills".into()
                ],
                vec!["pills".into(), "pills <1> today".into(), "today".into()]
            )
        );
        // Plain image words are body words; a body word the image had already is not
        // counted twice.
        assert_eq!(
            ocr(OcrTokens::Plain),
            (
                vec!["cheap".into(), "cheap <1> pills".into(), "pills".into()],
                vec!["pills <1> today".into(), "today".into()]
            )
        );
        assert_eq!(OcrTokens::default(), OcrTokens::Both);
        let (both, _) = ocr(OcrTokens::Both);
        assert_eq!(
            both,
            [
                "ocr:cheap",
                "cheap",
                "ocr:cheap <1> pills",
                "ocr:pills",
                "cheap <1> pills",
                "pills"
            ]
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        let long = "é".repeat(5000);
        let input = input_with_headers(&[
            ("Subject", long.as_str()),
            ("From", "<<<>>>,,\"\""),
            ("Received", "from [1.2.3] (()) by ; ;"),
            ("Content-Type", ";;=;boundary="),
            ("Message-ID", "@"),
        ]);
        let mut input = input;
        input.urls = vec!["http://".into(), "https://@:/".into()];
        input.text_parts = vec![long.clone(), "\u{0}\u{fffd} -- ..".into()];
        let tokens = Tokenizer::default().tokenize(&input);
        assert!(!tokens.is_empty());
    }

    #[test]
    fn shapes() {
        assert_eq!(shape("9a63c01c249e0$e5a9d610"), "9a9a9a9a9$a9");
        assert_eq!(boundary_shape("----=_NextPart_000_0012_01C2"), "-=_x_x_x_x");
    }

    #[test]
    fn domain_features_name_the_registrable_domain() {
        let mut input = input_with_headers(&[
            ("From", "<news@mail.example.co.uk>"),
            ("Reply-To", "root@localhost"),
            (
                "Received",
                "from mx.b.example.com.au (mx.b.example.com.au [192.0.2.1])",
            ),
            ("Message-ID", "<1@a.b.com>"),
        ]);
        input.urls = vec!["http://a.b.com/".into(), "http://192.0.2.7/".into()];
        let tokens = Tokenizer::default().tokenize(&input);
        let all = texts(&tokens);
        for expected in [
            "from:base:example.co.uk",
            "rcvd:dom:example.com.au",
            // A short second-level label is not a public suffix: `b.com`, not `a.b.com`.
            "mid:base:b.com",
            "url:dom:b.com",
            "url:ip",
        ] {
            assert!(all.contains(&expected), "{expected} missing from {all:?}");
        }
        for prefix in ["reply-to:base:", "url:dom:192", "url:dom:0"] {
            assert!(
                !all.iter().any(|t| t.starts_with(prefix)),
                "{prefix} in {all:?}"
            );
        }
    }
}

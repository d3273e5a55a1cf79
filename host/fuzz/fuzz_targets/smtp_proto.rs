//! Drives the SMTP receivers and command parser over arbitrary input; see `moat_fuzz::run`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| moat_fuzz::run(data));

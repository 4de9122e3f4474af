//! The configuration front end on arbitrary text: lexer, preprocessor (definitions,
//! ~SEQ/~LST, conditionals, continuation), tree builder, lowering and validation must
//! never panic or hang, and every diagnostic must render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rk_config::{LoadOptions, load_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Includes would read the fuzzer's working directory; keep the input self-contained.
    if text.contains("include") {
        return;
    }
    let opts = LoadOptions {
        max_lines: 2_000,
        ..LoadOptions::for_tests()
    };
    match load_str("fuzz.conf", text, &opts) {
        Ok(loaded) => {
            let _ = loaded.render_warnings();
            let _ = serde_json::to_string(&loaded.config);
        }
        Err(rejected) => {
            let _ = rejected.render();
        }
    }
});

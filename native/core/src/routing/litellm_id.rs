//! Deployment ids derived exactly as LiteLLM 1.110.2 derives them when `model_info.id` is absent.
//!
//! Source: `litellm/router_api.py`, `deployment_id(model_group, litellm_params)` (called from
//! `router_rust/surface/registry.py` `_build_validate`, and behind the deprecated
//! `Router.generate_model_id`):
//!
//! ```text
//! parts = [model_group]
//! for k, v in litellm_params.items():          # insertion order, as the config file lists them
//!     for item in (k, v):
//!         str           -> item as is
//!         dict          -> json.dumps(item)    # default separators ", " and ": ", ensure_ascii
//!         anything else -> str(item)           # 600, 2.5e-06, True, None, ['eu', 'paid']
//! id = sha256("".join(parts).encode()).hexdigest()
//! ```
//!
//! The hash covers every parameter, api_key included, so it is computed before secrets are
//! dropped; only the hex digest is kept. Python's `str()`/`repr()` of floats, lists and strings
//! and `json.dumps` are reproduced below. One approximation: Python's `repr` of a string escapes
//! non-printable non-ASCII characters; here only C0/C1 controls, DEL, NBSP and the soft hyphen
//! are treated as non-printable (other non-printable code points in a list of strings are rare
//! in a model config).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The LiteLLM id of a deployment of `group` with these `litellm_params` (key order matters).
pub fn derive_deployment_id(group: &str, litellm_params: &Map<String, Value>) -> String {
    let mut text = String::with_capacity(256);
    text.push_str(group);
    for (key, value) in litellm_params {
        text.push_str(key);
        match value {
            Value::String(s) => text.push_str(s),
            Value::Object(_) => json_dumps(value, &mut text),
            other => py_repr(other, &mut text),
        }
    }
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in [-4, 16), else scientific with a signed exponent of at least two digits.
pub fn py_float_repr(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: "2.5e-6", "1e0", "-1.25e3".
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
}

fn number_repr(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        py_float_repr(n.as_f64().unwrap_or(f64::NAN), out);
    }
}

/// Python's `repr()` of a JSON-shaped value (`str()` is the same for everything but a top-level
/// string, which the caller handles).
pub fn py_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => number_repr(n, out),
        Value::String(s) => py_str_repr(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_str_repr(k, out);
                out.push_str(": ");
                py_repr(v, out);
            }
            out.push('}');
        }
    }
}

fn py_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python's `json.dumps(value)` with its defaults (", " / ": " separators, ensure_ascii=True).
pub fn json_dumps(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number_repr(n, out),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_dumps(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_string(k, out);
                out.push_str(": ");
                json_dumps(v, out);
            }
            out.push('}');
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(x: f64) -> String {
        let mut s = String::new();
        py_float_repr(x, &mut s);
        s
    }

    #[test]
    fn floats_print_as_python_repr() {
        assert_eq!(float(2.5e-6), "2.5e-06");
        assert_eq!(float(0.0000025), "2.5e-06");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1e-05");
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(100.0), "100.0");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1e16), "1e+16");
        assert_eq!(float(1.5e16), "1.5e+16");
        assert_eq!(float(123456789012345.6), "123456789012345.6");
        assert_eq!(float(-0.5), "-0.5");
        assert_eq!(float(1e100), "1e+100");
    }

    #[test]
    fn values_print_as_python_str_and_json_dumps() {
        let v: Value =
            serde_json::from_str(r#"["eu", "it's", 1, 2.5, true, null, {"a": [1]}]"#).unwrap();
        let mut s = String::new();
        py_repr(&v, &mut s);
        assert_eq!(s, r#"['eu', "it's", 1, 2.5, True, None, {'a': [1]}]"#);
        let v: Value = serde_json::from_str(r#"{"b": "é\n", "a": [1.0, false]}"#).unwrap();
        let mut s = String::new();
        json_dumps(&v, &mut s);
        assert_eq!(s, r#"{"b": "\u00e9\n", "a": [1.0, false]}"#);
    }
}

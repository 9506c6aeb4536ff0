//! TOK.CHAT: the tokens a chat request's messages (and tool definitions) take, by the OpenAI
//! cookbook's accounting ("How to count tokens with tiktoken"):
//! - each message costs `tokens_per_message` (3) plus the tokens of every value in it (role,
//!   content, name, ...), plus `tokens_per_name` (1) when it has a `name`;
//! - content given as an array of parts counts its text parts;
//! - the reply is primed with 3 more tokens;
//! - tools: per function `func_init` (7 for gpt-4o-family encodings, 10 otherwise) and the
//!   tokens of `name:description` (trailing "." dropped); if it has properties, 3 to open
//!   them, and per property 3 plus the tokens of `key:type:description`; an enum costs -3 and
//!   3 plus its tokens per item; 12 to close the tools block.
//!
//! Values that are neither strings nor content parts (an assistant's `tool_calls`, say) are
//! counted as their compact JSON text: the cookbook does not cover them, and this estimate
//! errs on the side of more tokens rather than none.

use serde_json::{Map, Value};

use super::{Encoding, Model, TokError, Tokens};

const REPLY_PRIMING: i64 = 3;
const PROP_INIT: i64 = 3;
const PROP_KEY: i64 = 3;
const ENUM_INIT: i64 = -3;
const ENUM_ITEM: i64 = 3;
const FUNC_END: i64 = 12;

fn parse(bytes: &[u8], what: &'static str) -> Result<Value, TokError> {
    super::utf8(bytes, what)?;
    serde_json::from_slice(bytes).map_err(|e| TokError::InvalidJson { what, detail: e.to_string() })
}

/// Counts a chat request: `messages` is a JSON array of message objects, `tools` (optional) a
/// JSON array of tool definitions as the chat completions API takes them.
pub fn count_chat(tokens: &Tokens, model: &Model, messages: &[u8], tools: Option<&[u8]>) -> Result<u64, TokError> {
    let messages = parse(messages, "messages")?;
    let Value::Array(messages) = messages else {
        return Err(TokError::BadShape(format!("messages must be a JSON array of message objects, not {}", kind(&messages))));
    };
    let enc = model.encoding;
    let mut total: i64 = 0;
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(fields) = message else {
            return Err(TokError::BadShape(format!("messages[{i}] must be an object, not {}", kind(message))));
        };
        total += model.chat.tokens_per_message;
        for (key, value) in fields {
            total += value_tokens(tokens, enc, key, value) as i64;
            if key == "name" {
                total += model.chat.tokens_per_name;
            }
        }
    }
    total += REPLY_PRIMING;
    if let Some(tools) = tools {
        total += tools_tokens(tokens, model, &parse(tools, "tools")?)?;
    }
    Ok(total.max(0) as u64)
}

fn value_tokens(tokens: &Tokens, enc: Encoding, key: &str, value: &Value) -> usize {
    match value {
        Value::String(s) => tokens.count(enc, s),
        Value::Null => 0,
        Value::Array(parts) if key == "content" => parts.iter().map(|p| part_tokens(tokens, enc, p)).sum(),
        other => tokens.count(enc, &other.to_string()),
    }
}

/// A content part: `{"type": "text", "text": "..."}` counts its text; a plain string counts
/// itself; other kinds (images, audio) are not text and are not counted here.
fn part_tokens(tokens: &Tokens, enc: Encoding, part: &Value) -> usize {
    match part {
        Value::String(s) => tokens.count(enc, s),
        Value::Object(p) => match p.get("text") {
            Some(Value::String(t)) if p.get("type").is_none_or(|ty| ty == "text") => tokens.count(enc, t),
            _ => 0,
        },
        _ => 0,
    }
}

fn tools_tokens(tokens: &Tokens, model: &Model, tools: &Value) -> Result<i64, TokError> {
    let Value::Array(tools) = tools else {
        return Err(TokError::BadShape(format!("tools must be a JSON array of tool objects, not {}", kind(tools))));
    };
    if tools.is_empty() {
        return Ok(0);
    }
    let enc = model.encoding;
    let mut total = 0i64;
    for (i, tool) in tools.iter().enumerate() {
        let Value::Object(tool) = tool else {
            return Err(TokError::BadShape(format!("tools[{i}] must be an object, not {}", kind(tool))));
        };
        // {"type": "function", "function": {...}} as the API takes it, or the function itself.
        let function = match tool.get("function") {
            Some(Value::Object(f)) => f,
            _ => tool,
        };
        let name = str_field(function, "name");
        total += model.chat.func_init;
        total += tokens.count(enc, &format!("{name}:{}", trim_period(&str_field(function, "description")))) as i64;
        let properties = function.get("parameters").and_then(|p| p.get("properties")).and_then(Value::as_object);
        let Some(properties) = properties.filter(|p| !p.is_empty()) else { continue };
        total += PROP_INIT;
        for (key, prop) in properties {
            total += PROP_KEY;
            let empty = Map::new();
            let prop = prop.as_object().unwrap_or(&empty);
            if let Some(Value::Array(items)) = prop.get("enum") {
                total += ENUM_INIT;
                for item in items {
                    total += ENUM_ITEM;
                    total += match item {
                        Value::String(s) => tokens.count(enc, s),
                        other => tokens.count(enc, &other.to_string()),
                    } as i64;
                }
            }
            let line = format!("{key}:{}:{}", str_field(prop, "type"), trim_period(&str_field(prop, "description")));
            total += tokens.count(enc, &line) as i64;
        }
    }
    Ok(total + FUNC_END)
}

fn str_field(obj: &Map<String, Value>, key: &str) -> String {
    match obj.get(key) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

fn trim_period(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::models::resolve_public as resolve;

    /// The OpenAI cookbook's example ("How to count tokens with tiktoken").
    const COOKBOOK: &str = r#"[
      {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
      {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
      {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
      {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
      {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
      {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
    ]"#;

    fn chat(model: &str, messages: &str, tools: Option<&str>) -> Result<u64, TokError> {
        count_chat(&Tokens::new(), &resolve(model.as_bytes()).unwrap(), messages.as_bytes(), tools.map(str::as_bytes))
    }

    #[test]
    fn reproduces_the_cookbook_examples() {
        assert_eq!(chat("gpt-4", COOKBOOK, None).unwrap(), 129);
        assert_eq!(chat("gpt-4-0613", COOKBOOK, None).unwrap(), 129);
        assert_eq!(chat("gpt-4o", COOKBOOK, None).unwrap(), 124);
        assert_eq!(chat("gpt-4o-mini", COOKBOOK, None).unwrap(), 124);
    }

    #[test]
    fn content_parts_count_their_text() {
        let plain = chat("gpt-4o", r#"[{"role":"user","content":"Describe this picture please"}]"#, None).unwrap();
        let parts = chat(
            "gpt-4o",
            r#"[{"role":"user","content":[{"type":"text","text":"Describe this picture please"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]"#,
            None,
        )
        .unwrap();
        assert_eq!(plain, parts);
        assert_eq!(plain, 3 + 1 + Tokens::new().count(Encoding::O200kBase, "Describe this picture please") as u64 + 3);
    }

    #[test]
    fn tools_follow_the_cookbook_formula() {
        let tools = r#"[{"type":"function","function":{"name":"get_weather","description":"Get the weather.","parameters":{"type":"object","properties":{
            "location":{"type":"string","description":"City and country."},
            "unit":{"type":"string","description":"Unit","enum":["celsius","fahrenheit"]}}}}}]"#;
        let messages = r#"[{"role":"user","content":"Weather in Paris?"}]"#;
        let base = chat("gpt-4o", messages, None).unwrap() as i64;
        let with = chat("gpt-4o", messages, Some(tools)).unwrap() as i64;
        let c = |s: &str| Tokens::new().count(Encoding::O200kBase, s) as i64;
        let expected = 7 + c("get_weather:Get the weather") + 3
            + 3 + c("location:string:City and country")
            + 3 - 3 + 3 + c("celsius") + 3 + c("fahrenheit") + c("unit:string:Unit")
            + 12;
        assert_eq!(with - base, expected);
        let gpt4 = chat("gpt-4", messages, Some(tools)).unwrap() as i64 - chat("gpt-4", messages, None).unwrap() as i64;
        let c4 = |s: &str| Tokens::new().count(Encoding::Cl100kBase, s) as i64;
        assert_eq!(gpt4, 10 + c4("get_weather:Get the weather") + 3 + 3 + c4("location:string:City and country")
            + 3 - 3 + 3 + c4("celsius") + 3 + c4("fahrenheit") + c4("unit:string:Unit") + 12);
        assert_eq!(chat("gpt-4o", messages, Some("[]")).unwrap() as i64, base);
    }

    #[test]
    fn bad_input_is_reported() {
        let e = chat("gpt-4o", "[{\"role\": ", None).unwrap_err().to_string();
        assert!(e.starts_with("ERR messages is not valid JSON: "), "{e}");
        let e = chat("gpt-4o", r#"{"role":"user"}"#, None).unwrap_err().to_string();
        assert_eq!(e, "ERR messages must be a JSON array of message objects, not an object");
        let e = chat("gpt-4o", r#"[{"role":"user"}, 5]"#, None).unwrap_err().to_string();
        assert_eq!(e, "ERR messages[1] must be an object, not a number");
        let e = chat("gpt-4o", "[]", Some("{}")).unwrap_err().to_string();
        assert_eq!(e, "ERR tools must be a JSON array of tool objects, not an object");
        let e = count_chat(&Tokens::new(), &resolve(b"gpt-4o").unwrap(), b"[\"\xff\"]", None).unwrap_err().to_string();
        assert_eq!(e, "ERR messages is not valid UTF-8 (bad byte at offset 2)");
    }
}

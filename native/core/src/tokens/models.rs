//! From a model name to what counting needs: the encoding, the chat accounting constants, the
//! context window and most output tokens. Names are looked up in this order:
//! 1. private names registered from the config file's `models:` section (exact),
//! 2. encoding names (`o200k_base`, `cl100k_base`, ...),
//! 3. OpenAI model names: exact, then by prefix; `ft:base:org::id` uses `base`.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{Encoding, TokError};

/// How TOK.CHAT accounts for one model (the OpenAI cookbook's constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatFormat {
    pub tokens_per_message: i64,
    pub tokens_per_name: i64,
    /// Tokens that open each function in the tools block: 7 for the gpt-4o family, 10 for
    /// gpt-3.5/gpt-4.
    pub func_init: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    pub encoding: Encoding,
    pub chat: ChatFormat,
    pub context_window: Option<u32>,
    pub max_output: Option<u32>,
}

fn chat_format(name: &str, encoding: Encoding) -> ChatFormat {
    let func_init = if matches!(encoding, Encoding::O200kBase | Encoding::O200kHarmony) { 7 } else { 10 };
    if name == "gpt-3.5-turbo-0301" {
        // The first ChatML format: every message is `<|start|>{role/name}\n{content}<|end|>\n`.
        return ChatFormat { tokens_per_message: 4, tokens_per_name: -1, func_init };
    }
    ChatFormat { tokens_per_message: 3, tokens_per_name: 1, func_init }
}

/// Most output tokens per reply, by name prefix (longest prefix first). From OpenAI's model
/// pages; the config file's `models:` section overrides or extends it.
const MAX_OUTPUT: &[(&str, u32)] = &[
    ("gpt-5-chat", 16_384),
    ("gpt-5", 128_000),
    ("gpt-4.1", 32_768),
    ("gpt-4.5", 16_384),
    ("gpt-4o-mini", 16_384),
    ("gpt-4o-2024-05-13", 4_096),
    ("chatgpt-4o", 16_384),
    ("gpt-4o", 16_384),
    ("gpt-4-turbo", 4_096),
    ("gpt-4-1106", 4_096),
    ("gpt-4-0125", 4_096),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo-instruct", 4_096),
    ("gpt-3.5-turbo", 4_096),
    ("gpt-35-turbo", 4_096),
    ("o1-mini", 65_536),
    ("o1-preview", 32_768),
    ("o1", 100_000),
    ("o3", 100_000),
    ("o4-mini", 100_000),
    ("codex-mini", 100_000),
    ("gpt-oss", 131_072),
];

fn base_name(name: &str) -> &str {
    match name.strip_prefix("ft:") {
        Some(rest) => rest.split(':').next().unwrap_or(rest),
        None => name,
    }
}

fn max_output(name: &str) -> Option<u32> {
    let base = base_name(name);
    MAX_OUTPUT.iter().find(|(p, _)| base.starts_with(p)).map(|&(_, n)| n)
}

fn builtin(name: &str) -> Option<Model> {
    use tiktoken_rs::tokenizer::Tokenizer as T;
    let encoding = match tiktoken_rs::tokenizer::get_tokenizer(name)? {
        T::O200kHarmony => Encoding::O200kHarmony,
        T::O200kBase => Encoding::O200kBase,
        T::Cl100kBase => Encoding::Cl100kBase,
        T::P50kBase => Encoding::P50kBase,
        T::P50kEdit => Encoding::P50kEdit,
        T::R50kBase | T::Gpt2 => Encoding::R50kBase,
    };
    let context_window = tiktoken_rs::model::get_context_size(name).map(|n| n as u32);
    Some(Model { encoding, chat: chat_format(base_name(name), encoding), context_window, max_output: max_output(name) })
}

fn for_encoding(encoding: Encoding) -> Model {
    Model { encoding, chat: chat_format("", encoding), context_window: None, max_output: None }
}

/// Private model names (the config file's `models:` section), owned by `Tokens`.
#[derive(Default)]
pub struct PrivateModels {
    map: RwLock<HashMap<Vec<u8>, Model>>,
}

impl PrivateModels {
    /// Resolves a model name (bytes as the client sent them).
    pub fn resolve(&self, name: &[u8]) -> Result<Model, TokError> {
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if !map.is_empty() {
                if let Some(m) = map.get(name) {
                    return Ok(*m);
                }
            }
        }
        resolve_public(name)
    }

    /// Registers a private name (e.g. an Azure deployment) as another model or an encoding;
    /// `context_window` and `max_output` override what that target has when given.
    pub fn register(&self, name: &[u8], target: &[u8], context_window: Option<u32>, max_output: Option<u32>) -> Result<Model, TokError> {
        let base = self.resolve(target)?;
        let model = Model {
            context_window: context_window.or(base.context_window),
            max_output: max_output.or(base.max_output),
            ..base
        };
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_vec(), model);
        Ok(model)
    }

    /// Forgets every private name.
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Resolves an encoding or OpenAI model name, without private names.
pub fn resolve_public(name: &[u8]) -> Result<Model, TokError> {
    let text = std::str::from_utf8(name).map_err(|_| TokError::UnknownModel(String::from_utf8_lossy(name).into_owned()))?;
    if let Some(e) = Encoding::from_name(text) {
        return Ok(for_encoding(e));
    }
    builtin(text).ok_or_else(|| TokError::UnknownModel(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &[u8]) -> Result<Model, TokError> {
        resolve_public(name)
    }

    fn enc(name: &str) -> Encoding {
        resolve(name.as_bytes()).unwrap().encoding
    }

    #[test]
    fn maps_exact_names_prefixes_and_fine_tunes() {
        assert_eq!(enc("gpt-4o"), Encoding::O200kBase);
        assert_eq!(enc("gpt-4o-2024-08-06"), Encoding::O200kBase);
        assert_eq!(enc("gpt-4.1-mini"), Encoding::O200kBase);
        assert_eq!(enc("gpt-5"), Encoding::O200kBase);
        assert_eq!(enc("o3-mini"), Encoding::O200kBase);
        assert_eq!(enc("gpt-4"), Encoding::Cl100kBase);
        assert_eq!(enc("gpt-4-0613"), Encoding::Cl100kBase);
        assert_eq!(enc("gpt-3.5-turbo"), Encoding::Cl100kBase);
        assert_eq!(enc("gpt-35-turbo-16k"), Encoding::Cl100kBase);
        assert_eq!(enc("text-embedding-3-small"), Encoding::Cl100kBase);
        assert_eq!(enc("text-davinci-003"), Encoding::P50kBase);
        assert_eq!(enc("text-davinci-edit-001"), Encoding::P50kEdit);
        assert_eq!(enc("davinci"), Encoding::R50kBase);
        assert_eq!(enc("gpt-oss-120b"), Encoding::O200kHarmony);
        assert_eq!(enc("ft:gpt-4o-mini-2024-07-18:acme::abc123"), Encoding::O200kBase);
        assert_eq!(enc("ft:gpt-3.5-turbo-0125:acme::x"), Encoding::Cl100kBase);
    }

    #[test]
    fn accepts_every_encoding_name() {
        for e in Encoding::ALL {
            assert_eq!(enc(e.name()), e);
        }
    }

    #[test]
    fn unknown_names_are_errors_that_say_how_to_map_them() {
        let err = resolve(b"my-llama").unwrap_err().to_string();
        assert!(err.starts_with("ERR unknown model 'my-llama'"), "{err}");
        assert!(err.contains("o200k_base") && err.contains("models:"), "{err}");
        assert!(resolve(b"\xff\xfe").is_err());
    }

    #[test]
    fn chat_constants_follow_the_cookbook() {
        let m = resolve(b"gpt-4o").unwrap();
        assert_eq!(m.chat, ChatFormat { tokens_per_message: 3, tokens_per_name: 1, func_init: 7 });
        assert_eq!(resolve(b"gpt-4").unwrap().chat.func_init, 10);
        assert_eq!(resolve(b"gpt-3.5-turbo-0301").unwrap().chat.tokens_per_message, 4);
    }

    #[test]
    fn info_for_common_models() {
        let m = resolve(b"gpt-4o").unwrap();
        assert_eq!((m.context_window, m.max_output), (Some(128_000), Some(16_384)));
        let m = resolve(b"gpt-4").unwrap();
        assert_eq!((m.context_window, m.max_output), (Some(8_192), Some(8_192)));
        let m = resolve(b"cl100k_base").unwrap();
        assert_eq!((m.context_window, m.max_output), (None, None));
    }

    #[test]
    fn private_names_map_to_models_or_encodings_and_override_windows() {
        let private = PrivateModels::default();
        let (register, resolve) = (|n: &[u8], t: &[u8], w, o| private.register(n, t, w, o), |n: &[u8]| private.resolve(n));
        register(b"test-azure-prod", b"gpt-4o", None, Some(4_000)).unwrap();
        let m = resolve(b"test-azure-prod").unwrap();
        assert_eq!((m.encoding, m.context_window, m.max_output), (Encoding::O200kBase, Some(128_000), Some(4_000)));
        register(b"test-private-enc", b"cl100k_base", Some(32_000), None).unwrap();
        let m = resolve(b"test-private-enc").unwrap();
        assert_eq!((m.encoding, m.context_window, m.max_output), (Encoding::Cl100kBase, Some(32_000), None));
        assert!(register(b"test-bad", b"no-such-model", None, None).is_err());
        assert!(resolve(b"test-bad").is_err());
    }
}

//! Named limits (RL.POLICY, the config file's `policies:`), looked up by the name's bytes.

use std::collections::HashMap;
use std::sync::RwLock;

use super::Params;

#[derive(Default)]
pub struct Policies {
    map: RwLock<HashMap<Box<[u8]>, Params>>,
}

impl Policies {
    pub fn get(&self, name: &[u8]) -> Option<Params> {
        self.map.read().unwrap_or_else(|e| e.into_inner()).get(name).copied()
    }

    /// Sets (or replaces) a policy; true if it is new.
    pub fn set(&self, name: &[u8], p: Params) -> bool {
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert(name.into(), p).is_none()
    }

    pub fn remove(&self, name: &[u8]) -> bool {
        self.map.write().unwrap_or_else(|e| e.into_inner()).remove(name).is_some()
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<Box<[u8]>> {
        let mut names: Vec<_> = self.map.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }
}

//! `TESSERA__SECTION__KEY` variables as a figment provider, and figment
//! errors rewritten to name the key and its source.

use super::ENV_PREFIX;

/// figment's message names the key and the source (file or variable).
pub(super) fn describe_figment_error(e: figment::Error) -> String {
    let mut parts = Vec::new();
    for err in e {
        let path = key_path(&err.path);
        let source = err
            .metadata
            .as_ref()
            .map(|m| m.name.to_string())
            .unwrap_or_default();
        let mut msg = if path.is_empty() {
            err.kind.to_string()
        } else {
            format!("invalid value for `{path}`: {}", err.kind)
        };
        if !source.is_empty() {
            msg = format!("{msg} (from {source})");
        }
        parts.push(msg);
    }
    parts.join("; ")
}

/// `clients[0].secret_hash`: figment's path with list indexes in brackets.
fn key_path(segments: &[String]) -> String {
    let mut path = String::new();
    for s in segments {
        if s.bytes().all(|b| b.is_ascii_digit()) && !path.is_empty() {
            path = format!("{path}[{s}]");
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(s);
        }
    }
    path
}

/// A provider over a fixed list of variables, so tests can pass
/// their own environment instead of mutating the process's.
pub(super) struct EnvSnapshot {
    pub(super) vars: Vec<(String, String)>,
}

impl figment::Provider for EnvSnapshot {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("TESSERA__ environment variables")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Map, Value};
        let mut dict = Dict::new();
        for (key, raw) in &self.vars {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                return Err(figment::Error::from(format!(
                    "environment variable `{key}` has an empty key segment"
                )));
            }
            let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
            insert_path(&mut dict, &path, value);
        }
        let mut map = Map::new();
        map.insert(figment::Profile::Default, dict);
        Ok(map)
    }
}

fn insert_path(dict: &mut figment::value::Dict, path: &[String], value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [head, rest @ ..] => {
            let entry = dict
                .entry(head.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            } else {
                let mut inner = Dict::new();
                insert_path(&mut inner, rest, value);
                *entry = Value::from(inner);
            }
        }
    }
}

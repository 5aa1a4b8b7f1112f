//! A secret value that cannot be printed, logged or serialised by accident.
//!
//! It has no `Display` and no `Serialize`; its `Debug` prints `Secret(****)`. The only way to the
//! bytes is [`Secret::expose`], which a reader can grep for.

use super::Env;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads `NAME` or the file named by `NAME_FILE` (systemd's `LoadCredential`). Setting both
    /// is an error, since one of them would be ignored. An empty value is no secret at all: an
    /// empty password must never open the form. Errors never contain the value.
    pub fn from_env(env: &Env, name: &str) -> Result<Option<Secret>, String> {
        let file_var = format!("{name}_FILE");
        let direct = env.get(name).filter(|v| !v.is_empty());
        let file = env.get(&file_var).filter(|v| !v.is_empty());
        let value = match (direct, file) {
            (Some(_), Some(_)) => {
                return Err(format!("set either {name} or {file_var}, not both"));
            }
            (Some(v), None) => v.clone(),
            // The path is not quoted: a secret put in `NAME_FILE` by mistake would be.
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the file {file_var} names: {e}"))?,
            (None, None) => return Ok(None),
        };
        // Files written by `echo` or an editor end in a newline that is not part of the secret.
        let value = value.trim_end_matches(['\r', '\n']);
        Ok((!value.is_empty()).then(|| Secret(value.to_string())))
    }
}

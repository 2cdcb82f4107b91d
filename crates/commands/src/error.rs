//! Command errors, in Redis's own words (clients and tests match on them).

/// An error a command answers with. `message` renders the full error line (code included).
#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    /// `ERR wrong number of arguments for '<cmd>' command`
    WrongArity,
    /// `ERR syntax error`
    Syntax,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire,
    /// `OOM command not allowed when used memory > 'maxmemory'.`
    Oom,
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    UnknownSubcommand(String),
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// A full error line with its code (`ERR …`, `NOPERM …`).
    Msg(String),
    /// A full static error line with its code.
    Static(&'static str),
}

impl CmdError {
    /// The error line, without the leading `-`. `cmd` is the command's name as the client
    /// sent it (used by the arity and expire messages, lowercased as Redis does).
    pub fn message(&self, cmd: &str) -> String {
        match self {
            CmdError::WrongArity => format!(
                "ERR wrong number of arguments for '{}' command",
                cmd.to_ascii_lowercase()
            ),
            CmdError::Syntax => "ERR syntax error".into(),
            CmdError::NotInteger => "ERR value is not an integer or out of range".into(),
            CmdError::NotFloat => "ERR value is not a valid float".into(),
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            CmdError::NoSuchKey => "ERR no such key".into(),
            CmdError::Overflow => "ERR increment or decrement would overflow".into(),
            CmdError::InvalidExpire => format!(
                "ERR invalid expire time in '{}' command",
                cmd.to_ascii_lowercase()
            ),
            CmdError::Oom => "OOM command not allowed when used memory > 'maxmemory'.".into(),
            CmdError::UnknownSubcommand(sub) => {
                let top = cmd.split('|').next().unwrap_or(cmd).to_ascii_uppercase();
                format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    truncate(sub, 128),
                    top
                )
            }
            CmdError::DbIndexOutOfRange => "ERR DB index is out of range".into(),
            CmdError::Msg(m) => m.clone(),
            CmdError::Static(m) => (*m).into(),
        }
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub type CmdResult = Result<(), CmdError>;

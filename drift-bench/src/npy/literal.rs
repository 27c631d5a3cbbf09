//! The Python literals of a `.npy` header, read by a recursive-descent parser with a nesting
//! limit.

use super::NpyError;

/// The Python literals a `.npy` header can hold.
#[derive(Debug)]
pub(super) enum Literal {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    /// A list (only ever seen as a structured dtype, which is rejected).
    List,
    Dict(Vec<(String, Literal)>),
}

impl Literal {
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Literal::Str(_) => "a string",
            Literal::Int(_) => "an integer",
            Literal::Bool(_) => "a boolean",
            Literal::None => "None",
            Literal::Tuple(_) => "a tuple",
            Literal::List => "a list",
            Literal::Dict(_) => "a dict",
        }
    }
}

/// A recursive-descent parser of the Python literal subset used by `.npy` headers.
pub(super) struct Parser {
    pub(super) chars: Vec<char>,
    pub(super) at: usize,
}

/// Nesting limit, so that a hostile header cannot overflow the stack.
const MAX_DEPTH: usize = 32;

impl Parser {
    fn error(&self, what: &str) -> NpyError {
        if self.at >= self.chars.len() {
            return NpyError::BadHeader(format!("unexpected end of the header ({what})"));
        }
        NpyError::BadHeader(format!("{what} at character {}", self.at))
    }

    pub(super) fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.at).copied()
    }

    pub(super) fn value(&mut self) -> Result<Literal, NpyError> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Result<Literal, NpyError> {
        if depth > MAX_DEPTH {
            return Err(self.error("too deeply nested"));
        }
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.string(q).map(Literal::Str),
            Some('(') => {
                let (mut items, trailing_comma) = self.sequence(')', depth)?;
                // As in Python, `(3)` is the integer 3 and `(3,)` a tuple.
                Ok(match (items.len(), trailing_comma) {
                    (1, false) => items.remove(0),
                    _ => Literal::Tuple(items),
                })
            }
            Some('[') => self.sequence(']', depth).map(|_| Literal::List),
            Some('{') => self.dict(depth),
            Some(c) if c.is_ascii_digit() => self.int(),
            Some(c) if c.is_alphabetic() => {
                let start = self.at;
                while self.chars.get(self.at).is_some_and(|c| c.is_alphanumeric()) {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                match word.as_str() {
                    "True" => Ok(Literal::Bool(true)),
                    "False" => Ok(Literal::Bool(false)),
                    "None" => Ok(Literal::None),
                    _ => {
                        self.at = start;
                        Err(self.error(&format!("unexpected word '{word}'")))
                    }
                }
            }
            Some(c) => Err(self.error(&format!("unexpected character {c:?}"))),
            None => Err(self.error("expected a value")),
        }
    }

    fn string(&mut self, quote: char) -> Result<String, NpyError> {
        self.at += 1;
        let start = self.at;
        while let Some(c) = self.chars.get(self.at) {
            if *c == quote {
                let s = self.chars[start..self.at].iter().collect();
                self.at += 1;
                return Ok(s);
            }
            if *c == '\\' {
                return Err(self.error("escapes in strings are not supported"));
            }
            self.at += 1;
        }
        Err(self.error("unterminated string"))
    }

    fn int(&mut self) -> Result<Literal, NpyError> {
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        // Python 2's NumPy wrote long integers as `3L`.
        if self.chars.get(self.at) == Some(&'L') {
            self.at += 1;
        }
        digits.parse().map(Literal::Int).map_err(|_| {
            self.at = start;
            self.error(&format!("integer {digits} is too large"))
        })
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed; also says whether the last
    /// item had a trailing comma.
    fn sequence(&mut self, close: char, depth: usize) -> Result<(Vec<Literal>, bool), NpyError> {
        self.at += 1;
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok((items, trailing));
            }
            items.push(self.value_at(depth + 1)?);
            trailing = false;
            match self.peek() {
                Some(',') => {
                    self.at += 1;
                    trailing = true;
                }
                Some(c) if c == close => {}
                _ => return Err(self.error(&format!("expected ',' or '{close}'"))),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Literal, NpyError> {
        self.at += 1;
        let mut entries: Vec<(String, Literal)> = Vec::new();
        loop {
            match self.peek() {
                Some('}') => {
                    self.at += 1;
                    return Ok(Literal::Dict(entries));
                }
                Some(q @ ('\'' | '"')) => {
                    let key = self.string(q)?;
                    if self.peek() != Some(':') {
                        return Err(self.error("expected ':'"));
                    }
                    self.at += 1;
                    let value = self.value_at(depth + 1)?;
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(self.error(&format!("duplicate key '{key}'")));
                    }
                    entries.push((key, value));
                    match self.peek() {
                        Some(',') => self.at += 1,
                        Some('}') => {}
                        _ => return Err(self.error("expected ',' or '}'")),
                    }
                }
                _ => return Err(self.error("expected a string key or '}'")),
            }
        }
    }
}

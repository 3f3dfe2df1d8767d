//! An option's value as the application gave it, before it is checked.

use std::fmt;

/// What a Ruby (or any) caller hands over for one option.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// Not given, or nil: the option's default.
    Nil,
    Bool(bool),
    /// An integer, saturated to this range.
    Int(i128),
    Float(f64),
    Str(String),
    Symbol(String),
    List(Vec<OptionValue>),
    /// Keys and values in the order given.
    Map(Vec<(OptionValue, OptionValue)>),
    /// Anything else, shown as the caller describes it.
    Other(String),
}

impl OptionValue {
    /// Ruby's truthiness: everything but nil and false.
    pub fn is_truthy(&self) -> bool {
        !matches!(self, OptionValue::Nil | OptionValue::Bool(false))
    }

    /// The value of `key` (a symbol) in a map; `Nil` if absent.
    pub fn get(&self, key: &str) -> &OptionValue {
        match self {
            OptionValue::Map(entries) => entries
                .iter()
                .find(|(name, _)| matches!(name, OptionValue::Symbol(s) if s == key))
                .map_or(&OptionValue::Nil, |(_, value)| value),
            _ => &OptionValue::Nil,
        }
    }
}

/// Shown as Ruby's `inspect` shows it, for the messages of errors.
impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Nil => f.write_str("nil"),
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Int(i) => write!(f, "{i}"),
            OptionValue::Float(x) if x.fract() == 0.0 && x.is_finite() => write!(f, "{x:.1}"),
            OptionValue::Float(x) => write!(f, "{x}"),
            OptionValue::Str(s) => write!(f, "{s:?}"),
            OptionValue::Symbol(s) => write!(f, ":{s}"),
            OptionValue::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            OptionValue::Map(entries) => {
                f.write_str("{")?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}=>{value}")?;
                }
                f.write_str("}")
            }
            OptionValue::Other(shown) => f.write_str(shown),
        }
    }
}

/// Why an option was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// No value, and the option has no default.
    Required,
    /// The value is not of this description ("an Integer >= 1"): the caller
    /// words the message with the option's name and the value as given.
    Expected(&'static str),
    /// A whole message (a nested setting, a file that would not load).
    Message(String),
}

impl OptionError {
    /// The message for option `name` given `value` (as the caller shows it).
    pub fn message(&self, name: &str, value: &str) -> String {
        match self {
            OptionError::Required => format!(":{name} is required"),
            OptionError::Expected(expected) => format!(":{name} must be {expected}, got {value}"),
            OptionError::Message(message) => message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_as_ruby_inspects() {
        let map = OptionValue::Map(vec![
            (OptionValue::Symbol("a".into()), OptionValue::Int(1)),
            (OptionValue::Str("b".into()), OptionValue::Float(2.0)),
        ]);
        assert_eq!(map.to_string(), "{:a=>1, \"b\"=>2.0}");
        let list = OptionValue::List(vec![OptionValue::Nil, OptionValue::Bool(true)]);
        assert_eq!(list.to_string(), "[nil, true]");
        assert_eq!(OptionValue::Float(0.5).to_string(), "0.5");
    }

    #[test]
    fn messages_name_the_option() {
        let error = OptionError::Expected("an Integer >= 1");
        assert_eq!(
            error.message("backlog", "0"),
            ":backlog must be an Integer >= 1, got 0"
        );
        assert_eq!(
            OptionError::Required.message("port", "nil"),
            ":port is required"
        );
    }
}

//! The options of `EM::WebSocket.run`, read into the server's [`ServerConfig`].
//!
//! Each option is declared once, in `emws_server::options`; this module only
//! turns Ruby values into `OptionValue`s and the server's refusals into
//! `ArgumentError`s naming the option and the value as Ruby shows it.

use emws_server::options::{Kind, Tls};
use emws_server::{OptionError, OptionValue, ServerConfig, TlsConfig, OPTIONS};
use magnus::prelude::*;
use magnus::{Error, Float, Integer, RArray, RHash, RModule, RString, Ruby, Symbol, Value};

/// Reads and checks every option of `options`.
pub fn server_config(ruby: &Ruby, options: RHash) -> Result<ServerConfig, Error> {
    let lookup = |name: &str| -> Value {
        options
            .get(ruby.to_symbol(name))
            .unwrap_or_else(|| ruby.qnil().as_value())
    };
    let mut conversion_error = None;
    let config = ServerConfig::from_options(|name| match option_value(ruby, lookup(name)) {
        Ok(value) => value,
        Err(error) => {
            conversion_error.get_or_insert(error);
            OptionValue::Nil
        }
    });
    if let Some(error) = conversion_error {
        return Err(error);
    }
    config.map_err(|(name, error)| {
        let shown = lookup(name).inspect();
        Error::new(ruby.exception_arg_error(), error.message(name, &shown))
    })
}

/// Reads `tls_options` (a Hash as `Options::TLS.native` maps it) as
/// `:tls_options` is read when a server starts, for `Server#reload_tls`.
pub fn tls_config(ruby: &Ruby, tls_options: Value) -> Result<TlsConfig, Error> {
    let value = option_value(ruby, tls_options)?;
    Tls::read(&value)
        // `Tls` makes a configuration of every Hash it does not refuse.
        .and_then(|config| config.ok_or(OptionError::Required))
        .map_err(|error| {
            let shown = tls_options.inspect();
            Error::new(
                ruby.exception_arg_error(),
                error.message("tls_options", &shown),
            )
        })
}

/// A Ruby value as an option's value.
fn option_value(ruby: &Ruby, value: Value) -> Result<OptionValue, Error> {
    if value.is_nil() {
        return Ok(OptionValue::Nil);
    }
    if value.is_kind_of(ruby.class_true_class()) {
        return Ok(OptionValue::Bool(true));
    }
    if value.is_kind_of(ruby.class_false_class()) {
        return Ok(OptionValue::Bool(false));
    }
    if let Some(integer) = Integer::from_value(value) {
        let saturated = match integer.to_i64() {
            Ok(small) => i128::from(small),
            Err(_) if value.funcall::<_, _, bool>("negative?", ())? => i128::MIN,
            Err(_) => i128::MAX,
        };
        return Ok(OptionValue::Int(saturated));
    }
    if let Some(float) = Float::from_value(value) {
        return Ok(OptionValue::Float(float.to_f64()));
    }
    if let Some(symbol) = Symbol::from_value(value) {
        return Ok(OptionValue::Symbol(symbol.name()?.into_owned()));
    }
    if let Some(string) = RString::from_value(value) {
        // SAFETY: the bytes are copied before any Ruby code runs.
        let text = unsafe { string.as_slice() };
        return Ok(OptionValue::Str(String::from_utf8_lossy(text).into_owned()));
    }
    if let Some(list) = RArray::from_value(value) {
        return list
            .into_iter()
            .map(|item| option_value(ruby, item))
            .collect::<Result<_, _>>()
            .map(OptionValue::List);
    }
    if let Some(hash) = RHash::from_value(value) {
        let mut entries = Vec::new();
        hash.foreach(|key: Value, item: Value| {
            entries.push((option_value(ruby, key)?, option_value(ruby, item)?));
            Ok(magnus::r_hash::ForEach::Continue)
        })?;
        return Ok(OptionValue::Map(entries));
    }
    Ok(OptionValue::Other(value.inspect()))
}

/// `EmWebSocketRs::Native.options`: every option as `[name, default, doc]`,
/// for the documentation.
fn options(ruby: &Ruby) -> Result<RArray, Error> {
    let list = ruby.ary_new_capa(OPTIONS.len());
    for option in OPTIONS {
        let doc = option
            .doc
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        list.push((option.name, option.default, doc.trim().to_string()))?;
    }
    Ok(list)
}

pub fn register(native: RModule) -> Result<(), Error> {
    native.define_module_function("options", magnus::function!(options, 0))?;
    native.const_set(
        "DEFAULT_MAX_FRAME_SIZE",
        emws_core::protocol::DEFAULT_MAX_FRAME_SIZE,
    )
}

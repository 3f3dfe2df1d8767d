//! `EmWebSocketRs::Native.handshake`: the core's handshake for Ruby code that
//! drives `EM::WebSocket::Handshake` by hand (`Handshake.new(secure)` and
//! `receive_data`, as em-websocket's own unit specs do).

use emws_core::handshake::{accept, read_preface, Preface};
use emws_core::HandshakeConfig;
use magnus::{function, Error, IntoValue, RArray, RModule, RString, Ruby};

/// The head may be this large here: em-websocket set no bound on it.
const MAX_HEAD: usize = 1024 * 1024;

/// Returns `[:incomplete]`, `[:error, message]`, or
/// `[:upgrade, response, path, query_string, header_pairs, version, protocol]`.
/// `latest_read` is where the latest bytes fed begin in `data`, for
/// em-websocket's message about a malformed head.
pub fn parse(
    ruby: &Ruby,
    data: RString,
    latest_read: usize,
    secure: bool,
) -> Result<RArray, Error> {
    // SAFETY: the bytes are only read before any Ruby code runs.
    let bytes = unsafe { data.as_slice() };
    let outcome = match read_preface(bytes, latest_read, MAX_HEAD) {
        Ok(Preface::Incomplete) => return incomplete(ruby),
        Ok(Preface::Request(request)) => accept(
            &request,
            &HandshakeConfig {
                secure,
                ..HandshakeConfig::default()
            },
        )
        .map(|accepted| (request, accepted)),
        Ok(Preface::Healthcheck) | Ok(Preface::PolicyFile) => {
            return error(ruby, "Not an upgrade request")
        }
        Err(e) => Err(e),
    };
    let (request, accepted) = match outcome {
        Ok(parts) => parts,
        Err(e) => return error(ruby, &e.message),
    };
    let pairs = ruby.ary_new_capa(request.headers.len() * 2);
    for (name, value) in &request.headers {
        pairs.push(ruby.str_new(name))?;
        pairs.push(ruby.str_new(value))?;
    }
    let result = ruby.ary_new_capa(7);
    result.push(ruby.to_symbol("upgrade"))?;
    result.push(ruby.str_from_slice(&accepted.response))?;
    result.push(ruby.str_new(&request.path))?;
    result.push(ruby.str_new(&request.query_string))?;
    result.push(pairs)?;
    result.push(request.version)?;
    result.push(
        accepted
            .protocol
            .map(|p| ruby.str_new(&p))
            .into_value_with(ruby),
    )?;
    Ok(result)
}

fn incomplete(ruby: &Ruby) -> Result<RArray, Error> {
    let result = ruby.ary_new_capa(1);
    result.push(ruby.to_symbol("incomplete"))?;
    Ok(result)
}

fn error(ruby: &Ruby, message: &str) -> Result<RArray, Error> {
    let result = ruby.ary_new_capa(2);
    result.push(ruby.to_symbol("error"))?;
    result.push(ruby.str_new(message))?;
    Ok(result)
}

pub fn register(native: RModule) -> Result<(), Error> {
    native.define_module_function("handshake", function!(parse, 3))
}

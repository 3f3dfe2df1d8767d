//! `EmWebSocketRs::Native::Server` and the process-wide settings.

use std::sync::atomic::Ordering;
use std::time::Duration;

use emws_server::{executor::runtime, Server, DEFAULT_MAX_FRAME_SIZE};
use magnus::{function, method, prelude::*, Error, RArray, RHash, RModule, Ruby, Value};

#[magnus::wrap(class = "EmWebSocketRs::Native::Server", free_immediately, size)]
pub struct NativeServer(pub Server);

impl NativeServer {
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    pub fn port(&self) -> u16 {
        self.0.local_addrs().first().map_or(0, |addr| addr.port())
    }

    pub fn addresses(ruby: &Ruby, rb_self: &Self) -> Result<RArray, Error> {
        let list = ruby.ary_new();
        for addr in rb_self.0.local_addrs() {
            list.push(addr.to_string())?;
        }
        Ok(list)
    }

    /// The port of `metrics: { port: }`'s listener, or nil.
    pub fn metrics_port(&self) -> Option<u16> {
        self.0.metrics_addr().map(|addr| addr.port())
    }

    pub fn stats(ruby: &Ruby, rb_self: &Self) -> Result<RHash, Error> {
        crate::stats::snapshot_hash(ruby, &rb_self.0.stats())
    }

    /// Starts a graceful drain (see `Server::drain`); returns at once.
    pub fn drain(&self, within: f64) {
        let within = crate::connection::duration(within).unwrap_or(Duration::ZERO);
        self.0.drain(within);
    }

    pub fn open_connections(&self) -> usize {
        self.0.open_connections()
    }

    /// Whether the server serves `wss://`.
    pub fn is_secure(&self) -> bool {
        self.0.is_secure()
    }

    /// Loads `tls_options` (as `Options::TLS.native` maps them) and has new
    /// TLS handshakes use them; raises ArgumentError, and keeps the current
    /// ones, when they do not load.
    pub fn reload_tls(ruby: &Ruby, rb_self: &Self, tls_options: Value) -> Result<(), Error> {
        if !rb_self.0.is_secure() {
            return Err(not_secure(ruby));
        }
        let tls = crate::options::tls_config(ruby, tls_options)?;
        if rb_self.0.reload_tls(tls) {
            Ok(())
        } else {
            Err(not_secure(ruby))
        }
    }

    /// Closes the listeners and every connection; waits up to `wait` seconds
    /// for them to be gone. Their `Closed` events are then queued.
    pub fn stop(&self, wait: f64) -> bool {
        let wait = crate::connection::duration(wait).unwrap_or(Duration::ZERO);
        self.0.stop(wait)
    }
}

fn not_secure(ruby: &Ruby) -> Error {
    Error::new(
        ruby.exception_runtime_error(),
        "reload_tls: this server does not serve wss:// (it was started without :secure)",
    )
}

pub fn set_default_max_frame_size(max: usize) {
    DEFAULT_MAX_FRAME_SIZE.store(max, Ordering::Relaxed);
}

pub fn set_worker_threads(count: usize) {
    runtime::set_worker_threads(count);
}

pub fn worker_threads() -> usize {
    runtime::worker_threads()
}

pub fn register(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    native.define_module_function("max_frame_size=", function!(set_default_max_frame_size, 1))?;
    native.define_module_function("worker_threads=", function!(set_worker_threads, 1))?;
    native.define_module_function("worker_threads", function!(worker_threads, 0))?;
    let class = native.define_class("Server", ruby.class_object())?;
    class.define_method("id", method!(NativeServer::id, 0))?;
    class.define_method("port", method!(NativeServer::port, 0))?;
    class.define_method("addresses", method!(NativeServer::addresses, 0))?;
    class.define_method("stop", method!(NativeServer::stop, 1))?;
    class.define_method("drain", method!(NativeServer::drain, 1))?;
    class.define_method(
        "open_connections",
        method!(NativeServer::open_connections, 0),
    )?;
    class.define_method("metrics_port", method!(NativeServer::metrics_port, 0))?;
    class.define_method("stats", method!(NativeServer::stats, 0))?;
    class.define_method("secure?", method!(NativeServer::is_secure, 0))?;
    class.define_method("reload_tls", method!(NativeServer::reload_tls, 1))?;
    Ok(())
}

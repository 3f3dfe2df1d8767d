//! What the dispatch reads of a Ruby connection without calling a method on
//! it, and the Ruby calls it makes without a method lookup: the fast path of
//! every message.
//!
//! It reads these instance variables, which `lib/em-websocket-rs/connection.rb`
//! sets (the names are here and nowhere else on this side):
//! * on a connection: `@debug`, `@onmessage`, `@onbinary`;
//! * on a connection's class, set by `Connection.accept`:
//!   `@_rs_plain_triggers` (the class keeps the library's
//!   `trigger_on_message`/`trigger_on_binary`, so their blocks may be called
//!   directly) and `@_rs_byte_hooks` (the class overrides `receive_data` or
//!   `dispatch`, so the connection's bytes go to them).

use magnus::rb_sys::{AsRawId, AsRawValue, FromRawValue};
use magnus::value::{IntoId, LazyId, OpaqueId};
use magnus::{Error, RString, Ruby, Value};

pub static DEBUG: LazyId = LazyId::new("@debug");
pub static ON_MESSAGE: LazyId = LazyId::new("@onmessage");
pub static ON_BINARY: LazyId = LazyId::new("@onbinary");
pub static PLAIN_TRIGGERS: LazyId = LazyId::new("@_rs_plain_triggers");
pub static BYTE_HOOKS: LazyId = LazyId::new("@_rs_byte_hooks");

/// An instance variable's value; `None` when unset, nil or false.
pub fn ivar(ruby: &Ruby, object: Value, name: OpaqueId) -> Option<Value> {
    let name = name.into_id_with(ruby).as_raw();
    // SAFETY: on the Ruby thread; reading an instance variable cannot raise.
    let value = unsafe { rb_sys::rb_ivar_get(object.as_raw(), name) };
    // SAFETY: a VALUE Ruby just returned.
    rb_sys::TEST(value).then(|| unsafe { Value::from_raw(value) })
}

/// Whether methods may have been defined on this one object (`def
/// ws.receive_data`, `ws.extend`): they live in its singleton class.
pub fn has_singleton_class(object: Value) -> bool {
    // SAFETY: on the Ruby thread, with a live object.
    unsafe {
        let raw = object.as_raw();
        (*(raw as *const rb_sys::RBasic)).klass != rb_sys::rb_obj_class(raw)
    }
}

/// The class of `object` (not its singleton class).
pub fn class_of(object: Value) -> Value {
    // SAFETY: on the Ruby thread, with a live object; the class is live too.
    unsafe { Value::from_raw(rb_sys::rb_obj_class(object.as_raw())) }
}

/// A UTF-8 String of text the core has validated, with its code range set
/// from what is known (as `RB_ENCODING_SET_INLINED` and `ENC_CODERANGE_SET`
/// do), so that neither associating the encoding nor `ws.send`'s check of
/// the String scans or looks anything up again.
pub fn validated_text(ruby: &Ruby, text: &[u8]) -> RString {
    use rb_sys::ruby_coderange_type::{self, RUBY_ENC_CODERANGE_7BIT, RUBY_ENC_CODERANGE_VALID};
    use rb_sys::ruby_encoding_consts::{RUBY_ENCODING_MASK, RUBY_ENCODING_SHIFT};
    let string = ruby.str_from_slice(text);
    let range = if text.is_ascii() {
        RUBY_ENC_CODERANGE_7BIT
    } else {
        RUBY_ENC_CODERANGE_VALID
    };
    let shift = RUBY_ENCODING_SHIFT as u32;
    let fields = RUBY_ENCODING_MASK as rb_sys::VALUE
        | ruby_coderange_type::RUBY_ENC_CODERANGE_MASK as rb_sys::VALUE;
    // SAFETY: on the Ruby thread, on a String just created that no other
    // code has seen yet; UTF-8's index is below the inline maximum.
    unsafe {
        let utf8 = rb_sys::rb_utf8_encindex() as rb_sys::VALUE;
        let basic = string.as_raw() as *mut rb_sys::RBasic;
        (*basic).flags = ((*basic).flags & !fields) | (utf8 << shift) | range as rb_sys::VALUE;
    }
    string
}

/// Whether `value` is a plain Proc (a subclass may define its own `call`).
pub fn is_proc(value: Value) -> bool {
    // SAFETY: on the Ruby thread, with a live object; rb_cProc is set at boot.
    unsafe { rb_sys::rb_obj_class(value.as_raw()) == rb_sys::rb_cProc }
}

/// `block.call(message)`, as `Proc#call` does it, without an argument Array.
pub fn call_block(block: Value, message: RString) -> Result<Value, Error> {
    let argv = [message.as_raw()];
    // SAFETY: on the Ruby thread; `argv` outlives the call and holds a live
    // String, which the stack keeps from the GC.
    magnus::rb_sys::protect(|| unsafe {
        rb_sys::rb_proc_call_with_block(block.as_raw(), 1, argv.as_ptr(), rb_sys::Qnil as _)
    })
    // SAFETY: a VALUE Ruby just returned.
    .map(|value| unsafe { Value::from_raw(value) })
}

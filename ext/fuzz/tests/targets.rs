//! The targets on their corpus, and that their checks can fail.

use std::fs;
use std::path::Path;

use emws_fuzz::{handshake, seeds, target, TARGETS};

/// `corpus/` is what `fuzz-stable seed` writes, and every input passes.
#[test]
fn committed_corpus_is_the_seeds_and_passes() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, run) in TARGETS {
        let seeds = seeds::for_target(name);
        assert!(seeds.len() >= 10, "{name}: {} seeds", seeds.len());
        for (file, bytes) in seeds {
            let path = corpus.join(name).join(&file);
            let committed = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                committed,
                bytes,
                "{} differs from its seed: rake fuzz:seed",
                path.display()
            );
            run(&bytes);
        }
    }
}

#[test]
fn short_and_empty_inputs() {
    for (_, run) in TARGETS {
        for len in 0..4 {
            run(&vec![0xFF; len]);
        }
    }
}

#[test]
fn a_response_head_with_a_stray_line_break_is_caught() {
    handshake::check_response(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    for bad in [
        &b"HTTP/1.1 101 Switching Protocols\r\nOrigin: a\nSet-Cookie: x\r\n\r\n"[..],
        b"HTTP/1.1 101 Switching Protocols\r\nOrigin: a\rb\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n",
    ] {
        let caught = std::panic::catch_unwind(|| handshake::check_response(bad)).is_err();
        assert!(caught, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn targets_by_name() {
    assert!(target("frames_hixie").is_some());
    assert!(target("nope").is_none());
}

//! Opcodes: what a frame carries.
//!
//! Drafts 01-06 and RFC 6455 (drafts 07+) carry the same six kinds of frame
//! but number them differently.

/// The kind of a frame, whatever number the draft gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    /// Control frames may be interleaved with the fragments of a message and
    /// may not be fragmented themselves.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// How a draft numbers its opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// Drafts 01-06: continuation 0, close 1, ping 2, pong 3, text 4, binary 5.
    Draft03,
    /// Drafts 07+ and RFC 6455 §5.2: continuation 0, text 1, binary 2,
    /// close 8, ping 9, pong 10.
    Rfc6455,
}

impl Numbering {
    /// The opcode a 4-bit number stands for; `None` for reserved numbers.
    pub fn decode(self, number: u8) -> Option<OpCode> {
        let op = match (self, number) {
            (_, 0) => OpCode::Continuation,
            (Numbering::Draft03, 1) => OpCode::Close,
            (Numbering::Draft03, 2) => OpCode::Ping,
            (Numbering::Draft03, 3) => OpCode::Pong,
            (Numbering::Draft03, 4) => OpCode::Text,
            (Numbering::Draft03, 5) => OpCode::Binary,
            (Numbering::Rfc6455, 1) => OpCode::Text,
            (Numbering::Rfc6455, 2) => OpCode::Binary,
            (Numbering::Rfc6455, 8) => OpCode::Close,
            (Numbering::Rfc6455, 9) => OpCode::Ping,
            (Numbering::Rfc6455, 10) => OpCode::Pong,
            _ => return None,
        };
        Some(op)
    }

    pub fn encode(self, op: OpCode) -> u8 {
        match (self, op) {
            (_, OpCode::Continuation) => 0,
            (Numbering::Draft03, OpCode::Close) => 1,
            (Numbering::Draft03, OpCode::Ping) => 2,
            (Numbering::Draft03, OpCode::Pong) => 3,
            (Numbering::Draft03, OpCode::Text) => 4,
            (Numbering::Draft03, OpCode::Binary) => 5,
            (Numbering::Rfc6455, OpCode::Text) => 1,
            (Numbering::Rfc6455, OpCode::Binary) => 2,
            (Numbering::Rfc6455, OpCode::Close) => 8,
            (Numbering::Rfc6455, OpCode::Ping) => 9,
            (Numbering::Rfc6455, OpCode::Pong) => 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_numbers() {
        let n = Numbering::Rfc6455;
        let expected = [
            (0, OpCode::Continuation),
            (1, OpCode::Text),
            (2, OpCode::Binary),
            (8, OpCode::Close),
            (9, OpCode::Ping),
            (10, OpCode::Pong),
        ];
        for (number, op) in expected {
            assert_eq!(n.decode(number), Some(op));
            assert_eq!(n.encode(op), number);
        }
        for reserved in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
            assert_eq!(n.decode(reserved), None);
        }
    }

    #[test]
    fn draft03_numbers() {
        let n = Numbering::Draft03;
        let expected = [
            (0, OpCode::Continuation),
            (1, OpCode::Close),
            (2, OpCode::Ping),
            (3, OpCode::Pong),
            (4, OpCode::Text),
            (5, OpCode::Binary),
        ];
        for (number, op) in expected {
            assert_eq!(n.decode(number), Some(op));
            assert_eq!(n.encode(op), number);
        }
        for reserved in 6..16 {
            assert_eq!(n.decode(reserved), None);
        }
    }

    #[test]
    fn control_frames() {
        assert!(OpCode::Close.is_control());
        assert!(OpCode::Ping.is_control());
        assert!(OpCode::Pong.is_control());
        assert!(!OpCode::Text.is_control());
        assert!(!OpCode::Binary.is_control());
        assert!(!OpCode::Continuation.is_control());
    }
}

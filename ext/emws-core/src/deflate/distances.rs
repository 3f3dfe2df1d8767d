//! Test support: the longest match distance in raw deflate data (RFC 1951),
//! to check window sizes. zlib cannot tell: within one call it lets a match
//! reach into that call's output, and zlib-rs keeps a 32 KiB window whatever
//! the window bits.

/// Reads LSB-first bits, as deflate packs them.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bits(&mut self, n: u32) -> u32 {
        let mut value = 0;
        for i in 0..n {
            let byte = self.data[self.pos / 8];
            value |= u32::from((byte >> (self.pos % 8)) & 1) << i;
            self.pos += 1;
        }
        value
    }

    fn exhausted(&self) -> bool {
        self.pos >= self.data.len() * 8
    }
}

/// A canonical Huffman code, decoded as zlib's puff does.
struct Huffman {
    count: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Self {
        let mut count = [0u16; 16];
        for &len in lengths {
            count[usize::from(len)] += 1;
        }
        count[0] = 0;
        let mut symbols = Vec::new();
        for len in 1..16 {
            for (symbol, _) in lengths
                .iter()
                .enumerate()
                .filter(|(_, &l)| usize::from(l) == len)
            {
                symbols.push(symbol as u16);
            }
        }
        Huffman { count, symbols }
    }

    fn decode(&self, bits: &mut Bits) -> u16 {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bits(1) as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                return self.symbols[(index + code - first) as usize];
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        panic!("invalid Huffman code");
    }
}

const LENGTH_EXTRA: [u32; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u32; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u32; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// The longest distance any match in `data` reaches back (0: none). `data`
/// must end on a block boundary, as a message with §7.2.2's tail does.
pub fn max_distance(data: &[u8]) -> u32 {
    let mut bits = Bits { data, pos: 0 };
    let mut max = 0;
    while !bits.exhausted() {
        bits.bits(1); // BFINAL
        match bits.bits(2) {
            0 => {
                bits.pos = bits.pos.div_ceil(8) * 8;
                let len = bits.bits(16);
                bits.bits(16);
                bits.pos += len as usize * 8;
            }
            1 => {
                let mut lengths = [8u8; 288];
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                max = max.max(codes(
                    &mut bits,
                    &Huffman::new(&lengths),
                    &Huffman::new(&[5; 30]),
                ));
            }
            2 => {
                let (literals, distances) = dynamic_codes(&mut bits);
                max = max.max(codes(&mut bits, &literals, &distances));
            }
            _ => panic!("invalid block type"),
        }
    }
    max
}

fn dynamic_codes(bits: &mut Bits) -> (Huffman, Huffman) {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let nlen = bits.bits(5) as usize + 257;
    let ndist = bits.bits(5) as usize + 1;
    let ncode = bits.bits(4) as usize + 4;
    let mut code_lengths = [0u8; 19];
    for &i in &ORDER[..ncode] {
        code_lengths[i] = bits.bits(3) as u8;
    }
    let code = Huffman::new(&code_lengths);
    let mut lengths = Vec::with_capacity(nlen + ndist);
    while lengths.len() < nlen + ndist {
        match code.decode(bits) {
            symbol @ 0..=15 => lengths.push(symbol as u8),
            16 => {
                let previous = *lengths.last().expect("repeat with no length");
                let times = 3 + bits.bits(2);
                lengths.extend((0..times).map(|_| previous));
            }
            17 => {
                let times = 3 + bits.bits(3);
                lengths.extend((0..times).map(|_| 0));
            }
            _ => {
                let times = 11 + bits.bits(7);
                lengths.extend((0..times).map(|_| 0));
            }
        }
    }
    (
        Huffman::new(&lengths[..nlen]),
        Huffman::new(&lengths[nlen..]),
    )
}

/// Walks a block's codes up to its end, returning its longest distance.
fn codes(bits: &mut Bits, literals: &Huffman, distances: &Huffman) -> u32 {
    let mut max = 0;
    loop {
        match literals.decode(bits) {
            0..=255 => {}
            256 => return max,
            symbol => {
                bits.bits(LENGTH_EXTRA[usize::from(symbol - 257)]);
                let d = usize::from(distances.decode(bits));
                max = max.max(DIST_BASE[d] + bits.bits(DIST_EXTRA[d]));
            }
        }
    }
}

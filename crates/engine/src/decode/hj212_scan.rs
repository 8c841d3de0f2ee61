//! Byte scans of the HJ 212 parser, eight bytes per step (SWAR): the delimiters `;` `,` `=`
//! `-` of CP in order ([`Delimiters`]), and one byte such as the `;` ending a header field
//! ([`find_byte`], and [`rfind_byte`] for the `/` of a topic). The parser then touches only the three or so delimiters of each item
//! instead of branching on every byte, which was the largest cost of decoding a frame. Also
//! the ASCII lowercase of eight bytes at once, for factor codes.

/// Positions (and bytes) of the CP delimiters `;` `,` `=` `-` in `bytes[from..]`, in order.
pub(super) struct Delimiters<'a> {
    bytes: &'a [u8],
    base: usize,
    /// 0x80 in each byte of the word at `base` that is a delimiter not yet yielded.
    mask: u64,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH: u64 = !LOW7;

/// The high bit of each byte of the result is clear exactly where `x` has a zero byte (the
/// addition cannot carry across bytes).
#[inline]
fn nonzero(x: u64) -> u64 {
    ((x & LOW7) + LOW7) | x
}

/// 0x80 in each byte of `w` equal to `c`, nothing elsewhere.
#[inline]
fn bytes_equal(w: u64, c: u8) -> u64 {
    !(nonzero(w ^ (ONES * c as u64)) | LOW7)
}

/// 0x80 in each byte of `w` that may be `;` `,` `=` or `-`: clearing bits 4 and 7 takes those
/// four to 0x2B..=0x2D, so one range test (five operations) finds them all. It also marks `+`,
/// `<` and six bytes ≥ 0x80 (0xAB..=0xAD, 0xBB..=0xBD), which [`Delimiters`] skips; four exact
/// compares cost three times as much for the bytes of every frame.
#[inline]
fn candidate_mask(w: u64) -> u64 {
    let y = w & (ONES * 0x6F); // at most 0x6F: the additions below cannot carry across bytes
    let at_least_lo = y + ONES * (0x80 - 0x2B) as u64;
    let above_hi = y + ONES * (0x80 - 0x2E) as u64;
    at_least_lo & !above_hi & HIGH
}

/// The 8 bytes at `at` as a little-endian word, zero bytes past the end of `bytes`.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(chunk) => u64::from_le_bytes(chunk.try_into().unwrap_or_default()),
        None => {
            let mut word = [0u8; 8];
            let tail = bytes.get(at..).unwrap_or_default();
            word[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(word)
        }
    }
}

impl<'a> Delimiters<'a> {
    #[inline]
    pub(super) fn new(bytes: &'a [u8], from: usize) -> Self {
        // Words start at multiples of 8; the bytes of the first word before `from` are masked.
        let base = from & !7;
        let skip = (from - base) * 8;
        let mask = candidate_mask(word_at(bytes, base)) & (u64::MAX << skip);
        Self { bytes, base, mask }
    }
}

impl Iterator for Delimiters<'_> {
    type Item = (usize, u8);

    #[inline]
    fn next(&mut self) -> Option<(usize, u8)> {
        loop {
            while self.mask == 0 {
                self.base += 8;
                if self.base >= self.bytes.len() {
                    return None;
                }
                self.mask = candidate_mask(word_at(self.bytes, self.base));
            }
            let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
            self.mask &= self.mask - 1;
            // Always in bounds: the padding past the end is zero bytes, never a candidate.
            match self.bytes.get(at) {
                Some(&b @ (b';' | b',' | b'=' | b'-')) => return Some((at, b)),
                Some(_) => {} // `+`, `<` or a byte ≥ 0x80 that the mask let through
                None => return None,
            }
        }
    }
}

/// The first `c` in `bytes[from..]`.
#[inline]
pub(super) fn find_byte(bytes: &[u8], from: usize, c: u8) -> Option<usize> {
    let mut at = from;
    while at < bytes.len() {
        let hits = bytes_equal(word_at(bytes, at), c);
        if hits != 0 {
            // A hit in the zero padding is impossible unless `c` is 0, which the bound excludes.
            return Some(at + (hits.trailing_zeros() / 8) as usize).filter(|&i| i < bytes.len());
        }
        at += 8;
    }
    None
}

/// The last `c` in `bytes` (also used to route topics).
#[inline]
pub(super) fn rfind_byte(bytes: &[u8], c: u8) -> Option<usize> {
    let mut end = bytes.len();
    while end >= 8 {
        let hits = bytes_equal(word_at(bytes, end - 8), c);
        if hits != 0 {
            return Some(end - 1 - (hits.leading_zeros() / 8) as usize);
        }
        end -= 8;
    }
    bytes[..end].iter().rposition(|&b| b == c)
}

/// ASCII lowercase of each byte of `w` (bytes outside `A..=Z` unchanged), as
/// `u8::to_ascii_lowercase` on each.
#[inline]
pub(super) fn ascii_lowercase(w: u64) -> u64 {
    let low = w & LOW7;
    let from_a = low + ONES * (0x80 - b'A') as u64; // high bit: low ≥ 'A'
    let past_z = low + ONES * (0x7F - b'Z') as u64; // high bit: low > 'Z'
    let upper = from_a & !past_z & !w & HIGH;
    w | (upper >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_delimiter_in_order() {
        let text = b"DataTime=20240715083000;w01010-Rtd=-23.4,w01010-Flag=N;x;;=";
        let expected: Vec<(usize, u8)> = text
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b, b';' | b',' | b'=' | b'-'))
            .map(|(i, b)| (i, *b))
            .collect();
        for n in 0..=text.len() {
            for from in 0..=n {
                let got: Vec<_> = Delimiters::new(&text[..n], from).collect();
                let want: Vec<_> = expected
                    .iter()
                    .copied()
                    .filter(|(i, _)| (from..n).contains(i))
                    .collect();
                assert_eq!(got, want, "bytes {from}..{n}");
            }
        }
    }

    #[test]
    fn high_bytes_are_not_delimiters() {
        let text = "温度=1;\u{ff}\u{2d}".as_bytes();
        let got: Vec<_> = Delimiters::new(text, 0).map(|(_, b)| b).collect();
        assert_eq!(got, b"=;-");
        assert_eq!(
            bytes_equal(u64::from_le_bytes(*b"\xbb\xac;\x3b\x00\xff-="), b';'),
            0x0000_0000_8080_0000
        );
        // Every byte value, in every position of a word, among delimiters and among letters:
        // the mask marks exactly the documented candidates, and the scan yields exactly the
        // delimiters.
        for b in 0..=255u8 {
            for pos in 0..8 {
                for fill in [b';', b'a'] {
                    let mut word = [fill; 8];
                    word[pos] = b;
                    let hit = candidate_mask(u64::from_le_bytes(word)) >> (8 * pos) & 0x80 != 0;
                    assert_eq!(hit, b & 0x6F >= 0x2B && b & 0x6F <= 0x2D, "{b:#x} at {pos}");
                    let delimiter = matches!(b, b';' | b',' | b'=' | b'-');
                    assert!(!delimiter || hit, "{b:#x} at {pos}");
                    let found = Delimiters::new(&word, 0).any(|(i, _)| i == pos);
                    assert_eq!(found, delimiter, "{b:#x} at {pos}");
                }
            }
        }
    }

    #[test]
    fn find_byte_matches_position() {
        let text = b"QN=20240715083000123;ST=21;CN=2011;PW=123456;";
        for n in 0..=text.len() {
            for from in 0..=n {
                let want = text[from..n].iter().position(|&b| b == b';');
                assert_eq!(
                    find_byte(&text[..n], from, b';'),
                    want.map(|i| from + i),
                    "{from}..{n}"
                );
            }
        }
        assert_eq!(find_byte(b"abc", 5, b';'), None);
        for n in 0..=text.len() {
            let want = text[..n].iter().rposition(|&b| b == b';');
            assert_eq!(rfind_byte(&text[..n], b';'), want, "..{n}");
        }
    }

    #[test]
    fn lowercase_matches_the_bytewise_one() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let w = u64::from(b) << (8 * pos) | 0x4141_4141_4141_4141 & !(0xFF << (8 * pos));
                let want = u64::from_le_bytes(w.to_le_bytes().map(|c| c.to_ascii_lowercase()));
                assert_eq!(ascii_lowercase(w), want, "{b:#x} at {pos}");
            }
        }
    }
}

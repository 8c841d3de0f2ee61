//! The delimiter scanner of the HJ 212 CP parser: yields the positions of `;` `,` `=` and `-`
//! in order, testing eight bytes per step (SWAR). The parser then touches only the three or
//! so delimiters of each item instead of branching on every byte, which was the largest cost
//! of decoding a frame.

/// Positions (and bytes) of the CP delimiters `;` `,` `=` `-`, in order.
pub(super) struct Delimiters<'a> {
    bytes: &'a [u8],
    base: usize,
    /// 0x80 in each byte of the current 8-byte word that is a delimiter not yet yielded.
    mask: u64,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// 0x80 in each byte of `w` equal to `c`, nothing elsewhere (exact: the additions cannot carry
/// across bytes).
#[inline]
fn bytes_equal(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * c as u64);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

impl<'a> Delimiters<'a> {
    #[inline]
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        let mut d = Self {
            bytes,
            base: 0,
            mask: 0,
        };
        d.mask = d.word_mask();
        d
    }

    #[inline]
    fn word_mask(&self) -> u64 {
        let w = match self.bytes.get(self.base..self.base + 8) {
            Some(chunk) => u64::from_le_bytes(chunk.try_into().unwrap_or_default()),
            None => {
                // The tail, padded with zero bytes (not delimiters).
                let mut word = [0u8; 8];
                let tail = self.bytes.get(self.base..).unwrap_or_default();
                word[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(word)
            }
        };
        // `,` (0x2C) and `-` (0x2D) differ only in the lowest bit: one compare finds both.
        bytes_equal(w, b';') | bytes_equal(w | ONES, b'-') | bytes_equal(w, b'=')
    }
}

impl Iterator for Delimiters<'_> {
    type Item = (usize, u8);

    #[inline]
    fn next(&mut self) -> Option<(usize, u8)> {
        while self.mask == 0 {
            self.base += 8;
            if self.base >= self.bytes.len() {
                return None;
            }
            self.mask = self.word_mask();
        }
        let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some((at, self.bytes[at]))
    }
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
            let got: Vec<_> = Delimiters::new(&text[..n]).collect();
            let want: Vec<_> = expected.iter().copied().filter(|(i, _)| *i < n).collect();
            assert_eq!(got, want, "prefix of {n} bytes");
        }
    }

    #[test]
    fn high_bytes_are_not_delimiters() {
        let text = "温度=1;\u{ff}\u{2d}".as_bytes();
        let got: Vec<_> = Delimiters::new(text).map(|(_, b)| b).collect();
        assert_eq!(got, b"=;-");
        assert_eq!(
            bytes_equal(u64::from_le_bytes(*b"\xbb\xac;\x3b\x00\xff-="), b';'),
            0x0000_0000_8080_0000
        );
    }
}

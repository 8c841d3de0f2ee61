//! HJ 212-2017 framing: `##` + 4-digit length + data segment + 4 hex CRC + CR LF (hj212.md §2),
//! the standard's CRC16 (§3), and the encoder the simulator publishes with.
//!
//! Framing is checked before anything is parsed, in an order that names the real fault: a
//! length field that is off makes the segment end somewhere other than `&&` or leaves bytes
//! after the CRC, so it is reported as [`RejectReason::BadLength`] rather than as a CRC or
//! syntax error.

use super::{RejectReason, Rejected};
use crate::model::DataFlag;
use crate::time::{civil_from_days, Millis, HOUR};
use std::fmt::Write;

/// Beijing time (UTC+8), the zone of every HJ 212 time field.
pub(super) const BEIJING: Millis = 8 * HOUR;

/// After `reg = (reg >> 8) ^ byte` the register is below 256, so the eight shift steps that
/// follow depend on one byte only: tabulate them.
const CRC_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut reg = i as u16;
        let mut k = 0;
        while k < 8 {
            let lsb = reg & 1;
            reg >>= 1;
            if lsb != 0 {
                reg ^= 0xA001;
            }
            k += 1;
        }
        t[i] = reg;
        i += 1;
    }
    t
};

/// Only the high byte `h` of the register reaches the next step, so between bytes the state
/// is one byte: `h' = A(h ^ b)` with `A(x) = CRC_TABLE[x] >> 8`. `A` is linear over GF(2),
/// so eight steps unroll to `A⁸(h ^ b₁) ^ A⁷(b₂) ^ … ^ A¹(b₈)`, and `POW[j - 1]` tabulates
/// `Aʲ`. `A⁸` is the identity (checked below, at compile time), so a byte's contribution
/// depends only on its position mod 8: every 8-byte block can be XORed into one word first,
/// and that word goes through the tables once.
const POW: [[u8; 256]; 8] = {
    let mut p = [[0u8; 256]; 8];
    let mut x = 0;
    while x < 256 {
        p[0][x] = (CRC_TABLE[x] >> 8) as u8;
        x += 1;
    }
    let mut j = 1;
    while j < 8 {
        let mut x = 0;
        while x < 256 {
            p[j][x] = p[0][p[j - 1][x] as usize];
            x += 1;
        }
        j += 1;
    }
    let mut x = 0;
    while x < 256 {
        assert!(p[7][x] as usize == x, "A^8 is the identity");
        x += 1;
    }
    p
};

/// CRC16 of an HJ 212 data segment (Appendix A of the standard; hj212.md §3): register 0xFFFF,
/// per byte `reg = (reg >> 8) ^ byte` then eight reflected shifts with 0xA001. Not CRC-16/MODBUS.
pub fn hj212_crc(data: &[u8]) -> u16 {
    crc_and_ascii(data).0
}

/// The CRC, and whether every byte is ASCII (the OR of the words the CRC folds anyway), which
/// spares the parser a separate UTF-8 pass over the segment.
fn crc_and_ascii(data: &[u8]) -> (u16, bool) {
    let Some((&last, body)) = data.split_last() else {
        return (0xFFFF, true);
    };
    let mut blocks = body.chunks_exact(8);
    let (folded, any) = (&mut blocks).fold((0u64, 0u64), |(x, o), b| {
        let w = u64::from_le_bytes(b.try_into().unwrap_or_default());
        (x ^ w, o | w)
    });
    let f = folded.to_le_bytes().map(usize::from);
    let mut h: u8 = 0xFF
        ^ f[0] as u8
        ^ POW[6][f[1]]
        ^ POW[5][f[2]]
        ^ POW[4][f[3]]
        ^ POW[3][f[4]]
        ^ POW[2][f[5]]
        ^ POW[1][f[6]]
        ^ POW[0][f[7]];
    let mut high = (any & 0x8080_8080_8080_8080) != 0 || last >= 0x80;
    for &b in blocks.remainder() {
        h = POW[0][(h ^ b) as usize];
        high |= b >= 0x80;
    }
    (CRC_TABLE[(h ^ last) as usize], !high)
}

/// A checked frame.
pub(super) struct Frame<'a> {
    /// The data segment, from `QN=` (or whatever comes first) to the final `&&`.
    pub segment: &'a [u8],
    /// Every byte of the segment is ASCII (so it is UTF-8 without another check).
    pub ascii: bool,
    /// What follows the frame.
    pub rest: &'a [u8],
}

/// Finds the next frame in `buf` (skipping bytes before `##`) and checks its framing and CRC.
/// Returns the data segment and what follows the frame; `None` when no `##` is left.
pub(super) fn next_frame(buf: &[u8]) -> Option<Result<Frame<'_>, Rejected>> {
    // Prefer a `##` followed by the 4 length digits, so a stray `#` before the header is skipped.
    let header = |w: &[u8]| w.starts_with(b"##") && w[2..].iter().all(u8::is_ascii_digit);
    let start = buf
        .windows(6)
        .position(header)
        .or_else(|| buf.windows(2).position(|w| w == b"##"))?;
    Some(check_frame(&buf[start + 2..]))
}

fn check_frame(after: &[u8]) -> Result<Frame<'_>, Rejected> {
    let bad_length = |detail: String| Rejected::new(RejectReason::BadLength, detail);
    let field = after
        .get(..4)
        .filter(|f| f.iter().all(u8::is_ascii_digit))
        .ok_or_else(|| {
            bad_length(format!(
                "length field `{}` is not 4 digits",
                String::from_utf8_lossy(&after[..after.len().min(4)])
            ))
        })?;
    let len = field
        .iter()
        .fold(0usize, |n, d| n * 10 + (d - b'0') as usize);
    let body = &after[4..];
    let mismatch = || {
        let actual = guess_segment_len(body).map_or(String::new(), |n| {
            format!(", but the data segment is {n} bytes")
        });
        bad_length(format!("length field says {len}{actual}"))
    };
    if body.len() < len + 4 {
        return Err(mismatch());
    }
    let (segment, crc_field, tail) = (&body[..len], &body[len..len + 4], &body[len + 4..]);
    let rest_at = tail
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(tail.len());
    let rest = &tail[rest_at..];
    if !segment.ends_with(b"&&") || !(rest.is_empty() || rest.starts_with(b"##")) {
        return Err(mismatch());
    }
    let sent = parse_hex4(crc_field).ok_or_else(|| {
        Rejected::new(
            RejectReason::Malformed,
            format!(
                "CRC field `{}` is not 4 hex digits",
                String::from_utf8_lossy(crc_field)
            ),
        )
    })?;
    let (computed, ascii) = crc_and_ascii(segment);
    if sent != computed {
        return Err(Rejected::new(
            RejectReason::BadCrc,
            format!(
                "CRC field {} but the data segment's CRC is {computed:04X}",
                String::from_utf8_lossy(crc_field)
            ),
        ));
    }
    Ok(Frame {
        segment,
        ascii,
        rest,
    })
}

/// The CRC field: hex digits of either case, read as `u16::from_str_radix(_, 16)` reads them
/// (which also takes a leading `+`).
fn parse_hex4(field: &[u8]) -> Option<u16> {
    let digits = field.strip_prefix(b"+").unwrap_or(field);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u16, |n, &c| {
        let d = (c as char).to_digit(16)?;
        Some(n << 4 | d as u16)
    })
}

/// Where the data segment really ends, for the error message: the first `&&` that is followed
/// by 4 hex digits and then the end, whitespace or the next frame.
fn guess_segment_len(body: &[u8]) -> Option<usize> {
    (0..body.len().saturating_sub(5)).find_map(|i| {
        let end = i + 2;
        let ok = &body[i..end] == b"&&"
            && body[end..end + 4].iter().all(u8::is_ascii_hexdigit)
            && body
                .get(end + 4)
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b'#');
        ok.then_some(end)
    })
}

/// Builds a complete HJ 212-2017 frame (with CR LF) for station `mn`: `ST=21` (surface water),
/// `Flag=4` (2017, no reply wanted), `PW=123456`. `cn` `2011` writes `-Rtd` values, any other
/// (2051, 2061, 2031) `-Avg`. Times are UTC and written in Beijing time; `qn_time_utc` becomes
/// the request id `QN`. Each item is (factor code, value, flag); a non-finite value is written
/// empty, as stations do for a missing value. `mn`, `cn` and codes must not contain `;`, `,`,
/// `=` or `&`, and the data segment must stay under 10 000 bytes (about 400 items) — a longer
/// one cannot be framed and is rejected by the decoder as a bad length.
pub fn encode_hj212_frame(
    mn: &str,
    cn: &str,
    data_time_utc: Millis,
    items: &[(&str, f64, DataFlag)],
    qn_time_utc: Millis,
) -> String {
    let field = if cn == "2011" { "Rtd" } else { "Avg" };
    let mut seg = String::with_capacity(96 + items.len() * 40);
    seg.push_str("QN=");
    push_beijing(&mut seg, qn_time_utc, true);
    let _ = write!(
        seg,
        ";ST=21;CN={cn};PW=123456;MN={mn};Flag=4;CP=&&DataTime="
    );
    push_beijing(&mut seg, data_time_utc, false);
    for (code, value, flag) in items {
        let _ = write!(seg, ";{code}-{field}=");
        if value.is_finite() {
            let _ = write!(seg, "{value}");
        }
        let _ = write!(seg, ",{code}-Flag={}", flag.letter());
    }
    seg.push_str("&&");
    format!(
        "##{:04}{seg}{:04X}\r\n",
        seg.len(),
        hj212_crc(seg.as_bytes())
    )
}

/// `YYYYMMDDhhmmss` (plus `zzz` milliseconds) in Beijing time.
fn push_beijing(out: &mut String, utc: Millis, with_ms: bool) {
    let t = utc.saturating_add(BEIJING);
    let secs = t.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if with_ms {
        let _ = write!(out, "{:03}", t.rem_euclid(1000));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_values() {
        assert_eq!(hj212_crc(b""), 0xFFFF);
        assert_eq!(hj212_crc(b"A"), 0x7080);
        assert_eq!(hj212_crc(b"123456789"), 0x2F80);
    }

    #[test]
    fn table_matches_the_bitwise_algorithm() {
        fn bitwise(data: &[u8]) -> u16 {
            let mut reg: u16 = 0xFFFF;
            for &b in data {
                reg = (reg >> 8) ^ b as u16;
                for _ in 0..8 {
                    let lsb = reg & 1;
                    reg >>= 1;
                    if lsb != 0 {
                        reg ^= 0xA001;
                    }
                }
            }
            reg
        }
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for n in (0..40).chain([255, 511, 512]) {
            assert_eq!(hj212_crc(&data[..n]), bitwise(&data[..n]), "{n}");
        }
    }

    #[test]
    fn beijing_stamps() {
        let mut s = String::new();
        push_beijing(&mut s, 1_721_003_400_123, true);
        assert_eq!(s, "20240715083000123");
        s.clear();
        push_beijing(&mut s, 1_721_058_000_000, false); // 2024-07-15T15:40:00Z
        assert_eq!(s, "20240715234000");
    }

    #[test]
    fn crc_field_reads_as_from_str_radix() {
        for field in [
            "2340", "0b40", "4c80", "FFFF", "+3A0", "+FFF", "23G0", "-123", " 123", "++12", "+",
            "", "12", "0x12", "１２",
        ] {
            assert_eq!(
                parse_hex4(field.as_bytes()),
                u16::from_str_radix(field, 16).ok(),
                "{field:?}"
            );
        }
    }

    #[test]
    fn ascii_flag_sees_every_byte() {
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..text.len() {
            assert!(crc_and_ascii(&text[..n]).1, "{n}");
            for at in 0..n {
                let mut t = text[..n].to_vec();
                t[at] = 0xE4;
                assert_eq!(crc_and_ascii(&t), (hj212_crc(&t), false), "{at} of {n}");
            }
        }
    }

    #[test]
    fn length_guess_finds_the_real_end() {
        assert_eq!(guess_segment_len(b"CP=&&a=1&&ABCD\r\n"), Some(10));
        assert_eq!(guess_segment_len(b"CP=&&&&A9C1"), Some(7));
        assert_eq!(guess_segment_len(b"CP=&&a=1&&AB"), None);
    }
}

//! Decoding never panics and never lets an impossible reading through, whatever the bytes:
//! arbitrary input, and valid messages of every format with random edits (for HJ 212 also with
//! the length and CRC repaired, so edits reach the field parser instead of stopping at the CRC).

use super::hj212::tests::{A, B, C, D};
use super::senml::tests::{EXAMPLE_A, EXAMPLE_B};
use super::tests::{ctx_at, network};
use super::{decode, hj212_crc, Format};
use crate::time::MIN_PLAUSIBLE;
use proptest::prelude::*;
use proptest::sample::Index;

const RECEIVED: &str = "2024-07-15T18:05:00Z";
const JSON: &str = r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7.8,"do":8.1,"cond":412,"nh3n":0.42,"temp":23.4},"flags":{"do":"C"}}"#;
const JSON_ONE: &str = r#"{"parameter":"nh3n","time":1721003400000,"value":0.42,"flag":"N"}"#;
const TOPICS: [Option<&str>; 4] = [
    None,
    Some("riverwatch/readings/DL03"),
    Some("riverwatch/senml/DL01"),
    Some("riverwatch/hj212/DLHSIM000000000000000001"),
];

/// Decodes with every format, topic and station policy; checks what comes out.
fn check(payload: &[u8]) {
    let st = network();
    let mut ctx = ctx_at(&st, RECEIVED);
    for accept in [false, true] {
        ctx.accept_unknown_stations = accept;
        for topic in TOPICS {
            for format in [Format::Auto, Format::Json, Format::Senml, Format::Hj212] {
                match decode(payload, topic, format, &ctx) {
                    Ok(d) => {
                        assert!(!d.readings.is_empty());
                        for r in &d.readings {
                            assert!(r.value.is_finite(), "{r:?}");
                            assert!(
                                r.time >= MIN_PLAUSIBLE
                                    && r.time <= ctx.received + ctx.max_future_skew,
                                "{r:?}"
                            );
                            assert!(
                                !r.station.as_str().is_empty() && !r.parameter.as_str().is_empty(),
                                "{r:?}"
                            );
                        }
                    }
                    Err(e) => assert!(!e.detail.is_empty(), "{e:?}"),
                }
            }
        }
    }
}

/// Applies (position, byte, operation) edits: overwrite, insert or delete one byte.
fn mutate(mut b: Vec<u8>, edits: &[(Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, op) in edits {
        match op {
            0 if !b.is_empty() => {
                let i = at.index(b.len());
                b[i] = *byte;
            }
            1 => {
                let i = at.index(b.len() + 1);
                b.insert(i, *byte);
            }
            _ if !b.is_empty() => {
                let i = at.index(b.len());
                b.remove(i);
            }
            _ => {}
        }
    }
    b
}

fn edits() -> impl Strategy<Value = Vec<(Index, u8, u8)>> {
    let byte = prop_oneof![
        any::<u8>(),
        proptest::sample::select(b";,=&#-.0123456789eNCT\"{}[]:".to_vec())
    ];
    proptest::collection::vec((any::<Index>(), byte, 0u8..3), 1..10)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_text_from_the_formats_alphabet(s in "[##0-9A-Za-z;,=&\\-\\.\\[\\]{}\":_ \r\n]{0,200}") {
        check(s.as_bytes());
    }

    #[test]
    fn edited_messages(which in 0usize..8, edits in edits()) {
        let sample = [A, B, C, D, JSON, JSON_ONE, EXAMPLE_A, EXAMPLE_B][which];
        check(&mutate(sample.as_bytes().to_vec(), &edits));
    }

    #[test]
    fn edited_hj212_segments_with_repaired_crc(which in 0usize..4, edits in edits()) {
        let frame = [A, B, C, D][which];
        let seg = mutate(frame.as_bytes()[6..frame.len() - 6].to_vec(), &edits);
        let mut payload = format!("##{:04}", seg.len()).into_bytes();
        payload.extend_from_slice(&seg);
        payload.extend_from_slice(format!("{:04X}\r\n", hj212_crc(&seg)).as_bytes());
        check(&payload);
    }
}

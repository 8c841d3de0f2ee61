//! The factors of one HJ 212 frame while its CP is parsed: each factor's items (value, flag)
//! may come in any order and far apart, so they are gathered by code before any reading is
//! made. The first [`INLINE`] factors live on the caller's stack (a frame usually has five to
//! twelve) and the rest on the heap, so a typical frame allocates nothing here. The list is
//! filled in place through `&mut` and never moved: moving a 1.3 KB stack list out of the
//! parser once cost more than the allocation it saved.

use super::CodeKey;
use crate::time::Millis;

/// How many factors fit on the stack.
const INLINE: usize = 8;

/// One factor's fields, borrowed from the frame.
pub(super) struct Factor<'a> {
    pub code: &'a [u8],
    pub key: CodeKey,
    pub value: Option<&'a [u8]>,
    pub flag: Option<&'a [u8]>,
    /// The `DataTime` before the factor's first item.
    pub time: Option<Millis>,
}

/// The factors in order of first appearance.
pub(super) struct Factors<'a> {
    /// `head[..len.min(INLINE)]` are all `Some`; `None` is one word to write, a factor ten.
    head: [Option<Factor<'a>>; INLINE],
    tail: Vec<Factor<'a>>,
    len: usize,
}

impl<'a> Factors<'a> {
    pub(super) fn new() -> Self {
        Self {
            head: [const { None }; INLINE],
            tail: Vec::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Factor<'a>> {
        self.head.iter().flatten().chain(&self.tail)
    }

    /// The factor with the code of `code` (whose key is `key`), added with `time` when new.
    /// The latest factors are tried first: a factor's items are usually adjacent.
    pub(super) fn entry(
        &mut self,
        code: &'a [u8],
        key: CodeKey,
        time: Option<Millis>,
    ) -> &mut Factor<'a> {
        let same = |f: &Factor| match key {
            CodeKey::Short(..) => f.key == key,
            CodeKey::Long => f.code.eq_ignore_ascii_case(code),
        };
        let new = || Factor {
            code,
            key,
            value: None,
            flag: None,
            time,
        };
        if let Some(i) = self.tail.iter().rposition(same) {
            return &mut self.tail[i];
        }
        let inline = self.len.min(INLINE);
        let found = self.head[..inline]
            .iter()
            .rposition(|f| f.as_ref().is_some_and(same));
        let slot = match found {
            Some(i) => i,
            None if inline < INLINE => {
                self.len += 1;
                inline
            }
            None => {
                self.len += 1;
                self.tail.push(new());
                let last = self.tail.len() - 1;
                return &mut self.tail[last];
            }
        };
        self.head[slot].get_or_insert_with(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_appearance_order_past_the_stack() {
        let codes: Vec<String> = (0..3 * INLINE).map(|i| format!("c{i}")).collect();
        let mut list = Factors::new();
        // Every code twice, the second time in reverse, each item tagging value or flag.
        for (i, c) in codes.iter().enumerate() {
            let f = list.entry(c.as_bytes(), CodeKey::of(c.as_bytes()), Some(i as Millis));
            f.value = Some(c.as_bytes());
        }
        for c in codes.iter().rev() {
            let f = list.entry(c.as_bytes(), CodeKey::of(c.as_bytes()), None);
            f.flag = Some(b"N");
        }
        assert_eq!(list.len(), codes.len());
        let got: Vec<_> = list
            .iter()
            .map(|f| (f.code, f.value, f.flag, f.time))
            .collect();
        let want: Vec<_> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = c.as_bytes();
                (c, Some(c), Some(&b"N"[..]), Some(i as Millis))
            })
            .collect();
        assert_eq!(got, want);
        assert!(Factors::new().is_empty());
    }
}

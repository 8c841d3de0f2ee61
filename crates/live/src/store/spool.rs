//! [`Spool`]: the local disk queue that holds readings while the store is unreachable, so an
//! MQTT message can be acknowledged during an outage without losing it (DESIGN.md, "Nothing is
//! lost").
//!
//! Layout: a directory of segment files (`<id>.seg`, ids increasing) and a `head` file naming
//! the first undrained record (segment id, byte offset). Each append is one record —
//! `len: u32 LE | crc32(payload): u32 LE | payload` — written at the end of the last segment and
//! fsynced before `append` returns. Drained segments are deleted whole, so the spool never copies
//! data to reclaim space, and a crash can only ever tear the record being appended: on open, the
//! first record whose header, length or CRC does not check out is cut off with everything after
//! it in that segment. The head is advanced by writing a new `head` file and renaming it over the
//! old one; a crash just before that replays one record, which the stores absorb (idempotent
//! point identity).
//!
//! The payload is a compact binary encoding of the batch (exact f64 bits, so NaN and -0.0 come
//! back as they went in). Synchronous on purpose: file I/O blocks, so the async wrapper
//! ([`super::SpooledStore`]) calls it from `spawn_blocking`.

use super::error::SpoolError;
use riverwatch_engine::{DataFlag, Reading};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use tracing::warn;

const HEADER: u64 = 8;
/// A length field above this is taken for garbage, not a record.
const MAX_RECORD: u64 = 256 << 20;

#[derive(Debug, Clone, Copy)]
struct Segment {
    id: u64,
    len: u64,
}

/// An append-only, fsynced, bounded queue of reading batches on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    head: u64,
    records: u64,
    writer: Option<File>,
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, holding at most `max_bytes` of undrained records.
    /// A torn record at the end of a segment is detected and cut off.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        fs::create_dir_all(dir).map_err(SpoolError::io(dir))?;
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir).map_err(SpoolError::io(dir))? {
            let name = entry.map_err(SpoolError::io(dir))?.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let (head_id, mut head) = read_head(&dir.join("head"));
        let mut spool = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 << 10, 64 << 20),
            segments: VecDeque::new(),
            head: 0,
            records: 0,
            writer: None,
        };
        for id in ids {
            if id < head_id {
                // Drained before a crash that came between writing `head` and deleting it.
                let p = spool.seg_path(id);
                fs::remove_file(&p).map_err(SpoolError::io(&p))?;
                continue;
            }
            let start = if id == head_id { head } else { 0 };
            let (start, len, records) = spool.recover_segment(id, start)?;
            if id == head_id {
                head = start;
            }
            spool.records += records;
            spool.segments.push_back(Segment { id, len });
        }
        spool.head = if spool.segments.front().is_some_and(|s| s.id == head_id) {
            head
        } else {
            0
        };
        Ok(spool)
    }

    /// Appends one batch as one record and fsyncs it. Fails with [`SpoolError::Full`] when the
    /// undrained records would pass `max_bytes`.
    pub fn append(&mut self, batch: &[Reading]) -> Result<(), SpoolError> {
        let payload = encode(batch);
        let record = HEADER + payload.len() as u64;
        if payload.len() as u64 > MAX_RECORD {
            return Err(SpoolError::TooLarge {
                path: self.dir.clone(),
                record,
            });
        }
        let used = self.bytes();
        if used + record > self.max_bytes {
            return Err(SpoolError::Full {
                path: self.dir.clone(),
                used,
                max: self.max_bytes,
                record,
            });
        }
        let seg = match self.segments.back().copied() {
            Some(s) if s.len == 0 || s.len + record <= self.segment_bytes => s,
            last => {
                let seg = Segment {
                    id: last.map_or(1, |s| s.id + 1),
                    len: 0,
                };
                let p = self.seg_path(seg.id);
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                    .map_err(SpoolError::io(&p))?;
                sync_dir(&self.dir)?;
                self.segments.push_back(seg);
                self.writer = Some(f);
                seg
            }
        };
        let p = self.seg_path(seg.id);
        let w = match self.writer.take() {
            Some(w) => self.writer.insert(w),
            None => self.writer.insert(
                OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .map_err(SpoolError::io(&p))?,
            ),
        };
        let mut buf = Vec::with_capacity(record as usize);
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        buf.extend_from_slice(&payload);
        if let Err(e) = w.write_all(&buf).and_then(|_| w.sync_data()) {
            // Cut a half-written record now rather than at the next open.
            self.writer = None;
            let _ = OpenOptions::new()
                .write(true)
                .open(&p)
                .and_then(|f| f.set_len(seg.len));
            return Err(SpoolError::Io { path: p, source: e });
        }
        if let Some(last) = self.segments.back_mut() {
            last.len += record;
        }
        self.records += 1;
        Ok(())
    }

    /// The oldest undrained batch, without removing it.
    pub fn peek(&mut self) -> Result<Option<Vec<Reading>>, SpoolError> {
        loop {
            let Some(seg) = self.segments.front().copied() else {
                return Ok(None);
            };
            if self.head >= seg.len {
                if self.segments.len() == 1 {
                    return Ok(None);
                }
                self.advance_segment()?;
                continue;
            }
            let p = self.seg_path(seg.id);
            let mut f = File::open(&p).map_err(SpoolError::io(&p))?;
            f.seek(SeekFrom::Start(self.head))
                .map_err(SpoolError::io(&p))?;
            match read_record(&mut f, seg.len - self.head) {
                Some(payload) => match decode(&payload) {
                    Some(batch) => return Ok(Some(batch)),
                    None => {
                        warn!(path = %p.display(), offset = self.head, "spool record undecodable, skipped");
                        self.pop()?;
                    }
                },
                None => {
                    warn!(path = %p.display(), offset = self.head, "spool record corrupt, rest of segment dropped");
                    self.segments[0].len = self.head;
                    if self.segments.len() == 1 {
                        self.writer = None;
                        OpenOptions::new()
                            .write(true)
                            .open(&p)
                            .and_then(|f| f.set_len(self.head))
                            .map_err(SpoolError::io(&p))?;
                    }
                }
            }
        }
    }

    /// Removes the oldest batch (after the store took it) and persists the new head.
    pub fn pop(&mut self) -> Result<(), SpoolError> {
        let Some(seg) = self.segments.front().copied() else {
            return Ok(());
        };
        let p = self.seg_path(seg.id);
        let mut f = File::open(&p).map_err(SpoolError::io(&p))?;
        f.seek(SeekFrom::Start(self.head))
            .map_err(SpoolError::io(&p))?;
        let mut h = [0u8; 4];
        f.read_exact(&mut h).map_err(SpoolError::io(&p))?;
        self.head = (self.head + HEADER + u32::from_le_bytes(h) as u64).min(seg.len);
        self.records = self.records.saturating_sub(1);
        if self.head >= seg.len && self.segments.len() == 1 {
            self.records = 0; // exact again even after a corrupt record was cut in `peek`
        }
        if self.head >= seg.len && self.segments.len() > 1 {
            self.advance_segment()
        } else if self.head >= seg.len {
            // Drained completely: start the segment over instead of keeping dead bytes.
            write_head(&self.dir, seg.id, 0)?;
            self.writer = None;
            OpenOptions::new()
                .write(true)
                .open(&p)
                .and_then(|f| f.set_len(0))
                .map_err(SpoolError::io(&p))?;
            self.segments[0].len = 0;
            self.head = 0;
            Ok(())
        } else {
            write_head(&self.dir, seg.id, self.head)
        }
    }

    /// Every undrained batch, oldest first, read from disk without removing or changing
    /// anything (the start-up replay reads what a previous process spooled). A record that
    /// fails its checks is skipped as the drain would skip it: an undecodable one alone, a
    /// corrupt one (bad header, length or CRC: the file changed since [`Spool::open`] checked
    /// it) with the rest of its segment; both with a warning. An I/O error ends the iteration.
    pub fn batches(&self) -> Batches<'_> {
        Batches {
            spool: self,
            seg: 0,
            pos: self.head,
            file: None,
        }
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.bytes() == 0
    }

    /// Batches waiting (after a corrupt record was cut while draining, an over-count until the
    /// spool next runs empty; [`Spool::bytes`] is always exact).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes waiting (counted against `max_bytes`).
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum::<u64>() - self.head
    }

    fn seg_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.seg"))
    }

    /// Moves the head to the next segment, then deletes the drained one.
    fn advance_segment(&mut self) -> Result<(), SpoolError> {
        let Some(old) = self.segments.pop_front() else {
            return Ok(());
        };
        let next = self.segments.front().map_or(old.id + 1, |s| s.id);
        write_head(&self.dir, next, 0)?;
        self.head = 0;
        let p = self.seg_path(old.id);
        fs::remove_file(&p).map_err(SpoolError::io(&p))
    }

    /// Checks a segment's records from `start`; cuts it at the first bad one. Returns the
    /// start actually used (0 when `start` is past the end: the segment is replayed), the valid
    /// length and the number of records after the start.
    fn recover_segment(&self, id: u64, start: u64) -> Result<(u64, u64, u64), SpoolError> {
        let p = self.seg_path(id);
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .map_err(SpoolError::io(&p))?;
        let file_len = f.metadata().map_err(SpoolError::io(&p))?.len();
        let start = if start > file_len { 0 } else { start };
        f.seek(SeekFrom::Start(start)).map_err(SpoolError::io(&p))?;
        let mut pos = start;
        let mut records = 0;
        while pos < file_len {
            match read_record(&mut f, file_len - pos) {
                Some(payload) => {
                    pos += HEADER + payload.len() as u64;
                    records += 1;
                }
                None => break,
            }
        }
        if pos < file_len {
            warn!(path = %p.display(), valid = pos, dropped = file_len - pos, "spool torn tail cut off");
            f.set_len(pos)
                .and_then(|_| f.sync_all())
                .map_err(SpoolError::io(&p))?;
        }
        Ok((start, pos, records))
    }
}

/// The spool's batches on disk, oldest first (see [`Spool::batches`]).
pub struct Batches<'a> {
    spool: &'a Spool,
    /// Index of the segment being read in `spool.segments`.
    seg: usize,
    /// Offset of the next record in that segment.
    pos: u64,
    file: Option<BufReader<File>>,
}

impl Iterator for Batches<'_> {
    type Item = Result<Vec<Reading>, SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let seg = *self.spool.segments.get(self.seg)?;
            if self.pos >= seg.len {
                (self.seg, self.pos, self.file) = (self.seg + 1, 0, None);
                continue;
            }
            let p = self.spool.seg_path(seg.id);
            let f = match self.file.take() {
                Some(f) => self.file.insert(f),
                None => match open_at(&p, self.pos) {
                    Ok(f) => self.file.insert(f),
                    Err(e) => {
                        self.seg = usize::MAX; // fused: nothing after an unreadable segment
                        return Some(Err(e));
                    }
                },
            };
            let at = self.pos;
            match read_record(f, seg.len - at) {
                Some(payload) => {
                    self.pos += HEADER + payload.len() as u64;
                    match decode(&payload) {
                        Some(batch) => return Some(Ok(batch)),
                        None => {
                            warn!(path = %p.display(), offset = at, "spool record undecodable, skipped")
                        }
                    }
                }
                None => {
                    warn!(path = %p.display(), offset = at, "spool record corrupt, rest of segment skipped");
                    self.pos = seg.len;
                }
            }
        }
    }
}

fn open_at(p: &Path, offset: u64) -> Result<BufReader<File>, SpoolError> {
    let mut f = File::open(p).map_err(SpoolError::io(p))?;
    f.seek(SeekFrom::Start(offset)).map_err(SpoolError::io(p))?;
    Ok(BufReader::new(f))
}

/// Reads one record's payload if it is complete and its CRC matches.
fn read_record(f: &mut impl Read, available: u64) -> Option<Vec<u8>> {
    let mut h = [0u8; HEADER as usize];
    if available < HEADER || f.read_exact(&mut h).is_err() {
        return None;
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as u64;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_RECORD || HEADER + len > available {
        return None;
    }
    let mut payload = vec![0u8; len as usize];
    f.read_exact(&mut payload).ok()?;
    (crc32fast::hash(&payload) == crc).then_some(payload)
}

fn read_head(path: &Path) -> (u64, u64) {
    match fs::read(path) {
        Ok(b) if b.len() == 16 => {
            let id = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            let off = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
            (id, off)
        }
        _ => (0, 0),
    }
}

fn write_head(dir: &Path, id: u64, offset: u64) -> Result<(), SpoolError> {
    let tmp = dir.join("head.tmp");
    let mut b = id.to_le_bytes().to_vec();
    b.extend_from_slice(&offset.to_le_bytes());
    let mut f = File::create(&tmp).map_err(SpoolError::io(&tmp))?;
    f.write_all(&b)
        .and_then(|_| f.sync_data())
        .map_err(SpoolError::io(&tmp))?;
    let head = dir.join("head");
    fs::rename(&tmp, &head).map_err(SpoolError::io(&head))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SpoolError::io(dir))
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `count: u32`, then per reading: station, parameter (u32 length + UTF-8), time i64,
/// value f64 bits, flag as a u32 char; all little-endian.
fn encode(batch: &[Reading]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + batch.len() * 40);
    out.extend_from_slice(&(batch.len() as u32).to_le_bytes());
    for r in batch {
        put_str(&mut out, r.station.as_str());
        put_str(&mut out, r.parameter.as_str());
        out.extend_from_slice(&r.time.to_le_bytes());
        out.extend_from_slice(&r.value.to_bits().to_le_bytes());
        out.extend_from_slice(&(r.flag.letter() as u32).to_le_bytes());
    }
    out
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

fn decode(payload: &[u8]) -> Option<Vec<Reading>> {
    let mut c = Cursor(payload);
    let n = c.u32()? as usize;
    let mut batch = Vec::with_capacity(n.min(payload.len() / 28));
    for _ in 0..n {
        let station = c.str()?.into();
        let parameter = c.str()?.into();
        let time = c.u64()? as i64;
        let value = f64::from_bits(c.u64()?);
        let flag = DataFlag::from_letter(char::from_u32(c.u32()?)?);
        batch.push(Reading {
            station,
            parameter,
            time,
            value,
            flag,
        });
    }
    c.0.is_empty().then_some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, t0: i64) -> Vec<Reading> {
        (0..n)
            .map(|i| Reading {
                station: format!("S{}", i % 3).as_str().into(),
                parameter: "nh3n".into(),
                time: t0 + i as i64,
                value: i as f64 * 0.1,
                flag: DataFlag::Other('x'),
            })
            .collect()
    }

    #[test]
    fn payload_round_trips_exact_bits() {
        let mut b = batch(3, 1_764_460_800_000);
        b[0].value = f64::NAN;
        b[1].value = -0.0;
        let back = decode(&encode(&b)).unwrap();
        assert_eq!(back[0].value.to_bits(), f64::NAN.to_bits());
        assert_eq!(back[1].value.to_bits(), (-0.0f64).to_bits());
        assert_eq!(back[2], b[2]);
        assert!(decode(&encode(&b)[..20]).is_none());
    }

    #[test]
    fn drains_in_order_across_segments_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap(); // 128 KiB segments
        for i in 0..200 {
            s.append(&batch(20, i * 100)).unwrap();
        }
        assert_eq!(s.records(), 200);
        let segs = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some())
            .count();
        assert!(segs > 1, "expected several segments, got {segs}");
        for i in 0..120 {
            assert_eq!(s.peek().unwrap().unwrap()[0].time, i * 100);
            s.pop().unwrap();
        }
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 80);
        for i in 120..200 {
            assert_eq!(s.peek().unwrap().unwrap()[0].time, i * 100);
            s.pop().unwrap();
        }
        assert!(s.peek().unwrap().is_none());
        assert!(s.is_empty());
        assert_eq!(s.bytes(), 0);
    }

    /// The first reading time of each batch the iterator gives.
    fn firsts(s: &Spool) -> Vec<i64> {
        s.batches().map(|b| b.unwrap()[0].time).collect()
    }

    #[test]
    fn batches_are_read_oldest_first_without_draining() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap(); // 128 KiB segments
        for i in 0..300 {
            s.append(&batch(20, i * 100)).unwrap();
        }
        for _ in 0..50 {
            s.pop().unwrap();
        }
        let want: Vec<i64> = (50..300).map(|i| i * 100).collect();
        assert_eq!(firsts(&s), want);
        assert_eq!(firsts(&s), want, "nothing was removed");
        assert_eq!(
            (s.records(), s.peek().unwrap().unwrap()[0].time),
            (250, 5_000)
        );
        assert_eq!(s.batches().nth(3).unwrap().unwrap(), batch(20, 5_300));
        // A segment gone from under the spool: an error, and the iteration ends there.
        fs::remove_file(s.seg_path(s.segments.back().unwrap().id)).unwrap();
        let read: Vec<_> = s.batches().collect();
        assert!(read.len() < 250 && read[..read.len() - 1].iter().all(Result::is_ok));
        let err = read.last().unwrap().as_ref().unwrap_err();
        assert!(err.to_string().contains(".seg"), "{err}");
    }

    #[test]
    fn batches_skip_bad_records_as_the_drain_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.append(&batch(20, 0)).unwrap();
        drop(s);
        // A record whose checks pass but whose payload is no batch (another version wrote it).
        let first = dir.path().join(format!("{:020}.seg", 1));
        let garbage = b"not a batch".to_vec();
        let mut raw = (garbage.len() as u32).to_le_bytes().to_vec();
        raw.extend_from_slice(&crc32fast::hash(&garbage).to_le_bytes());
        raw.extend_from_slice(&garbage);
        OpenOptions::new()
            .append(true)
            .open(&first)
            .unwrap()
            .write_all(&raw)
            .unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 2, "its CRC holds: kept at open");
        for i in 1..300 {
            s.append(&batch(20, i * 100)).unwrap();
        }
        // After the open checked them: a byte flipped in batch 10 of the first segment, and
        // the last segment torn in its last record.
        let record = HEADER + encode(&batch(20, 0)).len() as u64;
        let at = record + raw.len() as u64 + 9 * record + HEADER + 5;
        let mut bytes = fs::read(&first).unwrap();
        bytes[at as usize] ^= 0x10;
        fs::write(&first, bytes).unwrap();
        let last = s.seg_path(s.segments.back().unwrap().id);
        let len = fs::metadata(&last).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(len - 5)
            .unwrap();

        let read = firsts(&s);
        assert_eq!(read[..10], (0..10).map(|i| i * 100).collect::<Vec<_>>());
        assert!(read[10] > 1_000 && read.len() < 290, "{read:?}");
        assert_eq!(read.last(), Some(&29_800));
        let mut drained = Vec::new();
        while let Some(b) = s.peek().unwrap() {
            drained.push(b[0].time);
            s.pop().unwrap();
        }
        assert_eq!(read, drained, "the drain skips the same records");
    }

    #[test]
    fn refuses_appends_past_the_bound_until_drained() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 4096).unwrap();
        let mut n = 0;
        while s.append(&batch(10, 0)).is_ok() {
            n += 1;
        }
        let err = s.append(&batch(10, 0)).unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(s.bytes() <= 4096);
        s.peek().unwrap();
        s.pop().unwrap();
        s.append(&batch(10, 0)).unwrap();
        assert_eq!(s.records(), n);
    }
}

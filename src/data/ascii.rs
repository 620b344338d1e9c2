//! TYPE A (ASCII) line-ending conversion for data transfers.
//!
//! RFC 959 3.1.1.1: in NVT-ASCII the end of a line is CRLF. Files are stored
//! with LF line ends, so downloads turn LF into CRLF and uploads turn CRLF
//! back into LF. Both directions stream buffer by buffer and copy whole runs
//! between line ends with `extend_from_slice`, since they run on every ASCII
//! transfer.

/// Download direction: every LF becomes CRLF, unconditionally (as vsftpd
/// does: a file that already has CRLF is sent as CR CR LF). Appends converted
/// bytes to `out`. Stateless, so buffer boundaries need no care.
pub fn lf_to_crlf(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len());
    let mut rest = input;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        let (line, tail) = rest.split_at(i);
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        rest = tail.get(1..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
}

/// Upload direction: CRLF -> LF; a lone CR not followed by LF is kept.
/// Handles a CR that is the last byte of one buffer and LF the first of the next.
#[derive(Debug, Clone)]
pub struct CrlfToLf {
    /// The previous buffer ended in CR; whether it is dropped depends on the
    /// first byte of the next buffer.
    pending_cr: bool,
}

impl CrlfToLf {
    pub fn new() -> Self {
        CrlfToLf { pending_cr: false }
    }

    /// Converts `input`, appending to `out`. A trailing CR is held back until the next call or finish().
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        let mut rest = input;
        if self.pending_cr {
            match rest.first() {
                // Nothing new to decide with: keep holding the CR.
                None => return,
                Some(b'\n') => {
                    out.push(b'\n');
                    rest = rest.get(1..).unwrap_or_default();
                }
                // Lone CR (another CR is handled by the loop below).
                Some(_) => out.push(b'\r'),
            }
            self.pending_cr = false;
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\r') {
            let (run, tail) = rest.split_at(i);
            out.extend_from_slice(run);
            match tail.get(1) {
                Some(b'\n') => {
                    out.push(b'\n');
                    rest = tail.get(2..).unwrap_or_default();
                }
                Some(_) => {
                    out.push(b'\r');
                    rest = tail.get(1..).unwrap_or_default();
                }
                None => {
                    self.pending_cr = true;
                    return;
                }
            }
        }
        out.extend_from_slice(rest);
    }

    /// End of stream: emits a held-back CR.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            out.push(b'\r');
            self.pending_cr = false;
        }
    }
}

impl Default for CrlfToLf {
    fn default() -> Self {
        Self::new()
    }
}

/// Number of bytes `data` becomes after lf_to_crlf (len + count of '\n'), for SIZE in TYPE A.
pub fn crlf_len(data: &[u8]) -> u64 {
    // A plain filter/count compiles to a vectorised loop.
    let lfs = data.iter().filter(|&&b| b == b'\n').count();
    (data.len() as u64) + (lfs as u64)
}

/// Where byte `n` of a TYPE A download stream falls in the stored bytes `src` gives: REST
/// counts the bytes of the stream as sent (RFC 3659 5.1), so in TYPE A the converted
/// ones, each stored LF being two. Returns the stored offset and whether `n` falls
/// between the CR and the LF a stored LF becomes (the stream then goes on with that LF);
/// None if the stream is shorter than `n`. Reads `src` up to that point, before the
/// transfer starts (as HASH reads a file whole): TYPE A resumes are rare and their
/// files text.
pub fn stored_offset(mut src: impl std::io::Read, n: u64) -> std::io::Result<Option<(u64, bool)>> {
    let mut buf = vec![0u8; 64 << 10];
    let (mut stored, mut sent) = (0u64, 0u64);
    loop {
        if sent == n {
            return Ok(Some((stored, false)));
        }
        let got = match src.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in buf.get(..got).unwrap_or_default() {
            if sent == n {
                return Ok(Some((stored, false)));
            }
            if b == b'\n' {
                if sent + 1 == n {
                    return Ok(Some((stored, true)));
                }
                sent += 2;
            } else {
                sent += 1;
            }
            stored += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_offset_maps_to_where_the_rest_of_the_stream_comes_from() {
        for data in [
            &b""[..],
            b"abc",
            b"\n",
            b"a\nb\n",
            b"\n\n",
            b"a\r\nb",
            b"x\n\ny",
        ] {
            let stream = to_crlf(data);
            for n in 0..=stream.len() as u64 + 2 {
                let got = stored_offset(data, n).unwrap();
                let Some((at, mid)) = got else {
                    assert!(n > stream.len() as u64, "{data:?} {n}");
                    continue;
                };
                // What is sent from there is the stream's rest, byte for byte.
                let at = at as usize;
                let mut rest = if mid { b"\n".to_vec() } else { Vec::new() };
                lf_to_crlf(&data[at + usize::from(mid)..], &mut rest);
                assert_eq!(rest, stream[n as usize..], "{data:?} {n}");
                assert!(!mid || data[at] == b'\n', "{data:?} {n}");
            }
        }
        // Past one read's buffer.
        let big = b"line\n".repeat(30_000);
        assert_eq!(
            stored_offset(&big[..], 6 * 20_000).unwrap(),
            Some((5 * 20_000, false))
        );
        assert_eq!(stored_offset(&big[..], 6 * 30_000 + 1).unwrap(), None);
    }

    fn to_crlf(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lf_to_crlf(input, &mut out);
        out
    }

    /// Runs the upload converter over `input` split into `chunk`-sized pieces.
    fn to_lf_chunked(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut conv = CrlfToLf::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            conv.push(piece, &mut out);
        }
        conv.finish(&mut out);
        out
    }

    /// Straightforward per-byte reference for the upload direction.
    fn to_lf_reference(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            if input[i] == b'\r' && input.get(i + 1) == Some(&b'\n') {
                out.push(b'\n');
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn download_conversion() {
        assert_eq!(to_crlf(b""), b"");
        assert_eq!(to_crlf(b"abc"), b"abc");
        assert_eq!(to_crlf(b"\n"), b"\r\n");
        assert_eq!(to_crlf(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(to_crlf(b"\n\n"), b"\r\n\r\n");
        // vsftpd behaviour: existing CRLF gets another CR.
        assert_eq!(to_crlf(b"a\r\nb"), b"a\r\r\nb");
        assert_eq!(to_crlf(b"lone\rcr"), b"lone\rcr");
        let mut out = b"prefix:".to_vec();
        lf_to_crlf(b"x\n", &mut out);
        assert_eq!(out, b"prefix:x\r\n");
    }

    #[test]
    fn download_chunked_matches_whole() {
        let data = b"line one\nline two\r\n\n\nend";
        let whole = to_crlf(data);
        for chunk in 1..=data.len() {
            let mut out = Vec::new();
            for piece in data.chunks(chunk) {
                lf_to_crlf(piece, &mut out);
            }
            assert_eq!(out, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn crlf_len_matches() {
        for data in [&b""[..], b"abc", b"\n", b"a\nb\n", b"a\r\nb", b"\n\n\n"] {
            assert_eq!(crlf_len(data), to_crlf(data).len() as u64);
        }
        assert_eq!(crlf_len(b"a\nb\n"), 6);
    }

    #[test]
    fn upload_conversion() {
        assert_eq!(to_lf_chunked(b"", 4), b"");
        assert_eq!(to_lf_chunked(b"abc", 4), b"abc");
        assert_eq!(to_lf_chunked(b"a\r\nb\r\n", 64), b"a\nb\n");
        assert_eq!(to_lf_chunked(b"a\rb", 64), b"a\rb");
        assert_eq!(to_lf_chunked(b"a\r\r\nb", 64), b"a\r\nb");
        assert_eq!(to_lf_chunked(b"\r\r\r", 64), b"\r\r\r");
        assert_eq!(to_lf_chunked(b"a\nb", 64), b"a\nb");
        assert_eq!(to_lf_chunked(b"\n\r", 64), b"\n\r");
    }

    #[test]
    fn upload_cr_at_chunk_boundary() {
        let mut conv = CrlfToLf::new();
        let mut out = Vec::new();
        conv.push(b"abc\r", &mut out);
        assert_eq!(out, b"abc");
        conv.push(b"\ndef", &mut out);
        assert_eq!(out, b"abc\ndef");
        conv.finish(&mut out);
        assert_eq!(out, b"abc\ndef");

        // CR at end followed by a non-LF: the CR is kept.
        let mut conv = CrlfToLf::default();
        let mut out = Vec::new();
        conv.push(b"x\r", &mut out);
        conv.push(b"y", &mut out);
        assert_eq!(out, b"x\ry");

        // CR at end followed by another CR then LF.
        let mut conv = CrlfToLf::new();
        let mut out = Vec::new();
        conv.push(b"x\r", &mut out);
        conv.push(b"\r", &mut out);
        conv.push(b"\n", &mut out);
        assert_eq!(out, b"x\r\n");
    }

    #[test]
    fn upload_pending_cr_survives_empty_push() {
        let mut conv = CrlfToLf::new();
        let mut out = Vec::new();
        conv.push(b"a\r", &mut out);
        conv.push(b"", &mut out);
        conv.push(b"\nb", &mut out);
        conv.finish(&mut out);
        assert_eq!(out, b"a\nb");
    }

    #[test]
    fn upload_lone_cr_at_end_of_stream() {
        let mut conv = CrlfToLf::new();
        let mut out = Vec::new();
        conv.push(b"end\r", &mut out);
        assert_eq!(out, b"end");
        conv.finish(&mut out);
        assert_eq!(out, b"end\r");
        // finish is idempotent.
        conv.finish(&mut out);
        assert_eq!(out, b"end\r");
        // Empty stream.
        let mut conv = CrlfToLf::new();
        let mut out = Vec::new();
        conv.push(b"", &mut out);
        conv.finish(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn upload_every_chunk_size_matches_reference() {
        let data = b"\r\na\r\n\r\rb\rc\n\r\r\n\nd\r";
        let expected = to_lf_reference(data);
        assert_eq!(expected, b"\na\n\r\rb\rc\n\r\n\nd\r");
        for chunk in 1..=data.len() + 1 {
            assert_eq!(to_lf_chunked(data, chunk), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn round_trip_lf_text() {
        let text = b"one\ntwo\n\nthree\rstill three\n";
        let wire = to_crlf(text);
        for chunk in [1, 2, 3, 7, 1024] {
            assert_eq!(to_lf_chunked(&wire, chunk), text);
        }
    }
}

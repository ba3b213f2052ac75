//! An incremental Server-Sent Events parser (the WHATWG `text/event-stream`
//! rules this feed needs): lines end with LF, CRLF or CR; `:` starts a
//! comment; `field: value` drops one space after the colon; a blank line
//! dispatches the event if it has data. Lines are bounded, so a hostile or
//! broken stream cannot grow the buffer without limit.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `id` field of this event, if it had one.
    pub id: Option<String>,
    /// The `event` field (`message` when absent).
    pub event: String,
    /// The `data` lines, joined with `\n`.
    pub data: String,
}

/// A line longer than the parser's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event-stream line is longer than {0} bytes")]
pub struct LineTooLong(pub usize);

/// Feeds bytes in as they arrive; takes events out.
#[derive(Debug)]
pub struct SseParser {
    max_line: usize,
    line: Vec<u8>,
    /// The previous byte was a CR: a following LF belongs to it.
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// A parser refusing lines over `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        SseParser {
            max_line,
            line: Vec::new(),
            after_cr: false,
            id: None,
            event: None,
            data: None,
        }
    }

    /// Parses `chunk`, appending every completed event to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        for &b in chunk {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    self.end_line(out);
                }
                _ => {
                    self.after_cr = false;
                    if self.line.len() >= self.max_line {
                        return Err(LineTooLong(self.max_line));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.line.is_empty() {
            self.dispatch(out);
            return;
        }
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {} // `retry` and unknown fields: nothing to keep
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let id = self.id.take();
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            out.push(SseEvent {
                id,
                event: event.unwrap_or_else(|| "message".to_owned()),
                data,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(text: &str, piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new(1024);
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(piece) {
            p.push(chunk, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn events_parse_the_same_whatever_the_chunking() {
        let text = "retry: 1000\n\n: a comment\nid: 5-0\nevent: token\ndata: {\"a\":1}\n\n\
                    event: heartbeat\r\ndata: {}\r\n\r\nevent: user\rdata:x\rdata: y\r\r";
        let want = vec![
            SseEvent {
                id: Some("5-0".into()),
                event: "token".into(),
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                id: None,
                event: "heartbeat".into(),
                data: "{}".into(),
            },
            SseEvent {
                id: None,
                event: "user".into(),
                data: "x\ny".into(),
            },
        ];
        for piece in [1, 2, 3, 7, 1000] {
            assert_eq!(parse_in_pieces(text, piece), want, "chunks of {piece}");
        }
    }

    #[test]
    fn a_block_without_data_dispatches_nothing() {
        assert!(parse_in_pieces("event: token\nid: 1-0\n\n", 4).is_empty());
        // ... and its fields do not leak into the next event.
        let out = parse_in_pieces("event: token\n\ndata: d\n\n", 4);
        assert_eq!(out[0].event, "message");
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut p = SseParser::new(16);
        let mut out = Vec::new();
        assert_eq!(p.push(&[b'a'; 17], &mut out), Err(LineTooLong(16)));
    }

    #[test]
    fn an_unterminated_event_waits_for_its_blank_line() {
        let mut p = SseParser::new(64);
        let mut out = Vec::new();
        p.push(b"event: token\ndata: x\n", &mut out).unwrap();
        assert!(out.is_empty());
        p.push(b"\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }
}

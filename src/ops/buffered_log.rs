//! `kind: buffered`: a log4rs appender that keeps write(2) off the request
//! threads. The logging thread only encodes its line (the appender's own
//! `encoder`) and pushes the bytes into a bounded queue; one writer thread
//! per appender drains the queue and hands whole batches to the `target`
//! appender (a `console`, `file` or `rolling_file`, whose own encoder is
//! forced to `{m}`), so many lines cost one write(2) and rolling still
//! works. A full queue drops INFO/DEBUG/TRACE lines (counted, reported by a
//! WARN line) and makes WARN/ERROR lines wait. `flush` returns once every
//! line queued before it is written; dropping the appender (a reload
//! replaced it) drains the queue and ends its writer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{Level, Record};
use log4rs::append::Append;
use log4rs::config::{Deserialize, Deserializers};
use log4rs::encode::pattern::PatternEncoder;
use log4rs::encode::writer::simple::SimpleWriter;
use log4rs::encode::{Encode, EncoderConfig};
use serde_value::Value;

/// Lines queued per appender unless `queue_lines` says otherwise.
pub const DEFAULT_QUEUE_LINES: usize = 65_536;
/// A batch is handed to the target once it holds this many bytes.
const BATCH_BYTES: usize = 64 * 1024;
/// How often a busy writer looks at its queue.
const TICK: Duration = Duration::from_millis(10);
/// At most one WARN line about dropped lines per this interval.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long `flush` waits for the writer at most.
const FLUSH_WAIT: Duration = Duration::from_secs(10);

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lines dropped by every buffered appender of this process since start
/// (`tessera_log_lines_dropped_total`).
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

enum Msg {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// The appender; see the module documentation.
#[derive(Debug)]
pub struct BufferedAppender {
    encoder: Arc<dyn Encode>,
    queue: Option<SyncSender<Msg>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl BufferedAppender {
    /// Starts the writer thread over `target`.
    pub fn new(
        encoder: Box<dyn Encode>,
        target: Box<dyn Append>,
        queue_lines: usize,
    ) -> std::io::Result<Self> {
        let encoder: Arc<dyn Encode> = Arc::from(encoder);
        let (queue, rx) = mpsc::sync_channel(queue_lines.max(1));
        let writer_encoder = encoder.clone();
        let writer = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_loop(&rx, target.as_ref(), writer_encoder.as_ref()))?;
        Ok(BufferedAppender {
            encoder,
            queue: Some(queue),
            writer: Mutex::new(Some(writer)),
        })
    }

    fn queue(&self) -> anyhow::Result<&SyncSender<Msg>> {
        self.queue
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the buffered appender is closed"))
    }
}

impl Append for BufferedAppender {
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        let mut line = SimpleWriter(Vec::with_capacity(256));
        self.encoder.encode(&mut line, record)?;
        let queue = self.queue()?;
        match queue.try_send(Msg::Line(line.0)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) if record.level() <= Level::Warn => queue
                .send(msg)
                .map_err(|_| anyhow::anyhow!("the log writer thread has ended")),
            Err(TrySendError::Full(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(anyhow::anyhow!("the log writer thread has ended"))
            }
        }
    }

    /// Waits (at most [`FLUSH_WAIT`]) until every line queued before this
    /// call is written and flushed by the target.
    fn flush(&self) {
        let Ok(queue) = self.queue() else { return };
        let (ack, done) = mpsc::sync_channel(1);
        if queue.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(FLUSH_WAIT);
        }
    }
}

impl Drop for BufferedAppender {
    fn drop(&mut self) {
        // Closing the queue lets the writer drain it and end.
        self.queue = None;
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

/// The writer thread: batches queued lines, writes each batch as one
/// record to `target`, answers flushes after the lines before them. While
/// lines keep coming it looks at the queue every [`TICK`] (the logging
/// threads then never wake it: a wake-up per line is a system call of
/// its own); after a round with nothing it blocks until a line.
fn write_loop(rx: &Receiver<Msg>, target: &dyn Append, encoder: &dyn Encode) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    let mut acks = Vec::new();
    let mut reported = 0;
    let mut last_report = Instant::now();
    let (mut idle, mut full) = (true, false);
    loop {
        let first = if idle {
            rx.recv_timeout(DROP_REPORT_EVERY)
        } else {
            if !full {
                std::thread::sleep(TICK);
            }
            rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        };
        let open = match first {
            Ok(msg) => {
                take(msg, &mut batch, &mut acks);
                while batch.len() < BATCH_BYTES && acks.is_empty() {
                    match rx.try_recv() {
                        Ok(msg) => take(msg, &mut batch, &mut acks),
                        Err(_) => break,
                    }
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        };
        idle = batch.is_empty() && acks.is_empty();
        full = batch.len() >= BATCH_BYTES;
        if last_report.elapsed() >= DROP_REPORT_EVERY || !open {
            report_drops(&mut reported, encoder, &mut batch);
            last_report = Instant::now();
        }
        write_batch(target, &mut batch);
        if !acks.is_empty() {
            target.flush();
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
        }
        if !open {
            target.flush();
            return;
        }
    }
}

fn take(msg: Msg, batch: &mut Vec<u8>, acks: &mut Vec<SyncSender<()>>) {
    match msg {
        Msg::Line(line) => batch.extend_from_slice(&line),
        Msg::Flush(ack) => acks.push(ack),
    }
}

/// Adds a WARN line (in the appender's own encoding) when lines were
/// dropped since the last report.
fn report_drops(reported: &mut u64, encoder: &dyn Encode, batch: &mut Vec<u8>) {
    let total = dropped_lines();
    if total == *reported {
        return;
    }
    let since = total - *reported;
    *reported = total;
    let mut line = SimpleWriter(Vec::new());
    let written = encoder.encode(
        &mut line,
        &Record::builder()
            .level(Level::Warn)
            .target(module_path!())
            .module_path_static(Some(module_path!()))
            .args(format_args!(
                "{since} log lines dropped: the log queue was full \
                 ({total} since start, tessera_log_lines_dropped_total)"
            ))
            .build(),
    );
    if written.is_ok() {
        batch.extend_from_slice(&line.0);
    }
}

/// Hands the batch to the target as one record (its encoder is `{m}`).
fn write_batch(target: &dyn Append, batch: &mut Vec<u8>) {
    if batch.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(batch);
    let written = target.append(
        &Record::builder()
            .level(Level::Info)
            .target(module_path!())
            .args(format_args!("{text}"))
            .build(),
    );
    if let Err(e) = written {
        eprintln!("tessera: cannot write log lines: {e}");
    }
    batch.clear();
}

/// The `buffered` kind for log4rs's [`Deserializers`].
pub struct BufferedAppenderDeserializer;

/// `kind: buffered`'s fields.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferedAppenderConfig {
    encoder: Option<EncoderConfig>,
    target: BTreeMap<Value, Value>,
    queue_lines: Option<usize>,
}

impl Deserialize for BufferedAppenderDeserializer {
    type Trait = dyn Append;
    type Config = BufferedAppenderConfig;

    fn deserialize(
        &self,
        config: BufferedAppenderConfig,
        deserializers: &Deserializers,
    ) -> anyhow::Result<Box<dyn Append>> {
        let encoder: Box<dyn Encode> = match config.encoder {
            Some(e) => deserializers.deserialize(&e.kind, e.config)?,
            None => Box::new(PatternEncoder::default()),
        };
        let mut target = config.target;
        let Some(Value::String(kind)) = target.remove(&key("kind")) else {
            anyhow::bail!("a buffered appender's `target` needs a `kind`")
        };
        if kind == "buffered" {
            anyhow::bail!("a buffered appender's `target` cannot be buffered itself");
        }
        if target.contains_key(&key("encoder")) {
            anyhow::bail!(
                "set the `encoder` on the buffered appender, not on its `target` \
                 (the target writes whole batches of encoded lines)"
            );
        }
        let verbatim = BTreeMap::from([(key("pattern"), key("{m}"))]);
        target.insert(key("encoder"), Value::Map(verbatim));
        let target = deserializers.deserialize::<dyn Append>(&kind, Value::Map(target))?;
        let lines = config.queue_lines.unwrap_or(DEFAULT_QUEUE_LINES);
        Ok(Box::new(BufferedAppender::new(encoder, target, lines)?))
    }
}

fn key(s: &str) -> Value {
    Value::String(s.to_owned())
}

//! The thread that renders for the endpoint.
//!
//! Requests queue a job and wait for its body. The thread takes every job queued, renders
//! once per format and filter asked for and compresses once per encoding, and answers them all; the
//! jobs queued meanwhile make the next batch. So every answer is rendered after its
//! request arrived, a burst of scrapes costs one rendering, and the connection thread
//! keeps serving I/O while the registries are rendered.

use std::io::Write;
use std::panic::AssertUnwindSafe;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::expose::{Filter, Format};
use crate::names::Escaping;
use crate::registry::{render_escaped, Registry};

/// A body to make: the format and escaping scheme, the families, whether
/// gzip-compressed, and where to send it.
pub(super) struct Job {
    pub format: Format,
    pub escaping: Escaping,
    pub filter: Filter,
    pub gzip: bool,
    pub reply: oneshot::Sender<Bytes>,
}

/// Starts the thread; it ends once every sender of the queue has been dropped.
pub(super) fn spawn(
    registries: Vec<Registry>,
) -> std::io::Result<(mpsc::UnboundedSender<Job>, std::thread::JoinHandle<()>)> {
    let (jobs, queue) = mpsc::unbounded_channel();
    let thread = std::thread::Builder::new()
        .name("metricore-render".into())
        .spawn(move || run(&registries, queue))?;
    Ok((jobs, thread))
}

fn run(registries: &[Registry], mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut capacity = 0;
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(job) = queue.try_recv() {
            batch.push(job);
        }
        while let Some(first) = batch.first() {
            let (format, escaping, filter) = (first.format, first.escaping, first.filter.clone());
            let (mine, rest): (Vec<Job>, Vec<Job>) = batch
                .into_iter()
                .partition(|j| j.format == format && j.escaping == escaping && j.filter == filter);
            batch = rest;
            // A rendering that panics (a callback's, or a bug) fails its batch, whose
            // requests get 503, and the thread goes on serving the next.
            let rendered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut body = Vec::with_capacity(capacity);
                render_escaped(registries, format, escaping, &filter, &mut body);
                body
            }));
            let Ok(text) = rendered else {
                continue;
            };
            capacity = capacity.max(text.len());
            let gzipped = mine.iter().any(|j| j.gzip).then(|| compress(&text));
            let plain = Bytes::from(text);
            for job in mine {
                let body = match (&gzipped, job.gzip) {
                    (Some(gz), true) => gz.clone(),
                    _ => plain.clone(),
                };
                // A client that went away no longer waits for its body.
                let _ = job.reply.send(body);
            }
        }
    }
}

fn compress(text: &[u8]) -> Bytes {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(text);
    Bytes::from(gz.finish().unwrap_or_default())
}

//! The table of open connections: how many there are, which are serving a request, and
//! a way to close the oldest idle one to make room for a new one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Open connections by id (ids grow, so the first idle one is the oldest).
#[derive(Default)]
pub(super) struct Conns {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: BTreeMap<u64, Slot>,
}

struct Slot {
    /// Requests being served on the connection.
    busy: u32,
    /// Firing it ends the connection's task.
    evict: Option<oneshot::Sender<()>>,
}

impl Conns {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection: its id, and what fires when it is evicted.
    pub(super) fn open(&self) -> (u64, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mut t = self.table();
        let id = t.next;
        t.next += 1;
        t.open.insert(
            id,
            Slot {
                busy: 0,
                evict: Some(tx),
            },
        );
        (id, rx)
    }

    /// Forgets a connection that ended.
    pub(super) fn close(&self, id: u64) {
        self.table().open.remove(&id);
    }

    /// Open connections.
    pub(super) fn len(&self) -> usize {
        self.table().open.len()
    }

    /// Marks the connection as serving a request until the guard is dropped.
    pub(super) fn busy(self: &Arc<Self>, id: u64) -> Busy {
        if let Some(slot) = self.table().open.get_mut(&id) {
            slot.busy += 1;
        }
        Busy {
            conns: self.clone(),
            id,
        }
    }

    /// Ends the oldest connection that is not serving a request (waiting for its
    /// handshake, its request head, or idle between requests); false if there is none.
    pub(super) fn evict_idle(&self) -> bool {
        let mut t = self.table();
        let victim = t
            .open
            .iter_mut()
            .find(|(_, s)| s.busy == 0 && s.evict.is_some());
        match victim {
            Some((_, slot)) => {
                if let Some(evict) = slot.evict.take() {
                    let _ = evict.send(());
                }
                true
            }
            None => false,
        }
    }
}

/// A request in progress on a connection.
pub(super) struct Busy {
    conns: Arc<Conns>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(slot) = self.conns.table().open.get_mut(&self.id) {
            slot.busy = slot.busy.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_idle_connection_is_evicted() {
        let conns = Arc::new(Conns::default());
        let (a, mut ea) = conns.open();
        let (_b, mut eb) = conns.open();
        let busy = conns.busy(a);
        assert_eq!(conns.len(), 2);
        assert!(conns.evict_idle());
        assert!(ea.try_recv().is_err() && eb.try_recv().is_ok());
        // b was evicted already (its task closes it); a is busy.
        assert!(!conns.evict_idle());
        drop(busy);
        assert!(conns.evict_idle());
        assert!(ea.try_recv().is_ok());
        conns.close(a);
        assert_eq!(conns.len(), 1);
    }
}

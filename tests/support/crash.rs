//! Crashes at an exact store call, for tests of work that must survive a
//! dying worker. A state's table and object store are wrapped; every call
//! through either counts as one step, and an armed [`CrashSwitch`] makes
//! step `n` the last the worker takes: the call is lost before it reaches
//! the store, or it lands and its answer never comes back. From then on the
//! worker hangs in that call and every later one, as if its process had
//! died, and [`CrashSwitch::run`] drops it. Nothing depends on timing: the
//! same plan crashes at the same point on every run.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use konnecs::app::AppState;
use konnecs::ports::{
    BatchOp, Condition, Item, Key, ObjectError, ObjectReader, ObjectStore, Page, PartialCommit, Query, StoreError,
    StoredObject, Table, Update, UploadedPart, WriteOp,
};

/// Where, relative to the store, the worker dies at its last call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The call never reached the store.
    Request,
    /// The store did it; the worker died before it saw the answer.
    Answer,
}

#[derive(Default)]
pub struct CrashSwitch {
    /// Store calls since the switch was armed.
    calls: AtomicUsize,
    /// The step that crashes, and how.
    plan: Mutex<Option<(usize, Lost)>>,
    crashed: AtomicBool,
    /// Calls inside the real store right now (a crash waits for them to land).
    in_flight: AtomicUsize,
    signal: tokio::sync::Notify,
}

impl CrashSwitch {
    /// The next worker dies at its `step`-th store call (counting from 1).
    pub fn arm(&self, step: usize, lost: Lost) {
        assert!(step > 0, "steps count from 1");
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = Some((step, lost));
        self.calls.store(0, Ordering::SeqCst);
        self.crashed.store(false, Ordering::SeqCst);
    }

    /// Store calls go through untouched (and uncounted) again.
    pub fn disarm(&self) {
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.crashed.store(false, Ordering::SeqCst);
    }

    /// Store calls the worker made since the switch was armed, the crashing one included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Runs `work` until it returns (`Some`) or crashes (`None`). A crashed
    /// worker is dropped once no call of its is still inside the store, so
    /// whatever it handed over has landed by then and nothing lands later.
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return Some(out),
                () = self.signal.notified() => {
                    if self.crashed.load(Ordering::SeqCst) && self.in_flight.load(Ordering::SeqCst) == 0 {
                        return None;
                    }
                }
            }
        }
    }

    fn die(&self) {
        self.crashed.store(true, Ordering::SeqCst);
        self.signal.notify_one();
    }

    /// One store call under the plan.
    async fn step<T>(&self, call: impl Future<Output = T>) -> T {
        let plan = *self.plan.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((crash_at, lost)) = plan else {
            return call.await;
        };
        if self.crashed.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        let this = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if this == crash_at && lost == Lost::Request {
            self.die();
            return std::future::pending().await;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let out = call.await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if this == crash_at {
            self.die();
        }
        if self.crashed.load(Ordering::SeqCst) {
            // Dead meanwhile (or just now): the answer is never seen.
            self.signal.notify_one();
            return std::future::pending().await;
        }
        out
    }
}

/// `state` with its table and object store behind one crash switch.
pub fn crashing(state: &AppState) -> (AppState, Arc<CrashSwitch>) {
    let switch = Arc::new(CrashSwitch::default());
    let crashing = AppState {
        table: Arc::new(CrashingTable {
            inner: state.table.clone(),
            switch: switch.clone(),
        }),
        objects: Arc::new(CrashingObjects {
            inner: state.objects.clone(),
            switch: switch.clone(),
        }),
        ..state.clone()
    };
    (crashing, switch)
}

pub struct CrashingTable {
    inner: Arc<dyn Table>,
    switch: Arc<CrashSwitch>,
}

#[async_trait]
impl Table for CrashingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.switch.step(self.inner.get(key)).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.switch.step(self.inner.batch_get(keys)).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.switch.step(self.inner.put(item, condition)).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        self.switch.step(self.inner.update(key, update, condition)).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.switch.step(self.inner.delete(key, condition)).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.switch.step(self.inner.query(query)).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.switch.step(self.inner.transact(ops)).await
    }
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        self.switch.step(self.inner.transact_in_order(transactions)).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        self.switch.step(self.inner.batch_write(ops)).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.switch.step(self.inner.ping()).await
    }
}

pub struct CrashingObjects {
    inner: Arc<dyn ObjectStore>,
    switch: Arc<CrashSwitch>,
}

#[async_trait]
impl ObjectStore for CrashingObjects {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError> {
        self.switch.step(self.inner.put(key, bytes, content_type)).await
    }
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ObjectError> {
        self.switch.step(self.inner.get(key)).await
    }
    async fn open(&self, key: &str) -> Result<Option<ObjectReader>, ObjectError> {
        self.switch.step(self.inner.open(key)).await
    }
    async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        self.switch.step(self.inner.exists(key)).await
    }
    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        self.switch.step(self.inner.delete(key)).await
    }
    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, ObjectError> {
        self.switch.step(self.inner.start_upload(key, content_type)).await
    }
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<UploadedPart, ObjectError> {
        self.switch
            .step(self.inner.upload_part(key, upload_id, number, bytes))
            .await
    }
    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[UploadedPart]) -> Result<(), ObjectError> {
        self.switch
            .step(self.inner.complete_upload(key, upload_id, parts))
            .await
    }
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), ObjectError> {
        self.switch.step(self.inner.abort_upload(key, upload_id)).await
    }
    async fn download_url(&self, key: &str, filename: &str, ttl: Duration) -> Result<Option<String>, ObjectError> {
        self.switch.step(self.inner.download_url(key, filename, ttl)).await
    }
}

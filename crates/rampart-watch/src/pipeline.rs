//! Group commit: events from concurrent requests are written together. One writer task takes
//! what is waiting — everything that arrived while the previous group was being committed — and
//! commits it in one transaction; each request is answered once its own events are committed.
//! The events waiting are bounded: past the bound a request is refused at once ([`Busy`]) rather
//! than queued without limit. Each organisation has its share of the bound — at most half of it,
//! and an equal part when several have events waiting — so one tenant's flood is refused while
//! the others are still taken.
//!
//! The writer is a [`Task`] the process starts. Stopped, it takes no new request (those are
//! refused as [`Busy`]) but commits and answers every one already queued, so a request is never
//! answered before its events are committed, and nothing answered is lost.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use rampart_core::OrgId;
use rampart_store::{Committed, ScoredEvent, Store, StoreError, Task};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The pipeline is full: try again shortly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

struct Job {
    events: Vec<ScoredEvent>,
    done: oneshot::Sender<Result<Vec<Committed>, StoreError>>,
    _room: Reservation,
}

/// Events waiting, by organisation.
type Waiting = Arc<Mutex<HashMap<OrgId, usize>>>;

/// A request's room in the queue and in its organisation's share, given back when it is answered.
struct Reservation {
    waiting: Waiting,
    org: OrgId,
    events: usize,
    _room: OwnedSemaphorePermit,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = waiting.get_mut(&self.org) {
            *count = count.saturating_sub(self.events);
            if *count == 0 {
                waiting.remove(&self.org);
            }
        }
    }
}

/// The most events one organisation may have waiting in a queue of `capacity` while `active`
/// organisations (itself included) have some: an equal part, and never more than half, so that
/// one tenant's flood always leaves room for another.
pub(crate) fn share(capacity: usize, active: usize) -> usize {
    (capacity / active.max(2)).max(1)
}

#[derive(Clone)]
pub struct Pipeline {
    jobs: mpsc::UnboundedSender<Job>,
    room: Arc<Semaphore>,
    capacity: usize,
    waiting: Waiting,
}

impl Pipeline {
    /// The pipeline and its writer, which the process starts. At most `capacity` events wait at
    /// once; a group holds at most `group_max` events (one request's events always go together).
    pub fn new(store: Arc<dyn Store>, capacity: usize, group_max: usize) -> (Self, Task) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let writer = Task::new("ingest-writer", move |stop| write(store, receiver, group_max.max(1), stop));
        (Self { jobs, room: Arc::new(Semaphore::new(capacity)), capacity, waiting: Arc::default() }, writer)
    }

    /// Events of `org` waiting to be committed.
    pub fn waiting(&self, org: OrgId) -> usize {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).get(&org).copied().unwrap_or(0)
    }

    /// Queues `events` of `org` for the writer, or refuses: past the organisation's share, past
    /// the queue's bound, or when the writer takes no more. A request larger than its share takes
    /// all of it (one request's events always go together), so it is taken when its organisation
    /// has nothing waiting. The room is taken and the job queued under one lock, so what
    /// [`Pipeline::waiting`] counts is always in the writer's queue.
    fn queue(
        &self,
        org: OrgId,
        events: Vec<ScoredEvent>,
        done: oneshot::Sender<Result<Vec<Committed>, StoreError>>,
    ) -> Result<(), Busy> {
        let unsent = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            let active = waiting.len() + usize::from(!waiting.contains_key(&org));
            let share = share(self.capacity, active);
            let wanted = events.len().min(share);
            let already = waiting.get(&org).copied().unwrap_or(0);
            if already + wanted > share {
                return Err(Busy);
            }
            let permits = u32::try_from(wanted).map_err(|_| Busy)?;
            let room = self.room.clone().try_acquire_many_owned(permits).map_err(|_| Busy)?;
            *waiting.entry(org).or_default() += wanted;
            let room = Reservation { waiting: self.waiting.clone(), org, events: wanted, _room: room };
            self.jobs.send(Job { events, done, _room: room }).err()
        };
        // A job the writer no longer takes gives its room back once the lock is released.
        match unsent {
            Some(job) => {
                drop(job);
                Err(Busy)
            }
            None => Ok(()),
        }
    }

    /// Commits `events` of `org` with whatever else is waiting; answers in order once they are
    /// committed.
    pub async fn commit(
        &self,
        org: OrgId,
        events: Vec<ScoredEvent>,
    ) -> Result<Result<Vec<Committed>, StoreError>, Busy> {
        if events.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let (done, answer) = oneshot::channel();
        self.queue(org, events, done)?;
        // The writer answers every job it takes; a writer gone is a store that cannot write.
        Ok(answer.await.unwrap_or(Err(StoreError::Unavailable)))
    }
}

/// Commits groups until stopped; then refuses new requests and commits those still queued.
async fn write(
    store: Arc<dyn Store>,
    mut receiver: mpsc::UnboundedReceiver<Job>,
    group_max: usize,
    stop: CancellationToken,
) {
    let mut stopping = false;
    loop {
        if !stopping && stop.is_cancelled() {
            // Senders are refused from now on; what is queued is still received.
            receiver.close();
            stopping = true;
        }
        let next = if stopping {
            receiver.recv().await
        } else {
            tokio::select! {
                job = receiver.recv() => job,
                () = stop.cancelled() => continue,
            }
        };
        let Some(first) = next else { break };
        let mut group = vec![first];
        let mut size = group[0].events.len();
        while size < group_max {
            match receiver.try_recv() {
                Ok(job) => {
                    size += job.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        // A panic fails this group's requests (their answers are dropped: 503), not the writer.
        if AssertUnwindSafe(commit_group(store.as_ref(), group)).catch_unwind().await.is_err() {
            tracing::error!("the ingestion writer failed on a group; its requests were answered unavailable");
        }
    }
}

/// Commits a group; if that fails, each request on its own, so that one request's bad event
/// (its node deleted meanwhile) cannot fail the others.
async fn commit_group(store: &dyn Store, mut group: Vec<Job>) {
    if group.len() == 1 {
        for job in group {
            let result = store.watch().commit(&job.events).await;
            let _ = job.done.send(result);
        }
        return;
    }
    // The events move into one list for the commit, and back to their jobs after it.
    let sizes: Vec<usize> = group.iter().map(|job| job.events.len()).collect();
    let mut events: Vec<ScoredEvent> = group.iter_mut().flat_map(|job| job.events.drain(..)).collect();
    let result = store.watch().commit(&events).await;
    for (job, size) in group.iter_mut().zip(&sizes) {
        job.events = events.drain(..size).collect();
    }
    match result {
        Ok(committed) => {
            let mut committed = committed.into_iter();
            for job in group {
                let mine: Vec<Committed> = committed.by_ref().take(job.events.len()).collect();
                let _ = job.done.send(Ok(mine));
            }
        }
        Err(StoreError::Unavailable) => {
            for job in group {
                let _ = job.done.send(Err(StoreError::Unavailable));
            }
        }
        Err(_) => {
            for job in group {
                let result = store.watch().commit(&job.events).await;
                let _ = job.done.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organisation_gets_at_most_half_and_an_equal_part_when_others_wait() {
        assert_eq!(share(1000, 1), 500);
        assert_eq!(share(1000, 2), 500);
        assert_eq!(share(1000, 4), 250);
        assert_eq!(share(1, 5), 1, "never nothing");
    }
}

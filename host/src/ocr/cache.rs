//! Recognized text by image digest, with one engine run per image however many messages
//! carry it at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;

use super::OcrError;

/// An image's SHA-256: the cache key. A cryptographic digest, so nobody can craft an image
/// that takes the cached text of another.
pub(super) type ImageDigest = [u8; 32];

/// The digest of `image`.
pub(super) fn digest(image: &[u8]) -> ImageDigest {
    Sha256::digest(image).into()
}

type Slot = Arc<OnceCell<Result<String, OcrError>>>;

/// A bounded map from image digest to the engine's answer. Concurrent requests for the
/// same image share one run (the first runs, the others wait for its answer). Only texts
/// are kept: errors (timeouts under load, engine failures) are given to the requests
/// waiting then, and the next request tries again. When full, the oldest entry goes.
#[derive(Debug)]
pub(super) struct ResultCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    slots: HashMap<ImageDigest, Slot>,
    /// Digests in insertion order, for eviction.
    order: VecDeque<ImageDigest>,
}

impl ResultCache {
    /// A cache of at most `capacity` texts; 0 keeps none (each request runs the engine).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The answer for the image with `digest`: the cached text, the answer of a run already
    /// under way, or that of `run`, started now.
    pub(super) async fn get_or_run<F>(
        &self,
        digest: ImageDigest,
        run: F,
    ) -> Result<String, OcrError>
    where
        F: Future<Output = Result<String, OcrError>>,
    {
        if self.capacity == 0 {
            return run.await;
        }
        let slot = self.slot(digest);
        let answer = slot.get_or_init(|| run).await.clone();
        if answer.is_err() {
            self.forget(digest, &slot);
        }
        answer
    }

    /// The number of images with an entry (cached or being read).
    pub(super) fn len(&self) -> usize {
        self.lock().slots.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every update leaves the map and the order consistent before it can panic.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self, digest: ImageDigest) -> Slot {
        let mut entries = self.lock();
        if let Some(slot) = entries.slots.get(&digest) {
            return Arc::clone(slot);
        }
        while entries.slots.len() >= self.capacity {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            entries.slots.remove(&oldest);
        }
        let slot = Slot::default();
        entries.slots.insert(digest, Arc::clone(&slot));
        entries.order.push_back(digest);
        slot
    }

    /// Drops the entry for `digest` if it is still `slot` (an error is not kept).
    fn forget(&self, digest: ImageDigest, slot: &Slot) {
        let mut entries = self.lock();
        if entries
            .slots
            .get(&digest)
            .is_some_and(|s| Arc::ptr_eq(s, slot))
        {
            entries.slots.remove(&digest);
            entries.order.retain(|d| *d != digest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    async fn counted(
        runs: &AtomicUsize,
        answer: Result<String, OcrError>,
    ) -> Result<String, OcrError> {
        runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer
    }

    #[tokio::test]
    async fn the_same_image_is_read_once_even_when_asked_for_at_once() {
        let cache = ResultCache::new(10);
        let runs = AtomicUsize::new(0);
        let image = digest(b"one image");
        let ask = || cache.get_or_run(image, counted(&runs, Ok("BUY NOW".into())));
        let answers = futures_join(ask(), ask(), ask()).await;
        assert_eq!(
            answers,
            [
                Ok("BUY NOW".to_owned()),
                Ok("BUY NOW".into()),
                Ok("BUY NOW".into())
            ]
        );
        assert_eq!(
            cache
                .get_or_run(image, counted(&runs, Ok("other".into())))
                .await,
            Ok("BUY NOW".into())
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    async fn futures_join<F: Future>(a: F, b: F, c: F) -> [F::Output; 3] {
        let (a, b, c) = tokio::join!(a, b, c);
        [a, b, c]
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let cache = ResultCache::new(10);
        let runs = AtomicUsize::new(0);
        let image = digest(b"slow image");
        let timeout = Err(OcrError::Timeout { millis: 5 });
        assert_eq!(
            cache
                .get_or_run(image, counted(&runs, timeout.clone()))
                .await,
            timeout
        );
        assert_eq!(cache.len(), 0);
        assert_eq!(
            cache
                .get_or_run(image, counted(&runs, Ok("text".into())))
                .await,
            Ok("text".into())
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_oldest_entry_goes_when_full() {
        let cache = ResultCache::new(2);
        let runs = AtomicUsize::new(0);
        for image in [b"a", b"b", b"c"] {
            cache
                .get_or_run(digest(image), counted(&runs, Ok("t".into())))
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), 2);
        cache
            .get_or_run(digest(b"c"), counted(&runs, Ok("t".into())))
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3, "c is still cached");
        cache
            .get_or_run(digest(b"a"), counted(&runs, Ok("t".into())))
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 4, "a was evicted");
    }

    #[tokio::test]
    async fn capacity_zero_caches_nothing() {
        let cache = ResultCache::new(0);
        let runs = AtomicUsize::new(0);
        for _ in 0..2 {
            cache
                .get_or_run(digest(b"a"), counted(&runs, Ok("t".into())))
                .await
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(cache.len(), 0);
    }
}

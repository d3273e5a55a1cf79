//! The bounds every engine is held to, whatever it is: image limits checked before the
//! engine sees the image, a pool of a few slots so OCR cannot take the CPU from SMTP, and
//! the digest cache.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::cache::{self, ResultCache};
use super::image::{self, ImageFormat, ImageLimits};
use super::{OcrEngine, OcrError, OcrFuture};

/// The most text kept from one image; more is cut (at a character boundary).
pub const MAX_TEXT_BYTES: usize = 16 << 10;

/// An engine behind limits, a pool and a cache.
pub struct BoundedEngine {
    inner: Arc<dyn OcrEngine>,
    limits: ImageLimits,
    slots: Semaphore,
    /// How many slots there are.
    concurrency: usize,
    slot_wait: Duration,
    cache: ResultCache,
}

impl BoundedEngine {
    /// `inner`, given at most `concurrency` images at once, each checked against `limits`;
    /// a request waits at most `slot_wait` for a slot; `cache_entries` texts are kept.
    pub fn new(
        inner: Arc<dyn OcrEngine>,
        limits: ImageLimits,
        concurrency: usize,
        slot_wait: Duration,
        cache_entries: usize,
    ) -> Self {
        Self {
            inner,
            limits,
            slots: Semaphore::new(concurrency.max(1)),
            concurrency: concurrency.max(1),
            slot_wait,
            cache: ResultCache::new(cache_entries),
        }
    }

    /// Texts cached (or being read).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    async fn read(&self, image: &[u8], format: ImageFormat) -> Result<String, OcrError> {
        let _slot = tokio::time::timeout(self.slot_wait, self.slots.acquire())
            .await
            .map_err(|_| OcrError::Timeout {
                millis: self.slot_wait.as_millis() as u64,
            })?
            .map_err(|_| OcrError::Failed {
                reason: "the OCR pool is closed".into(),
            })?;
        let mut text = self.inner.recognize(image, media_type(format)).await?;
        truncate(&mut text, MAX_TEXT_BYTES);
        Ok(text)
    }
}

impl std::fmt::Debug for BoundedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedEngine")
            .field("limits", &self.limits)
            .field("free_slots", &self.slots.available_permits())
            .field("cached", &self.cached())
            .finish_non_exhaustive()
    }
}

impl OcrEngine for BoundedEngine {
    fn pool(&self) -> Option<super::PoolUse> {
        Some(super::PoolUse {
            slots: self.concurrency,
            busy: self
                .concurrency
                .saturating_sub(self.slots.available_permits()),
            cached: self.cached(),
        })
    }

    fn recognize<'a>(&'a self, image: &'a [u8], content_type: &'a str) -> OcrFuture<'a> {
        Box::pin(async move {
            let checked = image::check(image, content_type, &self.limits)?;
            let digest = cache::digest(image);
            self.cache
                .get_or_run(digest, self.read(image, checked.format))
                .await
        })
    }
}

/// The media type of `format`, as engines are told.
fn media_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::Bmp => "image/bmp",
        ImageFormat::Tiff => "image/tiff",
        ImageFormat::Webp => "image/webp",
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An engine that counts its runs and answers after a pause.
    struct Slow {
        runs: AtomicUsize,
        running: AtomicUsize,
        most_at_once: AtomicUsize,
        pause: Duration,
    }

    impl Slow {
        fn new(pause: Duration) -> Arc<Self> {
            Arc::new(Self {
                runs: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                most_at_once: AtomicUsize::new(0),
                pause,
            })
        }
    }

    impl OcrEngine for Slow {
        fn recognize<'a>(&'a self, image: &'a [u8], _content_type: &'a str) -> OcrFuture<'a> {
            Box::pin(async move {
                self.runs.fetch_add(1, Ordering::SeqCst);
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_at_once.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(self.pause).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                Ok(format!("{} bytes", image.len()))
            })
        }
    }

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 1 << 20,
        max_pixels: 1_000_000,
        max_dimension: 2000,
        max_frames: 16,
    };

    fn png(width: u32, height: u32, salt: u8) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&width.to_be_bytes());
        png.extend_from_slice(&height.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, salt]);
        png
    }

    #[tokio::test]
    async fn the_pool_bounds_how_many_images_are_read_at_once() {
        let slow = Slow::new(Duration::from_millis(30));
        let engine = Arc::new(BoundedEngine::new(
            slow.clone(),
            LIMITS,
            2,
            Duration::from_secs(5),
            100,
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for salt in 0..6 {
            let engine = Arc::clone(&engine);
            tasks.spawn(async move { engine.recognize(&png(100, 100, salt), "image/png").await });
        }
        while let Some(answer) = tasks.join_next().await {
            assert!(answer.unwrap().is_ok());
        }
        assert_eq!(slow.runs.load(Ordering::SeqCst), 6);
        assert_eq!(slow.most_at_once.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_waits_for_a_slot_only_so_long() {
        let slow = Slow::new(Duration::from_millis(500));
        let engine = BoundedEngine::new(slow.clone(), LIMITS, 1, Duration::from_millis(50), 100);
        let (one, two) = (png(10, 10, 1), png(10, 10, 2));
        let (first, second) = tokio::join!(
            engine.recognize(&one, "image/png"),
            engine.recognize(&two, "image/png")
        );
        assert!(first.is_ok());
        assert_eq!(second, Err(OcrError::Timeout { millis: 50 }));
    }

    #[tokio::test]
    async fn limits_are_checked_before_the_engine_runs() {
        let slow = Slow::new(Duration::ZERO);
        let engine = BoundedEngine::new(slow.clone(), LIMITS, 1, Duration::from_secs(1), 100);
        let bomb = engine.recognize(&png(2000, 2000, 0), "image/png").await;
        assert!(matches!(bomb, Err(OcrError::TooLarge { .. })), "{bomb:?}");
        let fake = engine.recognize(b"GIF? no", "image/gif").await;
        assert!(
            matches!(fake, Err(OcrError::UnsupportedFormat { .. })),
            "{fake:?}"
        );
        assert_eq!(slow.runs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn repeated_images_hit_the_cache() {
        let slow = Slow::new(Duration::ZERO);
        let engine = BoundedEngine::new(slow.clone(), LIMITS, 1, Duration::from_secs(1), 100);
        let image = png(10, 10, 7);
        for _ in 0..5 {
            assert_eq!(
                engine.recognize(&image, "image/png").await,
                Ok(format!("{} bytes", image.len()))
            );
        }
        assert_eq!(slow.runs.load(Ordering::SeqCst), 1);
        assert_eq!(engine.cached(), 1);
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let mut text = "ééé".to_owned();
        truncate(&mut text, 3);
        assert_eq!(text, "é");
    }
}

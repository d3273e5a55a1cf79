//! The verifier over a scripted prober: TTLs on a manual clock, shared probes, the slot
//! limit, the timeout and what a failed probe means.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::config::HumanDuration;

/// Bounds a test that would otherwise hang.
const LIMIT: Duration = Duration::from_secs(5);

/// A prober answering from a table (unlisted: known), counting its probes per address,
/// each probe waiting for a permit of `gate` when there is one.
#[derive(Default)]
struct Scripted {
    answers: Mutex<HashMap<String, ProbeAnswer>>,
    probes: Mutex<HashMap<String, usize>>,
    running: AtomicUsize,
    most_running: AtomicUsize,
    gate: Option<Semaphore>,
}

impl Scripted {
    fn answer(&self, address: &str, answer: ProbeAnswer) {
        self.answers
            .lock()
            .unwrap()
            .insert(address.to_owned(), answer);
    }

    fn probes(&self, address: &str) -> usize {
        self.probes
            .lock()
            .unwrap()
            .get(address)
            .copied()
            .unwrap_or(0)
    }
}

impl Prober for Scripted {
    fn covers(&self, address: &str) -> bool {
        address.ends_with("@example.test")
    }

    fn probe<'a>(&'a self, address: &'a str) -> ProbeFuture<'a> {
        Box::pin(async move {
            *self
                .probes
                .lock()
                .unwrap()
                .entry(address.to_owned())
                .or_default() += 1;
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(now, Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.unwrap().forget();
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            let answers = self.answers.lock().unwrap();
            answers.get(address).cloned().unwrap_or(ProbeAnswer::Known)
        })
    }
}

fn relay(keys: impl FnOnce(&mut RelayConfig)) -> RelayConfig {
    let mut relay = RelayConfig::default();
    keys(&mut relay);
    relay
}

fn start(
    relay: &RelayConfig,
    prober: &Arc<Scripted>,
    clock: &Clock,
) -> (RecipientVerifier, Arc<Registry>) {
    let registry = Registry::new();
    let prober: Arc<dyn Prober> = Arc::clone(prober) as Arc<dyn Prober>;
    let verifier = RecipientVerifier::new(relay, prober, clock.clone(), &registry);
    (verifier, registry)
}

fn unknown() -> ProbeAnswer {
    ProbeAnswer::Unknown {
        reply: "550 5.1.1 no such user".into(),
    }
}

fn failed() -> ProbeAnswer {
    ProbeAnswer::Failed {
        reason: "connection refused".into(),
    }
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl_and_counted() {
    let prober = Arc::new(Scripted::default());
    prober.answer("mallory@example.test", unknown());
    let clock = Clock::manual(0);
    let (verifier, registry) = start(&RelayConfig::default(), &prober, &clock);

    for _ in 0..3 {
        assert_eq!(verifier.verify("Alice@Example.test").await, Verdict::Known);
        assert_eq!(
            verifier.verify("mallory@example.test").await,
            Verdict::Unknown
        );
    }
    assert_eq!(prober.probes("alice@example.test"), 1, "probed lower case");
    assert_eq!(prober.probes("mallory@example.test"), 1);

    clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(
        verifier.verify("mallory@example.test").await,
        Verdict::Unknown
    );
    assert_eq!(prober.probes("mallory@example.test"), 2, "3h: asked again");
    assert_eq!(prober.probes("alice@example.test"), 1);
    clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(verifier.verify("alice@example.test").await, Verdict::Known);
    assert_eq!(prober.probes("alice@example.test"), 2, "7d: asked again");

    let text = registry.render();
    for line in [
        "moat_recipient_verify_probes_total{result=\"known\"} 2",
        "moat_recipient_verify_probes_total{result=\"unknown\"} 2",
        "moat_recipient_verify_probes_total{result=\"failed\"} 0",
        "moat_recipient_verify_cache_hits_total{answer=\"known\"} 2",
        "moat_recipient_verify_cache_hits_total{answer=\"unknown\"} 2",
    ] {
        assert!(text.contains(&format!("\n{line}\n")), "{line} in {text}");
    }
}

#[tokio::test]
async fn concurrent_rcpts_for_one_address_share_one_probe() {
    let prober = Arc::new(Scripted {
        gate: Some(Semaphore::new(0)),
        ..Scripted::default()
    });
    let (verifier, _) = start(&RelayConfig::default(), &prober, &Clock::manual(0));
    let ask = || verifier.verify("bob@example.test");
    let release = async {
        while verifier.0.probes.len() == 0 {
            tokio::task::yield_now().await;
        }
        prober.gate.as_ref().unwrap().add_permits(1);
    };
    let ((a, b, c), ()) = tokio::time::timeout(LIMIT, async {
        tokio::join!(async { tokio::join!(ask(), ask(), ask()) }, release)
    })
    .await
    .unwrap();
    assert_eq!([a, b, c], [Verdict::Known; 3]);
    assert_eq!(prober.probes("bob@example.test"), 1);
}

#[tokio::test]
async fn no_more_probes_run_at_once_than_the_slots() {
    let prober = Arc::new(Scripted {
        gate: Some(Semaphore::new(0)),
        ..Scripted::default()
    });
    let config = relay(|r| r.verify_max_probes = 2);
    let (verifier, _) = start(&config, &prober, &Clock::manual(0));
    let addresses: Vec<String> = (0..6).map(|i| format!("u{i}@example.test")).collect();
    let asks = addresses.iter().map(|a| verifier.verify(a));
    // Once two probes wait at the gate, the others get their turn to start (and must
    // not) before the gate opens.
    let release = async {
        while prober.running.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        prober.gate.as_ref().unwrap().add_permits(6);
    };
    let (verdicts, ()) =
        tokio::time::timeout(LIMIT, async { tokio::join!(join_all(asks), release) })
            .await
            .unwrap();
    assert_eq!(verdicts, [Verdict::Known; 6]);
    assert_eq!(prober.most_running.load(Ordering::SeqCst), 2);
}

/// Every future of `futures`, run concurrently on this task.
async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in set.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[tokio::test]
async fn a_failed_probe_is_unverified_and_not_cached_but_a_user_known_before_stays_known() {
    let prober = Arc::new(Scripted::default());
    let clock = Clock::manual(0);
    let (verifier, registry) = start(&RelayConfig::default(), &prober, &clock);
    prober.answer("new@example.test", failed());
    assert_eq!(
        verifier.verify("new@example.test").await,
        Verdict::Unverified
    );
    assert_eq!(
        verifier.verify("new@example.test").await,
        Verdict::Unverified
    );
    assert_eq!(
        prober.probes("new@example.test"),
        2,
        "failures are not kept"
    );

    assert_eq!(verifier.verify("old@example.test").await, Verdict::Known);
    clock.advance(Duration::from_secs(8 * 86_400));
    prober.answer("old@example.test", failed());
    assert_eq!(
        verifier.verify("old@example.test").await,
        Verdict::Known,
        "expired, and the server cannot say: still known"
    );
    prober.answer("old@example.test", unknown());
    assert_eq!(verifier.verify("old@example.test").await, Verdict::Unknown);
    assert!(
        registry
            .render()
            .contains("\nmoat_recipient_verify_probes_total{result=\"failed\"} 3\n")
    );
}

#[tokio::test]
async fn a_probe_that_hangs_is_unverified_after_the_timeout() {
    let prober = Arc::new(Scripted {
        gate: Some(Semaphore::new(0)),
        ..Scripted::default()
    });
    let config = relay(|r| r.verify_timeout = HumanDuration(Duration::from_millis(50)));
    let (verifier, _) = start(&config, &prober, &Clock::manual(0));
    let started = std::time::Instant::now();
    let verdict = tokio::time::timeout(LIMIT, verifier.verify("slow@example.test"))
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Unverified);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn addresses_without_a_server_to_ask_are_not_probed() {
    let prober = Arc::new(Scripted::default());
    let (verifier, _) = start(&RelayConfig::default(), &prober, &Clock::manual(0));
    assert_eq!(verifier.verify("carol@other.test").await, Verdict::Unasked);
    assert_eq!(prober.probes("carol@other.test"), 0);
    assert!(!verifier.accepts_unverified());
    let accepting = relay(|r| {
        r.unverified_recipient_action = UnverifiedRecipientAction::Accept;
    });
    let (verifier, _) = start(&accepting, &prober, &Clock::manual(0));
    assert!(verifier.accepts_unverified());
}

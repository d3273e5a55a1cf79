//! The one wasmtime engine of the process, its linker, and the epoch ticker that enforces
//! wall-clock budgets.
//!
//! The pooling allocator is tuned as measured in the runtime notes: without
//! `linear_memory_keep_resident`, `async_stack_keep_resident` and `pagemap_scan`, recycling
//! a pool slot `madvise`s its memory and the TLB-shootdown IPIs this triggers on every other
//! core keep the runtime from scaling past one core (3.5k vs 15k msg/s on 2 cores).

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

use super::bindings::Plugin;
use super::store::StoreState;

/// Set (to anything) in the environment, the engine writes `/tmp/perf-PID.map` naming
/// the plugins' compiled functions, so `perf report` shows where plugin time goes.
/// For profiling on a machine of one's own only: the map grows with every module
/// loaded, and its name in `/tmp` is predictable, so another local user could have put a
/// link there first. Unset (the default), nothing is written.
const PERFMAP_VARIABLE: &str = "MOAT_WASM_PERFMAP";

/// How often the epoch advances; a plugin call yields to tokio once per tick and its
/// budget is checked at each tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Wasm stack limit per call; deeper recursion is a `stack-overflow` failure.
const MAX_WASM_STACK: usize = 512 << 10;

/// The guests this project builds (bundled, example and test plugins) start with 1,920 KiB
/// of linear memory (`host/build.rs`), other Rust guests with about 1.1 MiB; keeping 2 MiB
/// resident per slot covers either, so recycling a slot does not `madvise` the pages a new
/// instance touches.
const KEEP_RESIDENT: usize = 2 << 20;

/// How the sandbox pool is sized.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    /// Plugin calls that may run at once (pool slots).
    pub max_concurrent_calls: u32,
    /// The largest memory cap any plugin has, in bytes.
    pub max_memory: u64,
}

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the plugin runtime: {reason}")]
pub struct EngineError {
    /// What wasmtime said.
    pub reason: String,
}

/// The process-wide engine and linker.
pub struct FilterEngine {
    engine: Engine,
    linker: Linker<StoreState>,
}

impl FilterEngine {
    /// Builds the engine, links the host capabilities and starts the epoch ticker (a thread
    /// that ends when the engine is dropped).
    pub fn new(settings: &EngineSettings) -> Result<Self, EngineError> {
        let error = |e: wasmtime::Error| EngineError {
            reason: format!("{e:#}"),
        };
        let slots = settings.max_concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            // A Rust wasip2 component instantiates 3 core modules, a componentize-py one
            // 14: room for every slot to run a Python plugin.
            .total_core_instances(slots.saturating_mul(16))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(4))
            .total_stacks(slots)
            .max_memory_size(settings.max_memory as usize)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .async_stack_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 << 10)
            .pagemap_scan(Enabled::Auto);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var_os(PERFMAP_VARIABLE).is_some() {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(error)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(error)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(error)?;

        let weak = engine.weak();
        std::thread::Builder::new()
            .name("moat-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| EngineError {
                reason: format!("cannot start the epoch thread: {e}"),
            })?;

        Ok(Self { engine, linker })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with WASI (empty context) and Moat's capabilities.
    pub fn linker(&self) -> &Linker<StoreState> {
        &self.linker
    }
}

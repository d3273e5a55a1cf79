//! The plugin set in force: swapped whole when the configuration or the plugin directory
//! is reloaded. A session takes the set once, when it starts, and finishes on it, so a
//! reload never changes the plugins under a message half filtered.

use std::sync::{Arc, PoisonError, RwLock};

use super::pipeline::Pipeline;

/// The current pipeline, replaceable while the server runs.
pub struct LivePipeline {
    current: RwLock<Arc<Pipeline>>,
}

impl LivePipeline {
    /// Starts with `pipeline`.
    pub fn new(pipeline: Pipeline) -> Self {
        Self {
            current: RwLock::new(Arc::new(pipeline)),
        }
    }

    /// The set in force now.
    pub fn current(&self) -> Arc<Pipeline> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `pipeline` in force; calls already holding the old set keep it.
    pub fn replace(&self, pipeline: Pipeline) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pipeline);
    }
}

impl std::fmt::Debug for LivePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .current()
            .plugins()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        f.debug_struct("LivePipeline")
            .field("plugins", &names)
            .finish()
    }
}

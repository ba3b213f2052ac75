//! The trace id of the request being served, as a task-local value: the
//! HTTP middleware runs each request's handler inside [`scope`], and the
//! audit trail reads [`current`] — so the service layer below it need not
//! carry the id through every call. A task-local lives as long as the
//! future it wraps, across every `.await` (Redis calls included); a task
//! spawned from it does not inherit it.

use std::future::Future;

use crate::domain::TraceId;

tokio::task_local! {
    static TRACE_ID: TraceId;
}

/// Runs `fut` with `id` as the current trace id.
pub async fn scope<F: Future>(id: TraceId, fut: F) -> F::Output {
    TRACE_ID.scope(id, fut).await
}

/// The trace id of the request this task is serving, if any.
pub fn current() -> Option<TraceId> {
    TRACE_ID.try_with(|id| *id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_survives_awaits_and_ends_with_its_scope() {
        let id = TraceId::generate();
        assert_eq!(current(), None);
        let seen = scope(id, async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            tokio::task::yield_now().await;
            current()
        })
        .await;
        assert_eq!(seen, Some(id));
        assert_eq!(current(), None);
    }
}

//! Room authority on both backends: an act is stored, then applied by the hub of every node
//! (on one node, by the thread that committed it; with several, by each node's subscriber),
//! in the order the acts were stored. Either way its asker is answered once it is in force on
//! the asker's node.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use protocol::RequestError;

use super::Broker;
use crate::authority::Act;
use crate::hub::Hub;
use crate::limits::REDIS_TIMEOUT;

impl Broker {
    /// Stores `act` and has every node apply it. With `if_absent`, only if the room has no
    /// such field (a claim of a room that has an owner): then `Ok(false)` and nothing done.
    pub fn act(
        &self,
        hub: &Arc<Hub>,
        act: Act,
        if_absent: Option<&'static str>,
    ) -> BoxFuture<'static, Result<bool, RequestError>> {
        match self {
            Self::Local(local) => {
                let (authority, hub) = (local.authority().clone(), hub.clone());
                async move { authority.store(act, if_absent, hub).await }.boxed()
            }
            // Redis publishes the act to every node, this one too, and its subscriber applies
            // it, maybe after the answer: the asker is answered once it is in force here.
            Self::Redis(cluster) => {
                let (cluster, hub) = (cluster.clone(), hub.clone());
                async move {
                    let stored = cluster.act(&act, if_absent).await;
                    if let Ok(true) = stored {
                        let applied = hub.act_applied(act.id);
                        if tokio::time::timeout(REDIS_TIMEOUT, applied).await.is_err() {
                            tracing::warn!("an act stored in Redis has not come back to this node");
                        }
                    }
                    stored
                }
                .boxed()
            }
        }
    }
}

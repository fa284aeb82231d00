//! Room authority on both backends: an act is stored, then applied by the hub of every node
//! (on one node, by the thread that committed it; with several, by each node's subscriber),
//! in the order the acts were stored.

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use protocol::RequestError;

use super::Broker;
use crate::authority::Act;
use crate::hub::Hub;

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
            Self::Redis(cluster) => {
                let cluster = cluster.clone();
                async move { cluster.act(&act, if_absent).await }.boxed()
            }
        }
    }
}

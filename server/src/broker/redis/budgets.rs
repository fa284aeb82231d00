//! Flood budgets across the nodes: the buckets of a connection that ended, kept in Redis
//! for its account or address block (`chat:budget:...`) until they are full again, so a
//! client that reconnects to another node starts where it stopped, as on one node
//! (`flood::Kept`, which each node keeps as well). Two ends at once keep the emptier of
//! each bucket, in one script.

use std::future::Future;

use protocol::now_millis;
use tracing::debug;

use super::Cluster;
use super::wire::keys;
use crate::flood::{Holder, Shared};

/// Keeps, per bucket, the later of the kept and the given fullness times, and expires the
/// key when the last bucket is full. KEYS[1]: the holder's budget; ARGV: the five times,
/// then the time now (Unix milliseconds).
const KEEP: &str = r"
local now = tonumber(ARGV[6])
local kept = {}
local old = redis.call('GET', KEYS[1])
if old then
  for time in string.gmatch(old, '%d+') do kept[#kept + 1] = tonumber(time) end
end
local times = {}
local last = now
for i = 1, 5 do
  local time = math.max(tonumber(ARGV[i]), kept[i] or 0)
  times[i] = string.format('%.0f', time)
  if time > last then last = time end
end
if last <= now then return 0 end
redis.call('SET', KEYS[1], table.concat(times, ','), 'PX', string.format('%.0f', last - now))
return 1
";

impl Cluster {
    /// Keeps a connection's buckets for `holder` in Redis, in a task of its own: the session
    /// ending does not wait for it. A Redis that does not answer loses it (this node still
    /// keeps its own copy).
    pub fn keep_budget(&self, holder: &Holder, shared: Shared) {
        let now = now_millis();
        if shared.full_at() <= now {
            return;
        }
        let mut conn = self.conn.clone();
        let key = keys::budget(holder);
        tokio::spawn(async move {
            let mut script = redis::cmd("EVAL");
            script.arg(KEEP).arg(1).arg(key);
            for time in shared.0 {
                script.arg(time);
            }
            let kept: Result<i64, _> = script.arg(now).query_async(&mut conn).await;
            if let Err(e) = kept {
                debug!(error = %e, "a budget was not kept in Redis");
            }
        });
    }

    /// What Redis keeps for `holder`, if anything (`None` too when Redis does not answer: the
    /// connection starts from this node's copy).
    pub fn kept_budget(
        &self,
        holder: &Holder,
    ) -> impl Future<Output = Option<Shared>> + Send + 'static {
        let mut conn = self.conn.clone();
        let key = keys::budget(holder);
        async move {
            let kept: Option<String> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut conn)
                .await
                .inspect_err(|e| debug!(error = %e, "a kept budget was not read from Redis"))
                .ok()
                .flatten();
            Shared::decode(&kept?)
        }
    }
}

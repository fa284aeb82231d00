//! What a session's requests cost, and whose flood budget pays: its account's when logged
//! in, else its address block's (`crate::flood::Kept`, and in Redis with several nodes), so
//! that what one connection used counts for the next.

use std::time::Duration;

use protocol::{ClientMsg, ErrorCode, RequestError, now_millis};
use tokio::time::Instant;

use super::backlog::Completion;
use super::{End, Flow, Session};
use crate::dialect::Dialect;
use crate::flood::{AddressBlock, Cost, Holder, Refusal, Shared};
use crate::limits::REQUEST_UNIT_BYTES;

impl<D: Dialect> Session<D> {
    /// Brings the budget kept for whoever this session now is into its buckets, after
    /// keeping what it used so far for whoever it was: logging in or out moves the session
    /// to another budget without refilling anything. Exempt addresses keep nothing.
    pub(super) fn hold_budget(&mut self) {
        let Some(flood) = &mut self.flood else { return };
        if self.info.throttle_exempt.covers(self.peer) {
            return;
        }
        let holder = match (&self.nick, self.logged_in) {
            (Some(nick), true) => Holder::Account(nick.key()),
            _ => Holder::Block(AddressBlock::of(self.peer)),
        };
        if self.holder.as_deref() == Some(&holder) {
            return;
        }
        let mut resumed = vec![holder.clone()];
        match self.holder.replace(Box::new(holder.clone())) {
            Some(was) => {
                self.broker.keep_budget(&was, || flood.shared(Instant::now(), now_millis()));
                self.info.kept.keep(*was, flood);
            }
            // A first hello that logs in also starts from what its address left: fresh
            // accounts are not fresh budgets.
            None => {
                let block = Holder::Block(AddressBlock::of(self.peer));
                self.info.kept.resume(&block, flood);
                if block != holder {
                    resumed.push(block);
                }
            }
        }
        self.info.kept.resume(&holder, flood);
        // With several nodes, what the others kept too; input waits for it, so no request is
        // paid from a budget fresher than it should be.
        let kept: Vec<_> = resumed.iter().filter_map(|h| self.broker.kept_budget(h)).collect();
        if !kept.is_empty() {
            self.awaiting = true;
            self.queries.push(Box::pin(async move {
                let kept = futures::future::join_all(kept).await;
                Completion::Budget { kept: kept.into_iter().flatten().collect() }
            }));
        }
    }

    /// The budgets other nodes kept for this session's holders came: the emptier of each
    /// bucket stays.
    pub(super) fn resumed_budget(&mut self, kept: Vec<Shared>) {
        self.awaiting = false;
        if let Some(flood) = &mut self.flood {
            let (now, wall) = (Instant::now(), now_millis());
            for shared in &kept {
                flood.merge_shared(shared, now, wall);
            }
        }
    }
}

impl<D: Dialect> Session<D> {
    /// Takes what a registered session's `request` costs from its buckets, before it is
    /// carried out. `Err`: refused — with the `flood` error written, or the end.
    pub(super) fn pay(&mut self, request: &ClientMsg) -> Result<(), Flow> {
        let (Some(flood), Some(cost), Some(_)) = (&mut self.flood, cost(request), &self.nick)
        else {
            return Ok(());
        };
        match flood.check(cost) {
            Ok(()) => Ok(()),
            Err(Refusal::RetryAfter(wait)) => {
                let error = flood_error(wait).for_request(request.type_name());
                self.write(&error.to_msg());
                Err(Flow::Continue)
            }
            Err(Refusal::Disconnect) => Err(Flow::Close(End::Flooding)),
        }
    }

    /// A registered session's request was refused: the error reply is work too, one unit,
    /// charged (the next requests wait for it) rather than taken: a refusal for an ordinary
    /// reason never counts towards the cut-off for flooding.
    pub(super) fn pay_for_refusal(&mut self) {
        if let (Some(flood), Some(_)) = (&mut self.flood, &self.nick) {
            flood.charge_answer(REQUEST_UNIT_BYTES);
        }
    }

    /// Charges the answer written since `out` held `since` bytes to the requests' bucket, for
    /// a request that costs [`Cost::Request`].
    pub(super) fn pay_for_answer(&mut self, request: Option<Cost>, since: usize) {
        if let (Some(flood), Some(Cost::Request)) = (&mut self.flood, request) {
            flood.charge_answer(self.out.len().saturating_sub(since));
        }
    }
}

/// What a request costs against flood control: joins announce themselves and read history;
/// messages, nick changes and moderation reach other people; requests that only answer the
/// client are work and bytes for the server, in proportion to the answer. Hello has limits
/// of its own (lines before hello, login throttles); quitting and answering the server's ping
/// are free.
pub(super) fn cost(request: &ClientMsg) -> Option<Cost> {
    match request {
        ClientMsg::Join { .. } => Some(Cost::Join),
        ClientMsg::Hello { .. } | ClientMsg::Pong { .. } | ClientMsg::Quit { .. } => None,
        ClientMsg::Ping { .. }
        | ClientMsg::Leave { .. }
        | ClientMsg::Rooms
        | ClientMsg::Who { .. }
        | ClientMsg::History { .. }
        | ClientMsg::Register { .. }
        | ClientMsg::Passwd { .. }
        | ClientMsg::Unregister { .. }
        | ClientMsg::Topic { text: None, .. }
        | ClientMsg::Bans { .. }
        | ClientMsg::Gbans => Some(Cost::Request),
        ClientMsg::Mode { changes, .. } if changes.is_empty() => Some(Cost::Request),
        _ => Some(Cost::Message),
    }
}

/// "slow down: you may send again in 1.5 s", with the wait in milliseconds for programs.
fn flood_error(wait: Duration) -> RequestError {
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).saturating_add(1);
    let tenths = ms.div_ceil(100);
    let mut error = RequestError::new(
        ErrorCode::Flood,
        format!("slow down: you may send again in {}.{} s", tenths / 10, tenths % 10),
    );
    error.retry_after_ms = Some(ms);
    error
}

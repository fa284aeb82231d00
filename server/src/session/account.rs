//! A session's account requests: `register`, `passwd`, `unregister`, and private messages to
//! an account that is away. Each waits for the broker (and a password hash); input waits
//! meanwhile, so requests are answered in order.

use futures::FutureExt as _;
use protocol::{
    AccountEvent, ErrorCode, Nick, Password, RequestError, ServerMsg, Text, now_millis,
};
use uuid::Uuid;

use super::Session;
use super::backlog::Completion;
use crate::accounts::Waiting;
use crate::dialect::Dialect;

impl<D: Dialect> Session<D> {
    pub(super) fn register(&mut self, nick: Nick, password: Password) {
        let (broker, hub) = (self.broker.clone(), self.hub.clone());
        let (peer, logins) = (self.peer, self.info.logins.clone());
        self.account_request(AccountEvent::Registered, nick.clone(), async move {
            broker.register_account(&hub, &nick, &password, peer, &logins).await
        });
    }

    pub(super) fn passwd(
        &mut self,
        nick: Nick,
        old: Password,
        new: Password,
    ) -> Result<(), RequestError> {
        self.must_be_logged_in(&nick)?;
        let (broker, peer, logins) = (self.broker.clone(), self.peer, self.info.logins.clone());
        self.account_request(AccountEvent::PasswordChanged, nick.clone(), async move {
            broker.change_password(&nick, &old, &new, peer, &logins).await
        });
        Ok(())
    }

    pub(super) fn unregister(
        &mut self,
        nick: Nick,
        password: Password,
    ) -> Result<(), RequestError> {
        self.must_be_logged_in(&nick)?;
        let (broker, hub) = (self.broker.clone(), self.hub.clone());
        let (peer, logins) = (self.peer, self.info.logins.clone());
        self.account_request(AccountEvent::Unregistered, nick.clone(), async move {
            broker.delete_account(&hub, &nick, &password, peer, &logins).await
        });
        Ok(())
    }

    fn must_be_logged_in(&self, nick: &Nick) -> Result<(), RequestError> {
        if self.logged_in {
            return Ok(());
        }
        Err(RequestError::new(
            ErrorCode::NoAccount,
            format!(
                "{nick} is not an account you are logged in to; /register PASSWORD makes it one"
            ),
        ))
    }

    fn account_request(
        &mut self,
        event: AccountEvent,
        nick: Nick,
        work: impl Future<Output = Result<(), RequestError>> + Send + 'static,
    ) {
        self.awaiting = true;
        // In a task of its own: a session that ends meanwhile must not stop it half-way (the
        // account stored but not yet known to the hub, or the other way round).
        let work = tokio::spawn(work);
        self.queries.push(
            async move {
                let result = work.await.unwrap_or_else(|_| {
                    Err(RequestError::new(ErrorCode::ServerBusy, "the request failed; try again"))
                });
                Completion::Account { nick, event, result }
            }
            .boxed(),
        );
    }

    /// The rest of an account request.
    pub(super) fn account_changed(
        &mut self,
        nick: Nick,
        event: AccountEvent,
        result: Result<(), RequestError>,
    ) {
        let request = match event {
            AccountEvent::Registered => "register",
            AccountEvent::PasswordChanged => "passwd",
            AccountEvent::Unregistered => "unregister",
        };
        if let Err(error) = result {
            self.write(&error.for_request(request).to_msg());
            return;
        }
        // Input waited for the answer, so the nick is the one the request was for; only a
        // take-over (which ends this session) changes it meanwhile.
        if self.nick.as_ref().is_some_and(|now| now.key() == nick.key()) {
            match event {
                AccountEvent::Registered => self.set_logged_in(true),
                AccountEvent::Unregistered => {
                    self.set_logged_in(false);
                    self.drop_roles(&nick);
                }
                AccountEvent::PasswordChanged => {}
            }
        }
        self.write(&ServerMsg::Account { nick, event });
    }

    /// A private message: to whoever holds the nick, or kept for an account that is away.
    pub(super) fn private(&mut self, from: Nick, to: Nick, text: Text) -> Result<(), RequestError> {
        match self.hub.send_private(&from, self.logged_in, &to, text.clone()) {
            Ok(event) => {
                crate::metrics::private_message();
                self.write_event(&event);
                Ok(())
            }
            Err(error) if error.code == ErrorCode::NoSuchNick => {
                if self.broker.is_account_now(&self.hub, &to.key()) == Some(false) {
                    return Err(error);
                }
                let waiting = Waiting {
                    id: Uuid::now_v7(),
                    from,
                    account: self.logged_in,
                    to,
                    text,
                    ts: now_millis(),
                };
                let broker = self.broker.clone();
                self.awaiting = true;
                self.queries.push(
                    async move {
                        let echo = ServerMsg::Private {
                            id: waiting.id,
                            from: waiting.from.clone(),
                            to: waiting.to.clone(),
                            text: waiting.text.clone(),
                            ts: waiting.ts,
                            account: waiting.account,
                            offline: true,
                        };
                        let result = match broker.keep_offline(waiting).await {
                            Ok(true) => Ok(echo),
                            Ok(false) => Err(error),
                            Err(e) => Err(e),
                        };
                        Completion::Kept { result }
                    }
                    .boxed(),
                );
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// The rest of a private message to an account that is away: its acknowledgement, marked
    /// as kept, or why it was not.
    pub(super) fn kept(&mut self, result: Result<ServerMsg, RequestError>) {
        match result {
            Ok(echo) => {
                crate::metrics::private_message();
                self.write(&echo);
            }
            Err(error) => self.write(&error.for_request("msg").to_msg()),
        }
    }

    /// Something the server tells this client.
    pub(super) fn notice(&mut self, text: String) {
        self.write(&ServerMsg::Notice { id: Uuid::now_v7(), ts: now_millis(), text });
    }
}

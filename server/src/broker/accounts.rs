//! The broker's accounts: the same calls on both backends, and logging in, which is the same
//! on both once they are.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use protocol::{ErrorCode, Nick, NickKey, Password, RequestError, ServerMsg, now_millis};
use tracing::info;
use uuid::Uuid;

use super::{Answer, Broker};
use crate::accounts::{Account, Failures, Logins, Waiting, failures, password};
use crate::hub::{Claimed, Direct, Hub, ResumeHash};

/// A `hello` that asks for a nick.
pub struct Hello {
    pub nick: Nick,
    pub session: Uuid,
    /// The new session's own resume token, hashed.
    pub resume: ResumeHash,
    pub direct: Direct,
    /// An earlier session's resume token, shown to take its nick over.
    pub claim: Option<Uuid>,
    /// The account's password, to log in.
    pub password: Option<Password>,
    /// Where the connection comes from, for throttling failed logins.
    pub peer: IpAddr,
    pub logins: Arc<Logins>,
}

/// What a `hello` got: the nick, and for an account's owner what waited for them.
pub struct Welcome {
    pub claimed: Claimed,
    /// For the owner: failed logins since the last one; for a password given for a nick that
    /// is not an account, that it is not.
    pub notice: Option<String>,
    /// Private messages that waited for the account.
    pub waiting: Vec<ServerMsg>,
}

impl Broker {
    /// Claims `hello.nick` for a new session and registers it in `hub`: as a guest, with an
    /// earlier session's token, or logging in to the nick's account with its password.
    pub fn claim(&self, hub: &Arc<Hub>, hello: Hello) -> Answer<Welcome> {
        if let Self::Local(_) = self
            && hello.password.is_none()
            && !hub.is_account(&hello.nick.key())
        {
            let claimed = hub.claim_nick(
                &hello.nick,
                hello.session,
                hello.resume,
                hello.direct,
                hello.claim,
                false,
            );
            return Answer::Now(claimed.map(|claimed| Welcome {
                claimed,
                notice: None,
                waiting: Vec::new(),
            }));
        }
        let (broker, hub) = (self.clone(), hub.clone());
        Answer::Later(async move { broker.welcome(&hub, hello).await }.boxed())
    }

    async fn welcome(&self, hub: &Arc<Hub>, mut hello: Hello) -> Result<Welcome, RequestError> {
        let mut notice = None;
        let mut told_failures = None;
        let logged_in = match hello.password.take() {
            None => false,
            Some(password) => match self.account(&hello.nick.key()).await? {
                None => {
                    notice = Some(format!(
                        "{} is not a registered account, so the password was not used: you are a guest (/register PASSWORD makes it yours)",
                        hello.nick
                    ));
                    false
                }
                Some(_) => {
                    told_failures = self
                        .check_password(&hello.nick, &password, hello.peer, &hello.logins)
                        .await?;
                    true
                }
            },
        };
        let claimed = self.claim_in(hub, &hello, logged_in).await?;
        if logged_in {
            if let Some(told) = told_failures {
                notice = Some(told);
            }
            info!(nick = ?hello.nick.as_str(), "logged in");
        }
        let waiting = if claimed.account {
            self.take_offline(&hello.nick).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Welcome { claimed, notice, waiting })
    }

    /// Checks `password` against the account of `nick`, within the throttles. A failure is
    /// recorded with the account; a success clears the failures and returns what to tell the
    /// owner of them.
    async fn check_password(
        &self,
        nick: &Nick,
        password: &Password,
        peer: IpAddr,
        logins: &Logins,
    ) -> Result<Option<String>, RequestError> {
        let key = nick.key();
        // One check of an account at a time, reading its failures under its turn: parallel
        // guesses each add theirs rather than overwrite each other's.
        let _turn = logins.one_at_a_time(&key).await;
        let mut account = self.account(&key).await?.ok_or_else(|| no_account(nick))?;
        if let Some(wait) = account.failures.wait(peer, now_millis()) {
            return Err(throttled(wait, "this account from your address"));
        }
        logins.attempt(peer).map_err(|wait| throttled(wait, "your address"))?;
        if !password::verify(password, &account.hash).await? {
            account.failures.add(peer, now_millis());
            info!(account = ?account.nick.as_str(), from = crate::log_address::shown(failures::block(peer)), failures = account.failures.count, "failed login");
            self.set_failures(&key, &account.failures).await?;
            return Err(RequestError::new(
                ErrorCode::WrongPassword,
                format!("wrong password for {}", account.nick),
            ));
        }
        let told = account.failures.describe();
        if account.failures.count > 0 {
            self.set_failures(&key, &Failures::default()).await?;
        }
        Ok(told)
    }

    /// Claims the session's nick in the broker and the hub.
    async fn claim_in(
        &self,
        hub: &Arc<Hub>,
        hello: &Hello,
        logged_in: bool,
    ) -> Result<Claimed, RequestError> {
        match self {
            Self::Local(_) => hub.claim_nick(
                &hello.nick,
                hello.session,
                hello.resume,
                hello.direct.clone(),
                hello.claim,
                logged_in,
            ),
            Self::Redis(cluster) => {
                let claimed = cluster
                    .claim_for(
                        hello.nick.clone(),
                        hello.session,
                        hello.resume,
                        hello.claim,
                        logged_in,
                    )
                    .await?;
                hub.claim_granted(
                    &hello.nick,
                    hello.session,
                    hello.resume,
                    hello.direct.clone(),
                    claimed.how,
                )?;
                Ok(claimed)
            }
        }
    }

    /// Makes the nick of `session` an account with `password`, which it is then logged in to.
    pub async fn register_account(
        &self,
        hub: &Hub,
        nick: &Nick,
        password: &Password,
        peer: IpAddr,
        logins: &Logins,
    ) -> Result<(), RequestError> {
        password
            .strong_enough()
            .map_err(|e| RequestError::new(ErrorCode::WeakPassword, e.to_string()))?;
        if self.account(&nick.key()).await?.is_some() {
            return Err(account_exists(nick));
        }
        logins.register(peer).map_err(|wait| {
            let mut error = RequestError::new(
                ErrorCode::Flood,
                format!(
                    "too many new accounts from your address; try again in {} min",
                    wait.as_secs().div_ceil(60)
                ),
            );
            error.retry_after_ms = Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
            error
        })?;
        let hash = password::hash(password).await?;
        let created = match self {
            Self::Local(local) => local.accounts().create(nick, hash).await?,
            Self::Redis(cluster) => cluster.create_account(nick, &hash).await?,
        };
        if !created {
            return Err(account_exists(nick));
        }
        if let Self::Local(_) = self {
            hub.set_account(nick, true);
        }
        info!(account = ?nick.as_str(), "registered");
        Ok(())
    }

    /// Changes the password of the account of `nick`, given its current one.
    pub async fn change_password(
        &self,
        nick: &Nick,
        old: &Password,
        new: &Password,
        peer: IpAddr,
        logins: &Logins,
    ) -> Result<(), RequestError> {
        new.strong_enough()
            .map_err(|e| RequestError::new(ErrorCode::WeakPassword, e.to_string()))?;
        self.check_password(nick, old, peer, logins).await?;
        let hash = password::hash(new).await?;
        match self {
            Self::Local(local) => local.accounts().set_hash(&nick.key(), hash).await?,
            Self::Redis(cluster) => cluster.set_account_field(&nick.key(), "hash", &hash).await?,
        }
        info!(account = ?nick.as_str(), "password changed");
        Ok(())
    }

    /// Deletes the account of `nick`, given its password.
    pub async fn delete_account(
        &self,
        hub: &Hub,
        nick: &Nick,
        password: &Password,
        peer: IpAddr,
        logins: &Logins,
    ) -> Result<(), RequestError> {
        self.check_password(nick, password, peer, logins).await?;
        match self {
            Self::Local(local) => {
                local.accounts().delete(&nick.key()).await?;
                hub.set_account(nick, false);
            }
            Self::Redis(cluster) => cluster.delete_account(&nick.key()).await?,
        }
        info!(account = ?nick.as_str(), "unregistered");
        Ok(())
    }

    /// The account of `key`, if it is one.
    pub async fn account(&self, key: &NickKey) -> Result<Option<Account>, RequestError> {
        match self {
            Self::Local(local) => local.accounts().get(key).await,
            Self::Redis(cluster) => cluster.account(key).await,
        }
    }

    /// Whether `key` is an account's, if that is known without asking (a single node knows).
    pub fn is_account_now(&self, hub: &Hub, key: &NickKey) -> Option<bool> {
        match self {
            Self::Local(_) => Some(hub.is_account(key)),
            Self::Redis(_) => None,
        }
    }

    async fn set_failures(&self, key: &NickKey, failures: &Failures) -> Result<(), RequestError> {
        match self {
            Self::Local(local) => local.accounts().set_failures(key, failures).await,
            Self::Redis(cluster) => {
                cluster.set_account_field(key, "failures", &failures.encode()).await
            }
        }
    }

    /// Keeps a private message for an account that is away; `Ok(false)` if `message.to` is
    /// not an account.
    pub async fn keep_offline(&self, message: Waiting) -> Result<bool, RequestError> {
        match self {
            Self::Local(local) => local.accounts().keep(message).await,
            Self::Redis(cluster) => cluster.keep_offline(message).await,
        }
    }

    /// Takes the private messages waiting for the account of `to`, oldest first, once.
    pub async fn take_offline(&self, to: &Nick) -> Result<Vec<ServerMsg>, RequestError> {
        match self {
            Self::Local(local) => local.accounts().take(to).await,
            Self::Redis(cluster) => cluster.take_offline(to).await,
        }
    }
}

fn throttled(wait: Duration, whose: &str) -> RequestError {
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).saturating_add(1);
    let mut error = RequestError::new(
        ErrorCode::LoginThrottled,
        format!("too many failed logins for {whose}; try again in {} s", ms.div_ceil(1000)),
    );
    error.retry_after_ms = Some(ms);
    error
}

fn account_exists(nick: &Nick) -> RequestError {
    RequestError::new(ErrorCode::AccountExists, format!("{nick} is a registered account already"))
}

fn no_account(nick: &Nick) -> RequestError {
    RequestError::new(
        ErrorCode::NoAccount,
        format!("{nick} is not your account: log in to it, or /register PASSWORD to make it one"),
    )
}

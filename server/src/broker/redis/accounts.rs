//! Accounts across the nodes: one Redis hash each (`chat:account:<key>`), and a list of the
//! private messages waiting for it (`chat:offline:<key>`, expiring when none has been added
//! for [`OFFLINE_MESSAGE_DAYS`]). Nick claims and renames check the account in the same script
//! that takes the nick, so a registration on one node holds on every node at once.

use protocol::{Nick, NickKey, RequestError, ServerMsg, now_millis};
use redis::AsyncCommands;

use super::wire::keys;
use super::{Cluster, scripts};
use crate::accounts::{Account, Failures, Waiting, mailbox_full};
use crate::limits::{MAX_OFFLINE_MESSAGES, OFFLINE_MESSAGE_DAYS};

/// A waiting private message as the list holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    id: uuid::Uuid,
    from: Nick,
    #[serde(default)]
    account: bool,
    text: protocol::Text,
    ts: u64,
}

impl Cluster {
    pub async fn account(&self, key: &NickKey) -> Result<Option<Account>, RequestError> {
        let mut conn = self.conn.clone();
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(keys::account(key))
            .arg("nick")
            .arg("hash")
            .arg("failures")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("the account", &e))?;
        let [Some(nick), Some(hash), failures] = &fields[..] else { return Ok(None) };
        let Ok(nick) = Nick::parse(nick) else { return Ok(None) };
        let failures = Failures::decode(failures.as_deref().unwrap_or(""));
        Ok(Some(Account { nick, hash: hash.clone(), failures }))
    }

    /// Makes `nick` an account; `false` if its key is one already.
    pub async fn create_account(&self, nick: &Nick, hash: &str) -> Result<bool, RequestError> {
        let mut conn = self.conn.clone();
        let created: i64 = redis::cmd("EVAL")
            .arg(scripts::REGISTER)
            .arg(1)
            .arg(keys::account(&nick.key()))
            .arg(nick.as_str())
            .arg(hash)
            .arg(now_millis())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("register", &e))?;
        Ok(created == 1)
    }

    pub async fn set_account_field(
        &self,
        key: &NickKey,
        field: &str,
        value: &str,
    ) -> Result<(), RequestError> {
        let mut conn = self.conn.clone();
        // HSET only where the account still exists: a deleted one is not brought back.
        let script = r"if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 1";
        let _: i64 = redis::cmd("EVAL")
            .arg(script)
            .arg(1)
            .arg(keys::account(key))
            .arg(field)
            .arg(value)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("the account", &e))?;
        Ok(())
    }

    pub async fn delete_account(&self, key: &NickKey) -> Result<(), RequestError> {
        let mut conn = self.conn.clone();
        let _: i64 = conn
            .del(&[keys::account(key), keys::offline(key)])
            .await
            .map_err(|e| self.request_failed("unregister", &e))?;
        Ok(())
    }

    /// Keeps a private message for an account that is away; `Ok(false)` if there is no such
    /// account.
    pub async fn keep_offline(&self, message: Waiting) -> Result<bool, RequestError> {
        let key = message.to.key();
        let kept = Kept {
            id: message.id,
            from: message.from,
            account: message.account,
            text: message.text,
            ts: message.ts,
        };
        let json = serde_json::to_string(&kept).unwrap_or_default();
        let mut conn = self.conn.clone();
        let answer: i64 = redis::cmd("EVAL")
            .arg(scripts::KEEP_OFFLINE)
            .arg(2)
            .arg(keys::account(&key))
            .arg(keys::offline(&key))
            .arg(json)
            .arg(MAX_OFFLINE_MESSAGES)
            .arg(OFFLINE_MESSAGE_DAYS * 24 * 60 * 60 * 1000)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("msg", &e))?;
        match answer {
            1 => Ok(true),
            0 => Err(mailbox_full(&message.to)),
            _ => Ok(false),
        }
    }

    /// Takes the messages waiting for `to`, oldest first, once.
    pub async fn take_offline(&self, to: &Nick) -> Result<Vec<ServerMsg>, RequestError> {
        let mut conn = self.conn.clone();
        let all: Vec<String> = redis::cmd("EVAL")
            .arg(scripts::TAKE_OFFLINE)
            .arg(1)
            .arg(keys::offline(&to.key()))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("hello", &e))?;
        let oldest = now_millis().saturating_sub(OFFLINE_MESSAGE_DAYS * 24 * 60 * 60 * 1000);
        Ok(all
            .iter()
            .filter_map(|json| serde_json::from_str::<Kept>(json).ok())
            .filter(|kept| kept.ts >= oldest)
            .map(|kept| ServerMsg::Private {
                id: kept.id,
                from: kept.from,
                to: to.clone(),
                text: kept.text,
                ts: kept.ts,
                account: kept.account,
                offline: true,
            })
            .collect())
    }
}

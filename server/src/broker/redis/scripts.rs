//! The Lua scripts: each runs in Redis as one step, which is what makes an order per room and
//! a race for a nick decidable across nodes. Sent with `EVAL` (Redis caches the compiled
//! script by its hash), so a restarted Redis needs nothing loaded again.

/// A room message: the next sequence number, the stream entry with that number as its id
/// (trimmed to about `keep` entries), its id in the room's index (for `delete`), and the
/// publish to every node, in one step, so publish order is sequence order.
///
/// KEYS: seq, log, the set of rooms with history, ids, tombstones. ARGV: channel, room,
/// record json, keep, the message id's 16 bytes. Returns the sequence number.
///
/// If the counter was lost but the stream was not (a restore of part of the data), the entry
/// is numbered after the stream's last one instead of failing.
///
/// The index and the tombstones follow the stream's trimming: ids below its first entry go
/// (every 64 messages: a stale one only costs `delete` a look), and so do tombstones below
/// both its first entry and the last `keep` numbers, so that what history shows of a room
/// stays one unbroken run (a tombstone is only ever dropped from the old end).
pub const SAY: &str = r"
local seq = redis.call('INCR', KEYS[1])
local ok = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'm', ARGV[3])
if type(ok) == 'table' and ok.err then
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  local top = 0
  if last[1] then top = tonumber(string.match(last[1][1], '^(%d+)')) end
  seq = top + 1
  redis.call('SET', KEYS[1], seq)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'm', ARGV[3])
end
redis.call('ZADD', KEYS[4], seq, ARGV[5])
local gone = redis.call('EXISTS', KEYS[5]) == 1
if gone or seq % 64 == 0 then
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  local from = seq
  if first[1] then from = tonumber(string.match(first[1][1], '^(%d+)')) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. from)
  if gone then
    local cut = seq - tonumber(ARGV[4]) + 1
    if from < cut then cut = from end
    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. cut)
  end
end
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('PUBLISH', ARGV[1], 'm' .. seq .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
return seq
";

/// Forgets a room whose stream pruning by age emptied: the stream's key goes, and the room
/// leaves the set of rooms with history, in one step, so a message said meanwhile (which
/// makes the stream non-empty again) is never lost with it. The counter stays: the room
/// numbers on if it comes back.
///
/// KEYS: log, the set of rooms with history. ARGV: room. Returns 1 if forgotten.
pub const FORGET_EMPTY: &str = r"
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
";

/// Deletes a message, if it is the room's and the requester may: its stream entry removed
/// (the text gone from Redis), its id dropped from the index, its tombstone (the record
/// without the text, who deleted it, when) kept by `seq`, and the deletion published, in one
/// step after everything the room had before. Returns `{ok, seq}`, `{none, 0}` (no such
/// message, or deleted already) or `{denied, 0}` (someone else's, and no operator asks).
///
/// Own is by the record's sender key (`k`); a record sent logged in needs the requester
/// logged in too.
///
/// KEYS: ids, log, tombstones. ARGV: channel, room, the id's 16 bytes, the requester's key,
/// `1` if logged in, `1` if it may delete anyone's, its nick as a JSON string, now (ms), the
/// published deletion's json.
pub const DELETE: &str = r#"
local score = redis.call('ZSCORE', KEYS[1], ARGV[3])
if not score then return {'none', 0} end
local seq = tonumber(score)
local sid = string.format('%d', seq) .. '-0'
local found = redis.call('XRANGE', KEYS[2], sid, sid)
local record
if found[1] then
  local fields = found[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'm' then record = fields[i + 1] end
  end
end
if not record then
  redis.call('ZREM', KEYS[1], ARGV[3])
  return {'none', 0}
end
local ok, m = pcall(cjson.decode, record)
if not ok or type(m) ~= 'table' or type(m.ts) ~= 'number' then return {'none', 0} end
if ARGV[6] ~= '1' and (m.k ~= ARGV[4] or (m.account == true and ARGV[5] ~= '1')) then
  return {'denied', 0}
end
redis.call('XDEL', KEYS[2], sid)
redis.call('ZREM', KEYS[1], ARGV[3])
local tomb = '{"id":' .. cjson.encode(m.id) .. ',"from":' .. cjson.encode(m.from)
if m.account == true then tomb = tomb .. ',"account":true' end
tomb = tomb .. ',"ts":' .. string.format('%d', m.ts) .. ',"by":' .. ARGV[7] .. ',"at":' .. ARGV[8] .. '}'
redis.call('ZADD', KEYS[3], seq, tomb)
redis.call('PUBLISH', ARGV[1], 'd' .. string.format('%d', seq) .. ' ' .. ARGV[2] .. ' ' .. ARGV[9])
return {'ok', seq}
"#;

/// Keeps a room's counter at least at `ARGV[1]` (after Redis lost data).
///
/// KEYS: seq.
pub const SEQ_AT_LEAST: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
";

/// A presence event: the room's member hash changed (an entry removed, if still the
/// session's, so a late leave cannot remove a newer session of the same nick; an entry added),
/// then the event published.
///
/// KEYS: members, active rooms. ARGV: channel, payload (or '' to publish nothing), room,
/// field to remove (or ''), session, field to add (or ''), its entry, and `if-removed` to
/// publish only if the entry was there (announcing another node's member gone: two nodes
/// doing it at once announce it once).
pub const PRESENCE: &str = r"
if ARGV[4] ~= '' then
  local cur = redis.call('HGET', KEYS[1], ARGV[4])
  if cur and string.find(cur, ARGV[5], 1, true) then
    redis.call('HDEL', KEYS[1], ARGV[4])
  elseif ARGV[8] == 'if-removed' then
    return 0
  end
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[6], ARGV[7])
  redis.call('SADD', KEYS[2], ARGV[3])
elseif redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[3])
end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return 1
";

/// Claims a nick: free, or held/kept for the resume token shown, or (`login`) an account's
/// nick for its owner, who takes it from whoever holds it. A registered nick goes to nobody
/// else. Returns `{new, '', account}`, `{was, previous owner, account}` (taken over or
/// reclaimed), `{busy, owner}`, or `{registered, account's nick}`; `account` is `1` when the
/// nick is an account's (the session is then logged in).
///
/// KEYS: nick, the node's nick set, account. ARGV: owner value, resume token shown (or ''),
/// nick key, `login` or `guest`.
pub const CLAIM: &str = r"
local account = redis.call('HGET', KEYS[3], 'nick')
local cur = redis.call('GET', KEYS[1])
local login = ARGV[4] == 'login'
local shown = false
if cur then
  local token = string.match(cur, '^%a+|[^|]*|[^|]*|([^|]*)|')
  shown = ARGV[2] ~= '' and token == ARGV[2]
end
if account and not login and not shown then return {'registered', account, '0'} end
if cur and not shown and not login then return {'busy', cur, '0'} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
local flag = account and '1' or '0'
if cur then return {'was', cur, flag} end
return {'new', '', flag}
";

/// Makes a nick an account if its key is not one: `1`, or `0` if it is.
///
/// KEYS: account. ARGV: nick, password hash, now (ms).
pub const REGISTER: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'nick', ARGV[1], 'hash', ARGV[2], 'created', ARGV[3], 'failures', '')
return 1
";

/// Keeps a private message for an account that is away: `1`, `0` if as many as allowed wait
/// already, `-1` if there is no such account (it was just deleted).
///
/// KEYS: account, offline list. ARGV: message json, most kept, time to keep (ms).
pub const KEEP_OFFLINE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
";

/// Takes the private messages waiting for an account, once.
///
/// KEYS: offline list.
pub const TAKE_OFFLINE: &str = r"
local all = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return all
";

/// Lets go of a nick a session held: frees it, or keeps it for the session's resume token for
/// a while. Only if the nick is still that session's (it may have been taken over).
///
/// KEYS: nick, the node's nick set. ARGV: owner value, keep for ms (0: free), kept value,
/// nick key.
pub const RELEASE: &str = r"
redis.call('SREM', KEYS[2], ARGV[4])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Moves a session from one nick to another if the new one is free and the old one still its.
/// Returns `ok`, `{busy, owner}`, or `lost`.
///
/// A new nick that is another account's is refused (`{registered, its nick}`).
///
/// KEYS: old nick, new nick, the node's nick set, the new nick's account. ARGV: old owner
/// value, new owner value, old key, new key.
pub const RENAME: &str = r"
if KEYS[1] ~= KEYS[2] then
  local account = redis.call('HGET', KEYS[4], 'nick')
  if account then return {'registered', account} end
end
local cur = redis.call('GET', KEYS[2])
if cur and KEYS[1] ~= KEYS[2] then return {'busy', cur} end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost', ''} end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
return {'ok', ''}
";

/// A session's away message kept in its node's hash (or taken out, for '') and, unless the
/// payload is '', the change published.
///
/// KEYS: the node's away hash. ARGV: session, away message (or ''), channel, payload (or '').
pub const AWAY: &str = r"
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
";

/// A node's away messages, whole: its hash made again from them.
///
/// KEYS: the node's away hash. ARGV: session and away message pairs.
pub const AWAY_ALL: &str = r"
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
";

/// Frees the nicks of a dead node that are still its own.
///
/// KEYS: the node's nick set. ARGV: the node id. Returns how many were freed.
pub const REAP_NICKS: &str = r"
local freed = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local nick = 'chat:nick:' .. key
  local cur = redis.call('GET', nick)
  if cur and string.sub(cur, 1, 6 + #ARGV[1]) == 'live|' .. ARGV[1] .. '|' then
    redis.call('DEL', nick)
    freed = freed + 1
  end
end
redis.call('DEL', KEYS[1])
return freed
";

/// A moderation act: the room's settings hash changed (fields set, or removed where the value
/// is ''), the set of rooms with settings kept up to date, and the act published, in one
/// step, so every node applies acts in the order they were stored. With a guard field, nothing
/// happens if the hash has it (a claim of a room that has an owner): returns 0.
///
/// KEYS: settings, the set of scopes with settings. ARGV: channel, payload, scope, guard field
/// (or ''), then field and value pairs.
pub const ACT: &str = r"
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 then return 0 end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[3])
else
  redis.call('SREM', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
";

//! The plain-text port's lines for what rooms' operators do and what a room is: member lists
//! with role marks, topics, modes, moderation events and ban lists.

use protocol::{ServerMsg, describe, sanitize};

/// The lines of `msg`, if it is one of these.
pub(super) fn render(msg: &ServerMsg) -> Option<Vec<String>> {
    Some(match msg {
        ServerMsg::Members { room, nicks, roles, after, more, away } => {
            let marked: Vec<String> = nicks
                .iter()
                .map(|n| {
                    let mark = roles.get(n).map_or("", |r| r.mark());
                    match away.get(n) {
                        Some(text) => format!("{mark}{n} (away: {})", sanitize(text.as_str())),
                        None => format!("{mark}{n}"),
                    }
                })
                .collect();
            let heading = if after.is_some() { "More members" } else { "Members" };
            let mut lines = vec![format!("[{room}] {heading}: {}", marked.join(", "))];
            if let (true, Some(last)) = (*more, nicks.last()) {
                lines.push(format!("[{room}] ... and more: /who {room} {last}"));
            }
            lines
        }
        ServerMsg::Topic { room, topic: Some(topic) } => vec![format!(
            "[{room}] Topic: {} (set by {}, {})",
            sanitize(topic.text.as_str()),
            topic.by,
            super::plain::when(topic.ts)
        )],
        ServerMsg::Topic { room, topic: None } => vec![format!("[{room}] No topic is set.")],
        ServerMsg::Modes { room, modes, owner } => {
            let owner =
                owner.as_ref().map_or_else(|| "no owner".to_owned(), |o| format!("owner {o}"));
            vec![format!(
                "[{room}] Modes: {} ({}); {owner}",
                modes.letters(),
                describe::mode_words(modes)
            )]
        }
        ServerMsg::Moderation { room, by, action, ts, .. } => {
            vec![format!("[{room}] *** {}", describe::moderation(by, action, *ts))]
        }
        ServerMsg::Bans { room, bans } => {
            let place = room.as_ref().map_or_else(|| "[server]".to_owned(), |r| format!("[{r}]"));
            if bans.is_empty() {
                return Some(vec![format!("{place} No bans.")]);
            }
            bans.iter()
                .map(|ban| {
                    let until = ban.until.map_or_else(
                        || "until lifted".to_owned(),
                        |u| format!("until {}", super::plain::when(u)),
                    );
                    let reason = ban
                        .reason
                        .as_ref()
                        .map_or(String::new(), |r| format!(": {}", sanitize(r.as_str())));
                    format!(
                        "{place} Ban {} by {}, {}, {until}{reason}",
                        ban.mask,
                        ban.by,
                        super::plain::when(ban.ts)
                    )
                })
                .collect()
        }
        _ => return None,
    })
}

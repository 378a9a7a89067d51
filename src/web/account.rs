//! The account page: the signed-in person's connected applications, each
//! with a revoke button, and a "revoke all" button. Rendered by askama
//! (escaped), with the same headers as every page (`frame-ancestors 'none'`,
//! nothing loaded from elsewhere).

use askama::Template;

use super::render;
use crate::http::Reply;
use crate::oauth::view::ConnectionsView;

/// One row of the page, already in words.
struct Row {
    grant_id: String,
    name: String,
    host: String,
    client_id: String,
    scopes: String,
    resource: String,
    /// When it was connected, last refreshed, and expires, in words.
    times: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    login: &'a str,
    rows: Vec<Row>,
    csrf: &'a str,
    notice: Option<String>,
    /// Grants of this page that could not be read just now.
    unreadable: usize,
    /// The next page's link, if there is one.
    next: Option<String>,
    /// Whether this is a later page (a link back to the first).
    paged: bool,
    /// Whether to offer "Revoke all" (anything listed, or more to end).
    revoke_all: bool,
}

/// What the request asked and what the last action did, for the page's
/// notices.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Connections just revoked.
    pub revoked: Option<usize>,
    /// "Revoke all" stopped with grants left.
    pub left: bool,
    /// Of which this many could not be revoked just now.
    pub failed: usize,
    /// This is a later page (`?cursor=`).
    pub paged: bool,
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian calendar).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The page for a signed-in user: one page of their grants.
pub fn connections(login: &str, page: &ConnectionsView, csrf: &str, outcome: Outcome) -> Reply {
    let rows: Vec<Row> = page
        .connections
        .iter()
        .map(|g| Row {
            grant_id: g.grant_id.clone(),
            name: g
                .client_name
                .clone()
                .unwrap_or_else(|| "An unnamed application".to_owned()),
            host: g.client_host.clone(),
            client_id: g.client_id.clone(),
            scopes: g.scope.join(" "),
            resource: g.resource.clone(),
            times: format!(
                "Connected {} · last refreshed {} · expires {}",
                utc(g.connected_at),
                g.last_refreshed_at
                    .map(utc)
                    .unwrap_or_else(|| "never".to_owned()),
                utc(g.expires_at)
            ),
        })
        .collect();
    let mut notice = outcome.revoked.map(|n| match n {
        0 if !outcome.left => "Nothing was revoked: that connection had already ended.".to_owned(),
        1 => "1 connection was revoked.".to_owned(),
        n => format!("{n} connections were revoked."),
    });
    if outcome.left {
        let why = match outcome.failed {
            0 => format!("at most {} are revoked per request", page.page_size),
            1 => "1 could not be revoked just now".to_owned(),
            n => format!("{n} could not be revoked just now"),
        };
        notice = Some(format!(
            "{} Some connections remain ({why}): press \u{201c}Revoke all\u{201d} again to continue.",
            notice.unwrap_or_default()
        ).trim_start().to_owned());
    }
    let revoke_all =
        !rows.is_empty() || !page.unreadable.is_empty() || page.next.is_some() || outcome.left;
    render(
        200,
        AccountPage {
            login,
            rows,
            csrf,
            notice,
            unreadable: page.unreadable.len(),
            next: page.next.clone(),
            paged: outcome.paged,
            revoke_all,
        }
        .render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_time_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_750_000_000), "2025-06-15 15:06 UTC");
    }
}

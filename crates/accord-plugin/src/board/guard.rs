//! What the board refuses before it does anything, because it is a local server that
//! writes with the caller's credentials: a request for another `Host` (DNS rebinding),
//! a write without this process's CSRF token or from another origin, and a link that is
//! not `http`/`https`. Pure, so every refusal is unit-tested.

use std::net::SocketAddr;

/// The `Host` values this board answers to: the address it is bound to, and, when that
/// is loopback, `localhost` and the other loopback spellings with the same port. A
/// page on `evil.example` that resolves to 127.0.0.1 sends `Host: evil.example:PORT`,
/// and is refused.
#[derive(Debug, Clone)]
pub struct Hosts {
    allowed: Vec<String>,
    /// The `--allow-host` names: the only ones a TLS-terminating proxy may serve.
    extra: Vec<String>,
}

impl Hosts {
    /// The hosts for a board bound to `bound`. `extra` are names the caller allowed with
    /// `--allow-host` (for a board behind a tunnel or reverse proxy).
    pub fn for_address(bound: SocketAddr, extra: &[String]) -> Hosts {
        let port = bound.port();
        let mut allowed = vec![bound.to_string()];
        if bound.ip().is_loopback() {
            allowed.extend([
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
                format!("[::1]:{port}"),
            ]);
        }
        let extra: Vec<String> = extra.iter().map(|h| h.to_ascii_lowercase()).collect();
        allowed.extend(extra.iter().cloned());
        allowed.dedup();
        Hosts { allowed, extra }
    }

    /// Whether a request with this `Host` header is for this board. A missing header
    /// is refused too: every browser sends one.
    pub fn allows(&self, host: Option<&str>) -> bool {
        host.is_some_and(|h| self.allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    /// The origins a write may come from: `http://HOST` for this board's hosts, and
    /// `https://HOST` for an `--allow-host` name (a proxy that terminates TLS).
    pub fn allows_origin(&self, origin: &str) -> bool {
        if let Some(host) = origin.strip_prefix("http://") {
            return self.allows(Some(host));
        }
        origin
            .strip_prefix("https://")
            .is_some_and(|host| self.extra.iter().any(|e| e.eq_ignore_ascii_case(host)))
    }
}

/// A secret made when the process starts, put in every form, and required on every
/// write. Another page cannot read it (same-origin policy), and another board process
/// has its own, so a token from one board is worth nothing at another.
#[derive(Clone)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// 32 random bytes, hex.
    pub fn generate() -> CsrfToken {
        let bytes: [u8; 32] = rand::random();
        CsrfToken(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The token of one person at a board many people share (in the cluster, behind a
    /// proxy): HMAC-SHA256 of their user name under this process's token, so no person
    /// can use the token of their own page against another's.
    pub fn for_user(&self, user: &str) -> CsrfToken {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(user.as_bytes());
        let bytes = mac.finalize().into_bytes();
        CsrfToken(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A fixed token, for tests.
    pub fn fixed(token: &str) -> CsrfToken {
        CsrfToken(token.to_string())
    }

    /// The token, for the forms.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `sent` is this token, compared in constant time.
    pub fn matches(&self, sent: Option<&str>) -> bool {
        let Some(sent) = sent else { return false };
        let (a, b) = (self.0.as_bytes(), sent.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken(…)")
    }
}

/// The local board's login: a secret printed only in the terminal that started it,
/// traded once per browser for a session cookie (HttpOnly, SameSite=Strict). Another
/// account on the same machine can reach the port, but not the secret, so it cannot
/// use the board to act as you (a Jupyter-style token).
#[derive(Clone)]
pub struct Session {
    login: CsrfToken,
    cookie: CsrfToken,
    name: String,
}

impl Session {
    /// A fresh login secret and session for the board on `port` (the cookie's name
    /// carries the port: cookies are shared by every port of a host).
    pub fn generate(port: u16) -> Session {
        Session {
            login: CsrfToken::generate(),
            cookie: CsrfToken::generate(),
            name: format!("accord-board-{port}"),
        }
    }

    /// Fixed secrets, for tests.
    pub fn fixed(login: &str, cookie: &str, port: u16) -> Session {
        Session {
            login: CsrfToken::fixed(login),
            cookie: CsrfToken::fixed(cookie),
            name: format!("accord-board-{port}"),
        }
    }

    /// The path that logs a browser in: `/login/<secret>`.
    pub fn login_path(&self) -> String {
        format!("/login/{}", self.login.as_str())
    }

    /// Whether `sent` is the login secret (constant time).
    pub fn login_matches(&self, sent: &str) -> bool {
        self.login.matches(Some(sent))
    }

    /// The `Set-Cookie` value that gives a browser the session.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.name,
            self.cookie.as_str()
        )
    }

    /// Whether a `Cookie` header carries the session.
    pub fn admits(&self, cookie_header: Option<&str>) -> bool {
        cookie_header
            .into_iter()
            .flat_map(|h| h.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| name == self.name && self.cookie.matches(Some(value)))
    }
}

/// Why a write was refused before it reached the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRefusal {
    /// The form carried no token, or not this board's.
    Token,
    /// The browser says the request came from another site.
    CrossSite(String),
}

impl std::fmt::Display for WriteRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteRefusal::Token => f.write_str(
                "refused: this form did not come from this board (its CSRF token is missing or \
                 belongs to another board process); reload the page and sign again",
            ),
            WriteRefusal::CrossSite(from) => write!(
                f,
                "refused: the request came from another site ({from}); sign off from the board's own page"
            ),
        }
    }
}

/// Whether a write may go on: this process's token, and no browser header saying it
/// came from elsewhere (`Origin`, `Sec-Fetch-Site`). Tools that send neither header
/// (curl) still need the token.
pub fn check_write(
    token: &CsrfToken,
    hosts: &Hosts,
    sent_token: Option<&str>,
    origin: Option<&str>,
    fetch_site: Option<&str>,
) -> Result<(), WriteRefusal> {
    if let Some(origin) = origin
        && !hosts.allows_origin(origin)
    {
        return Err(WriteRefusal::CrossSite(origin.to_string()));
    }
    if let Some(site) = fetch_site
        && !matches!(site, "same-origin" | "none")
    {
        return Err(WriteRefusal::CrossSite(format!("Sec-Fetch-Site: {site}")));
    }
    if token.matches(sent_token) {
        Ok(())
    } else {
        Err(WriteRefusal::Token)
    }
}

/// The link to render for evidence a person wrote: only an absolute `http` or `https`
/// URL becomes a link; anything else (`javascript:`, `data:`, relative paths) is shown
/// as text.
pub fn safe_href(url: &str) -> Option<&str> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let ok = (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !rest.is_empty()
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Hosts {
        Hosts::for_address("127.0.0.1:7180".parse().unwrap(), &[])
    }

    #[test]
    fn only_the_bound_address_and_loopback_names_are_this_board() {
        let h = hosts();
        for ok in [
            "127.0.0.1:7180",
            "localhost:7180",
            "LOCALHOST:7180",
            "[::1]:7180",
        ] {
            assert!(h.allows(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.example:7180",
            "127.0.0.1:7181",
            "localhost",
            "127.0.0.1",
            "localhost.evil.example:7180",
        ] {
            assert!(!h.allows(Some(refused)), "{refused}");
        }
        assert!(!h.allows(None));
        let wide = Hosts::for_address("10.0.0.5:80".parse().unwrap(), &["Board.Corp:443".into()]);
        assert!(wide.allows(Some("10.0.0.5:80")) && wide.allows(Some("board.corp:443")));
        assert!(!wide.allows(Some("localhost:80")), "not loopback");
    }

    #[test]
    fn writes_need_this_token_and_no_foreign_origin() {
        let (t, h) = (CsrfToken::fixed("abc123"), hosts());
        assert_eq!(check_write(&t, &h, Some("abc123"), None, None), Ok(()));
        assert_eq!(
            check_write(
                &t,
                &h,
                Some("abc123"),
                Some("http://127.0.0.1:7180"),
                Some("same-origin")
            ),
            Ok(())
        );
        assert_eq!(
            check_write(&t, &h, None, None, None),
            Err(WriteRefusal::Token)
        );
        assert_eq!(
            check_write(&t, &h, Some("abc124"), None, None),
            Err(WriteRefusal::Token)
        );
        assert_eq!(
            check_write(&t, &h, Some("abc1234"), None, None),
            Err(WriteRefusal::Token)
        );
        assert!(matches!(
            check_write(
                &t,
                &h,
                Some("abc123"),
                Some("http://evil.example:7180"),
                None
            ),
            Err(WriteRefusal::CrossSite(_))
        ));
        assert!(matches!(
            check_write(&t, &h, Some("abc123"), None, Some("cross-site")),
            Err(WriteRefusal::CrossSite(_))
        ));
        assert!(matches!(
            check_write(&t, &h, Some("abc123"), Some("null"), None),
            Err(WriteRefusal::CrossSite(_))
        ));
        let proxied =
            Hosts::for_address("0.0.0.0:7180".parse().unwrap(), &["board.corp:443".into()]);
        assert_eq!(
            check_write(
                &t,
                &proxied,
                Some("abc123"),
                Some("https://board.corp:443"),
                Some("same-origin")
            ),
            Ok(()),
            "behind a TLS proxy the browser's origin is https"
        );
        assert!(matches!(
            check_write(
                &t,
                &proxied,
                Some("abc123"),
                Some("https://evil.corp:443"),
                None
            ),
            Err(WriteRefusal::CrossSite(_))
        ));
    }

    #[test]
    fn two_boards_have_different_tokens() {
        let (a, b) = (CsrfToken::generate(), CsrfToken::generate());
        assert_eq!(a.as_str().len(), 64);
        assert!(!a.matches(Some(b.as_str())) && a.matches(Some(a.as_str())));
        assert_eq!(format!("{a:?}"), "CsrfToken(…)", "never logged");
        let (alice, bob) = (a.for_user("alice"), a.for_user("bob"));
        assert_ne!(alice.as_str(), bob.as_str());
        assert_eq!(
            alice.as_str(),
            a.for_user("alice").as_str(),
            "stable per person"
        );
        assert!(
            !alice.matches(Some(b.for_user("alice").as_str())),
            "per process"
        );
    }

    #[test]
    fn the_session_is_given_for_the_login_secret_and_checked_by_cookie() {
        let s = Session::fixed("l0g1n", "c00k1e", 7180);
        assert_eq!(s.login_path(), "/login/l0g1n");
        assert!(s.login_matches("l0g1n") && !s.login_matches("l0g1m") && !s.login_matches(""));
        assert_eq!(
            s.set_cookie(),
            "accord-board-7180=c00k1e; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(s.admits(Some("a=b; accord-board-7180=c00k1e")));
        for refused in [
            None,
            Some(""),
            Some("accord-board-7180=c00k1f"),
            Some("accord-board-7181=c00k1e"),
            Some("accord-board-7180"),
        ] {
            assert!(!s.admits(refused), "{refused:?}");
        }
        let (a, b) = (Session::generate(1), Session::generate(1));
        assert_ne!(a.login_path(), b.login_path());
        assert!(!a.admits(Some(b.set_cookie().split(';').next().unwrap())));
    }

    #[test]
    fn only_http_and_https_evidence_is_a_link() {
        assert_eq!(safe_href("https://ci/run/1"), Some("https://ci/run/1"));
        assert_eq!(safe_href("HTTP://ci/1"), Some("HTTP://ci/1"));
        for text in [
            "javascript:alert(1)",
            "JavaScript://%0aalert(1)",
            "data:text/html,<script>",
            "/relative",
            "ci/run/1",
            "https://",
            "https://a b",
            "vbscript:x",
        ] {
            assert_eq!(safe_href(text), None, "{text}");
        }
    }
}

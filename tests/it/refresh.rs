//! RFC 6749 §6 refresh with rotation and reuse detection (RFC 9700 §4.14.2): each refresh
//! token works once, and a second use kills its whole family. A token unused for
//! `tokens.refresh_token_idle_lifetime` expires; a family ends `tokens.refresh_token_lifetime`
//! after its first token, however busy.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::both_stores;
use crate::fixtures::{ORDERS, USER, confidential_client, public_spa_client, resources};
use crate::flows::{
    assert_error, code_flow_tokens, is_active, refresh, str_of, token, token_request,
    validate_id_token,
};
use crate::harness::{Client, TestDb, TestServer, count, jwt_claims, send};

async fn rotation_detects_reuse_and_kills_the_family(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    let id1 = jwt_claims(str_of(&first, "id_token"));

    // A refresh gives a new access token, a new refresh token of the same grant, and a new ID
    // token for the same authentication, without the nonce (OIDC Core §12.2).
    let (status, second) = refresh(&server, &web, r1, &[]).await;
    assert_eq!(status, 200, "{second}");
    let r2 = str_of(&second, "refresh_token");
    assert_ne!(r1, r2);
    assert_eq!(second["scope"], "openid offline_access");
    let id2 = validate_id_token(&server, &web, &second, None, Algorithm::RS256).await;
    assert_eq!(id2["auth_time"], id1["auth_time"]);
    let a2 = str_of(&second, "access_token");
    assert_eq!(jwt_claims(a2)["sub"], USER);
    assert_eq!(
        jwt_claims(a2)["grant_id"],
        jwt_claims(str_of(&first, "access_token"))["grant_id"]
    );
    // The spent token is no longer active; the new one works once.
    assert!(!is_active(&server, &web, r1).await);
    let (status, third) = refresh(&server, &web, r2, &[]).await;
    assert_eq!(status, 200, "{third}");
    let (r3, a3) = (
        str_of(&third, "refresh_token"),
        str_of(&third, "access_token"),
    );
    assert!(is_active(&server, &web, r3).await && is_active(&server, &web, a3).await);

    // RFC 9700 §4.14.2: the old token replayed is refused and the whole family dies: the
    // newest refresh token and every access token the grant produced.
    let (status, body) = refresh(&server, &web, r1, &[]).await;
    assert_error(status, &body, "invalid_grant", "replayed refresh token");
    for dead in [r3, a3, a2, str_of(&first, "access_token")] {
        assert!(!is_active(&server, &web, dead).await);
    }
    let (status, body) = refresh(&server, &web, r3, &[]).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "newest refresh token of a dead family",
    );
    // Another grant of the same user and client is untouched.
    let other = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let (status, body) = refresh(&server, &web, str_of(&other, "refresh_token"), &[]).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn scope_may_narrow_never_widen(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let first = code_flow_tokens(&server, &web, "openid offline_access read", &[ORDERS]).await;
    let r1 = str_of(&first, "refresh_token");

    // RFC 6749 §6: a wider scope is invalid_scope, and the token is not spent by the mistake.
    let (status, body) = refresh(&server, &web, r1, &[("scope", "read write")]).await;
    assert_error(status, &body, "invalid_scope", "escalation");
    // A narrower scope is fine: this access token has only it, and no ID token without openid.
    let (status, narrow) = refresh(&server, &web, r1, &[("scope", "read")]).await;
    assert_eq!(status, 200, "{narrow}");
    assert_eq!(narrow["scope"], "read");
    assert!(narrow["id_token"].is_null(), "{narrow}");
    let claims = jwt_claims(str_of(&narrow, "access_token"));
    assert_eq!(
        (&claims["scope"], &claims["aud"]),
        (&json!("read"), &json!(ORDERS))
    );
    // §6: the new refresh token keeps the scope originally granted; none asked is all of it.
    let (status, full) = refresh(&server, &web, str_of(&narrow, "refresh_token"), &[]).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["scope"], "openid offline_access read");
    assert!(full["id_token"].is_string());
    server.stop().await;
}

async fn refresh_token_belongs_to_its_client(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let other = confidential_client(&server, "other web app", json!({})).await;
    let spa = public_spa_client(&server).await;
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    // RFC 6749 §6: bound to the client it was issued to, confidential or public.
    for thief in [&other, &spa] {
        let (status, body) = refresh(&server, thief, r1, &[]).await;
        assert_error(status, &body, "invalid_grant", &thief.id);
    }
    // The owner's token was not spent by the attempt.
    let (status, body) = refresh(&server, &web, r1, &[]).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

async fn public_client_rotates_too(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let spa = public_spa_client(&server).await;
    let first = code_flow_tokens(&server, &spa, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    let (status, second) = refresh(&server, &spa, r1, &[]).await;
    assert_eq!(status, 200, "{second}");
    let r2 = str_of(&second, "refresh_token");
    let (status, body) = refresh(&server, &spa, r1, &[]).await;
    assert_error(status, &body, "invalid_grant", "public client replay");
    let (status, body) = refresh(&server, &spa, r2, &[]).await;
    assert_error(status, &body, "invalid_grant", "public client family");
    server.stop().await;
}

async fn refresh_errors(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    let (status, body) = token(&server, &web, &[("grant_type", "refresh_token")]).await;
    assert_error(status, &body, "invalid_request", "missing refresh_token");
    let (status, body) = refresh(&server, &web, "never-issued", &[]).await;
    assert_error(status, &body, "invalid_grant", "unknown refresh token");
    // RFC 8707 §2.2: only resources of the original grant.
    let (status, body) = refresh(&server, &web, r1, &[("resource", ORDERS)]).await;
    assert_error(status, &body, "invalid_target", "resource not granted");
    // Expired after tokens.refresh_token_lifetime.
    let lifetime = server.state.config.tokens.refresh_token_lifetime as i64;
    server.state.clock.advance(lifetime + 1);
    let (status, body) = refresh(&server, &web, r1, &[]).await;
    assert_error(status, &body, "invalid_grant", "expired refresh token");
    server.stop().await;
}

async fn concurrent_refreshes_have_at_most_one_winner(db: TestDb) {
    let server = TestServer::start(&db).await;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", r1)];
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(send(token_request(&server, &web, &form))))
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => winners.push(body),
            _ => assert_error(status, &body, "invalid_grant", "a losing refresh"),
        }
    }
    // At most one: the take's winner checks the deny-list after its take, and a loser's
    // replay may have revoked the grant by then (tests/it/races.rs).
    assert!(winners.len() <= 1, "{winners:?}");
    // The losers were replays: the winner's family is dead too.
    for winner in &winners {
        let (status, body) = refresh(&server, &web, str_of(winner, "refresh_token"), &[]).await;
        assert_error(status, &body, "invalid_grant", "winner after replays");
    }
    server.stop().await;
}

/// The refresh token's `exp` as introspection reports it (`None`: inactive).
async fn expiry(server: &TestServer, client: &Client, refresh_token: &str) -> Option<i64> {
    let (status, info) = server.introspect(client, refresh_token).await;
    assert_eq!(status, 200, "{info}");
    (info["active"] == json!(true)).then(|| info["exp"].as_i64().expect("exp"))
}

async fn idle_lifetime_expires_unused_tokens(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let clock = &server.state.clock;
    let idle = server.state.config.tokens.refresh_token_idle_lifetime as i64;
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;

    // Used within its idle window, a token works, and the new one has a fresh idle window
    // that reaches past the old one's end.
    let t0 = server.state.now();
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let r1 = str_of(&first, "refresh_token");
    assert_eq!(expiry(&server, &web, r1).await, Some(t0 + idle));
    clock.advance(idle - 1);
    let (status, second) = refresh(&server, &web, r1, &[]).await;
    assert_eq!(status, 200, "{second}");
    let r2 = str_of(&second, "refresh_token");
    assert_eq!(expiry(&server, &web, r2).await, Some(t0 + 2 * idle - 1));
    clock.advance(idle - 1);
    let (status, third) = refresh(&server, &web, r2, &[]).await;
    assert_eq!(status, 200, "{third}");
    let r3 = str_of(&third, "refresh_token");
    // A spent token replayed after its own idle end is still a replay while its family lives
    // (RFC 9700 §4.14.2): the family dies.
    let (status, body) = refresh(&server, &web, r1, &[]).await;
    assert_error(status, &body, "invalid_grant", "replay past the idle end");
    assert_eq!(expiry(&server, &web, r3).await, None, "family revoked");

    // Not used within the idle lifetime: inactive at introspection, invalid_grant at /token.
    let fresh = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let s1 = str_of(&fresh, "refresh_token");
    clock.advance(idle - 1);
    assert!(is_active(&server, &web, s1).await);
    clock.advance(1);
    assert!(!is_active(&server, &web, s1).await, "idle-expired");
    let (status, body) = refresh(&server, &web, s1, &[]).await;
    assert_error(status, &body, "invalid_grant", "idle-expired refresh token");
    server.stop().await;
}

async fn a_busy_family_still_ends_at_its_absolute_end(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    let clock = &server.state.clock;
    let idle = server.state.config.tokens.refresh_token_idle_lifetime as i64;
    let absolute = server.state.config.tokens.refresh_token_lifetime as i64;
    assert!(idle < absolute, "the defaults make the two differ");
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let start = server.state.now();
    let first = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let mut current = str_of(&first, "refresh_token").to_string();
    // Refreshed just before each idle end: every new token gets a new idle window, cut short
    // at the family's end, start + refresh_token_lifetime.
    let mut rotations = 0;
    while server.state.now() + idle < start + absolute {
        clock.advance(idle - 1);
        let (status, body) = refresh(&server, &web, &current, &[]).await;
        assert_eq!(status, 200, "rotation {rotations}: {body}");
        current = str_of(&body, "refresh_token").to_string();
        let now = server.state.now();
        assert_eq!(
            expiry(&server, &web, &current).await,
            Some((now + idle).min(start + absolute)),
            "rotation {rotations}"
        );
        rotations += 1;
    }
    assert!(rotations >= 2, "{rotations}");
    // The last token of the family lives until the absolute end, and rotation at the last
    // second does not extend it.
    clock.advance(start + absolute - 1 - server.state.now());
    let (status, body) = refresh(&server, &web, &current, &[]).await;
    assert_eq!(status, 200, "{body}");
    current = str_of(&body, "refresh_token").to_string();
    assert_eq!(
        expiry(&server, &web, &current).await,
        Some(start + absolute)
    );
    clock.advance(1);
    assert!(!is_active(&server, &web, &current).await);
    let (status, body) = refresh(&server, &web, &current, &[]).await;
    assert_error(
        status,
        &body,
        "invalid_grant",
        "past the family's absolute end",
    );
    server.stop().await;
}

/// One deny-list rule for every revocation of a grant (`oauth::revoke`): the entry outlives
/// every token the grant could have issued, refresh tokens included, whether the grant ends by
/// `/revoke` (RFC 7009 §2.1) or by a replay (RFC 9700 §4.14.2).
async fn every_revoked_grant_is_denied_for_the_refresh_lifetime(db: TestDb) {
    let server = TestServer::start(&db).await;
    server.state.clock.freeze();
    resources(&server).await;
    let web = confidential_client(&server, "web app", json!({})).await;
    let lifetime = server.state.config.tokens.refresh_token_lifetime as i64;
    assert!(lifetime > server.state.config.tokens.access_token_lifetime as i64);
    let denied_until = |grant: String| {
        let store = &server.state.store;
        async move {
            count(
                store,
                &format!("SELECT expires_at FROM revocations WHERE revoked_key = 'grant:{grant}'"),
            )
            .await
        }
    };

    let revoked = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let grant = jwt_claims(str_of(&revoked, "access_token"))["grant_id"].to_string();
    let (status, body) = server
        .post_as(
            "/revoke",
            &web,
            &[("token", str_of(&revoked, "refresh_token"))],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let until = denied_until(grant.trim_matches('"').to_string()).await;
    assert!(until >= server.state.now() + lifetime, "/revoke: {until}");

    let replayed = code_flow_tokens(&server, &web, "openid offline_access", &[]).await;
    let grant = jwt_claims(str_of(&replayed, "access_token"))["grant_id"].to_string();
    let old = str_of(&replayed, "refresh_token");
    assert_eq!(refresh(&server, &web, old, &[]).await.0, 200);
    assert_eq!(refresh(&server, &web, old, &[]).await.0, 400);
    let until = denied_until(grant.trim_matches('"').to_string()).await;
    assert!(until >= server.state.now() + lifetime, "replay: {until}");
    server.stop().await;
}

both_stores!(
    every_revoked_grant_is_denied_for_the_refresh_lifetime,
    idle_lifetime_expires_unused_tokens,
    a_busy_family_still_ends_at_its_absolute_end,
    rotation_detects_reuse_and_kills_the_family,
    scope_may_narrow_never_widen,
    refresh_token_belongs_to_its_client,
    public_client_rotates_too,
    refresh_errors,
    concurrent_refreshes_have_at_most_one_winner,
);

//! Accounts and keys.

use pipelog_core::api_key::{ApiKeySecret, KeyRole};
use pipelog_core::console_session::SessionToken;
use pipelog_core::ids::{AccountName, KeyId};
use pipelog_core::paging::PageLimit;
use pipelog_core::permission::{Permission, PermissionSet};
use pipelog_core::time::UtcTime;
use pipelog_store::{KeyScope, Store, StoreError};

use super::new_key;

pub async fn bootstrap_creates_the_default_account_and_operator_key_once(store: &dyn Store) {
    // Keys made before the first start (by `pipelog keys create`) do not stop bootstrapping.
    store
        .create_key(new_key("acme", PermissionSet::all()), None)
        .await
        .unwrap();
    let secret = ApiKeySecret::generate();
    let key = store
        .bootstrap(secret.hash())
        .await
        .unwrap()
        .expect("created");
    assert_eq!(key.account, AccountName::default_account());
    assert_eq!(key.role, KeyRole::Operator);
    assert_eq!(key.permissions, PermissionSet::all());
    assert_eq!(key.rate_limit, pipelog_core::api_key::RateLimit::Unlimited);
    let found = store.find_key(secret.hash()).await.unwrap().expect("found");
    assert_eq!(found.id, key.id);

    let again = store
        .bootstrap(ApiKeySecret::generate().hash())
        .await
        .unwrap();
    assert_eq!(
        again, None,
        "a store with an account is never bootstrapped again"
    );
}

pub async fn find_key_sees_active_keys_only(store: &dyn Store) {
    let secret = ApiKeySecret::generate();
    let mut new = new_key("acme", PermissionSet::parse_list("JOBS_READ").unwrap());
    new.hash = secret.hash();
    let created = store.create_key(new, None).await.unwrap();
    let found = store.find_key(secret.hash()).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert!(found.permissions.contains(Permission::JobsRead));
    assert!(!found.permissions.contains(Permission::KeysAdmin));

    let stranger = ApiKeySecret::generate();
    assert_eq!(store.find_key(stranger.hash()).await.unwrap(), None);

    store
        .revoke_key(KeyScope::Account(created.account_id), created.id, None)
        .await
        .unwrap();
    assert_eq!(store.find_key(secret.hash()).await.unwrap(), None);
}

pub async fn create_key_creates_its_account_and_refuses_a_duplicate_secret(store: &dyn Store) {
    let name = AccountName::parse("globex").unwrap();
    assert_eq!(store.find_account(&name).await.unwrap(), None);
    let new = new_key("globex", PermissionSet::all());
    let created = store.create_key(new.clone(), None).await.unwrap();
    assert_eq!(
        store.find_account(&name).await.unwrap(),
        Some(created.account_id)
    );
    assert_eq!(created.account, name);

    let second = store
        .create_key(new_key("globex", PermissionSet::all()), None)
        .await
        .unwrap();
    assert_eq!(
        second.account_id, created.account_id,
        "same account, second key"
    );

    let duplicate = store.create_key(new, None).await.unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict(_)),
        "{duplicate:?}"
    );
}

pub async fn list_keys_pages_within_scope(store: &dyn Store) {
    let mut acme = Vec::new();
    for _ in 0..5 {
        acme.push(
            store
                .create_key(new_key("acme", PermissionSet::all()), None)
                .await
                .unwrap(),
        );
    }
    let other = store
        .create_key(new_key("initech", PermissionSet::all()), None)
        .await
        .unwrap();
    let scope = KeyScope::Account(acme[0].account_id);
    let two = PageLimit::new(Some(2), 2, 100).unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_keys(scope, after, two).await.unwrap();
        assert!(page.items.len() <= 2);
        after = page.items.last().map(|key| key.id);
        seen.extend(page.items.into_iter().map(|key| key.id));
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen, acme.iter().map(|key| key.id).collect::<Vec<_>>());

    let all = store
        .list_keys(
            KeyScope::AllAccounts,
            None,
            PageLimit::new(Some(100), 100, 100).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 6);

    let foreign_cursor = store
        .list_keys(scope, Some(other.id), two)
        .await
        .unwrap_err();
    assert_eq!(foreign_cursor, StoreError::InvalidCursor);
    let unknown_cursor = store
        .list_keys(scope, Some(KeyId::generate()), two)
        .await
        .unwrap_err();
    assert_eq!(unknown_cursor, StoreError::InvalidCursor);
}

pub async fn revoke_is_scoped_and_idempotent(store: &dyn Store) {
    let acme = store
        .create_key(new_key("acme", PermissionSet::all()), None)
        .await
        .unwrap();
    let initech = store
        .create_key(new_key("initech", PermissionSet::all()), None)
        .await
        .unwrap();

    let refused = store
        .revoke_key(KeyScope::Account(initech.account_id), acme.id, None)
        .await
        .unwrap_err();
    assert_eq!(refused, StoreError::NotFound { what: "key" });

    let revoked = store
        .revoke_key(KeyScope::Account(acme.account_id), acme.id, None)
        .await
        .unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked");
    let again = store
        .revoke_key(KeyScope::AllAccounts, acme.id, None)
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(revoked_at),
        "the first revocation time stays"
    );
}

pub async fn sessions_stand_for_their_key_until_they_end(store: &dyn Store) {
    let key = store
        .create_key(new_key("acme", PermissionSet::all()), None)
        .await
        .unwrap();
    let now = UtcTime::now();
    let later = |millis: i64| UtcTime::from_unix_millis(now.unix_millis() + millis).unwrap();
    let (first, second, old) = (
        SessionToken::generate(),
        SessionToken::generate(),
        SessionToken::generate(),
    );
    store
        .create_session(first.hash(), key.id, later(60_000))
        .await
        .unwrap();
    store
        .create_session(second.hash(), key.id, later(60_000))
        .await
        .unwrap();
    store
        .create_session(old.hash(), key.id, later(10))
        .await
        .unwrap();
    let found = store
        .find_session(first.hash(), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, key.id);
    assert_eq!(found.account, key.account);
    assert!(
        store
            .find_session(SessionToken::generate().hash(), now)
            .await
            .unwrap()
            .is_none()
    );

    // Past its end a session opens nothing, and is removed in the background.
    assert!(
        store
            .find_session(old.hash(), later(10))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.expire_sessions(later(11), 10).await.unwrap(), 1);
    assert_eq!(store.expire_sessions(later(11), 10).await.unwrap(), 0);
    assert!(
        store
            .find_session(first.hash(), later(11))
            .await
            .unwrap()
            .is_some()
    );

    // Signing out ends one session; revoking the key ends all of them.
    store.delete_session(first.hash()).await.unwrap();
    store.delete_session(first.hash()).await.unwrap();
    assert!(
        store
            .find_session(first.hash(), now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_session(second.hash(), now)
            .await
            .unwrap()
            .is_some()
    );
    store
        .revoke_key(KeyScope::AllAccounts, key.id, None)
        .await
        .unwrap();
    assert!(
        store
            .find_session(second.hash(), now)
            .await
            .unwrap()
            .is_none()
    );
    // A revoked or unknown key gets no session.
    let refused = store
        .create_session(SessionToken::generate().hash(), key.id, later(60_000))
        .await;
    assert_eq!(refused, Err(StoreError::NotFound { what: "key" }));
    let unknown = store
        .create_session(
            SessionToken::generate().hash(),
            KeyId::generate(),
            later(60_000),
        )
        .await;
    assert_eq!(unknown, Err(StoreError::NotFound { what: "key" }));
}

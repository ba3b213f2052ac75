//! `GET /users/{sub}/sessions` page by page: `limit` and `cursor`, every
//! session exactly once, and the last page says it is the last.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

crate::both_backends!(pages_list_every_session_exactly_once_over_http);

async fn page(app: &TestApp, query: &str) -> Value {
    let res = app.admin_get(&format!("/users/u/sessions{query}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn pages_list_every_session_exactly_once_over_http(b: Backend) {
    let app = spawn_app(b).await;
    let mut issued = HashSet::new();
    for _ in 0..5 {
        let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
        let claims = crate::helpers::claims_of(v["access_token"].as_str().unwrap());
        issued.insert(claims["sid"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "?limit=2".to_owned();
    for _ in 0..10 {
        let v = page(&app, &query).await;
        let list = v["sessions"].as_array().unwrap();
        sizes.push(list.len());
        seen.extend(list.iter().map(|s| s["sid"].as_str().unwrap().to_owned()));
        match v["next_cursor"].as_str() {
            Some(c) => query = format!("?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(seen.len(), 5, "every session once: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), issued);
    let whole = page(&app, "").await;
    assert_eq!(whole["sessions"].as_array().unwrap().len(), 5);
    assert!(
        whole.get("next_cursor").is_none(),
        "the default page holds 5"
    );
}

//! The bouncer stream against a reference model: 1,000 random decisions made, ended and expired
//! (the server's clock moved by the test), with bouncers pulling deltas between them. After every
//! pull, what each bouncer holds — applying `deleted`, then `new`, as firewall bouncers do — must
//! be exactly what the model says applies: per value and kind, the decision that lasts longest.
//! And a second server on the same PostgreSQL serves a decision made on the first within seconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rampart_core::time::Clock;
use rstest::rstest;
use serde_json::{Value, json};

use crate::decisions::{bouncer, bouncer_get, pull};
use crate::helpers::{Backend, TestApp, TestDatabase, json_of};

/// A small deterministic generator, so that a failure replays.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// A decision as the model knows it.
struct Made {
    id: String,
    seq: i64,
    value: String,
    kind: &'static str,
    scope: &'static str,
    until: DateTime<Utc>,
    deleted: bool,
}

type Held = BTreeMap<(String, String), i64>;

/// What a bouncer selecting `takes` must hold at `now`: per value and kind, the decision that
/// applies and ends last (the first made among equals).
fn expected(model: &[Made], now: DateTime<Utc>, takes: impl Fn(&Made) -> bool) -> Held {
    let mut best: BTreeMap<(String, String), &Made> = BTreeMap::new();
    for made in model.iter().filter(|made| !made.deleted && made.until > now && takes(made)) {
        let key = (made.value.clone(), made.kind.to_owned());
        if best.get(&key).is_none_or(|held| made.until > held.until) {
            best.insert(key, made);
        }
    }
    best.into_iter().map(|(key, made)| (key, made.seq)).collect()
}

/// Applies a pull as a firewall bouncer does: lifts `deleted`, then applies `new`.
fn apply(held: &mut Held, delta: &Value) {
    let key = |decision: &Value| {
        (decision["value"].as_str().expect("value").to_owned(), decision["type"].as_str().expect("type").to_owned())
    };
    for decision in delta["deleted"].as_array().expect("deleted") {
        held.remove(&key(decision));
    }
    for decision in delta["new"].as_array().expect("new") {
        let duration = decision["duration"].as_str().expect("duration");
        let go_style = duration.trim_end_matches('s').split(['h', 'm']).all(|part| part.parse::<u64>().is_ok());
        assert!(go_style && duration.ends_with('s') && duration != "0s", "a positive Go duration: {duration}");
        held.insert(key(decision), decision["id"].as_i64().expect("id"));
    }
}

#[rstest]
#[tokio::test]
async fn a_thousand_random_changes_reach_bouncers_exactly(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (app, clock) = TestApp::spawn_with_clock(backend).await;
    let ada = app.register("ada").await;
    // An API key: the test moves the clock by days, past any access token's life.
    let body = json!({"name": "model", "role": "analyst"});
    let key = json_of(app.call("POST", "/api/v1/api-keys", Some(&ada.access), Some(&body)).await).await;
    let api_key = key["key"].as_str().expect("key").to_owned();
    crate::helpers::remember_secret(api_key.clone());
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, api_key) = (&app, &api_key);
        async move {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut request = app.client().request(method, app.url(&path)).header("X-Api-Key", api_key);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send().await.expect("sent")
        }
    };
    let (_, all) = bouncer(&app, &ada, "all").await;
    let (_, bans) = bouncer(&app, &ada, "ip-bans").await;
    let (_, starting) = bouncer(&app, &ada, "starting").await;
    let (mut all_held, mut bans_held) = (Held::new(), Held::new());
    let only_ip_bans = |made: &Made| made.scope == "ip" && made.kind == "ban";

    let mut random = Random(0x5eed_1234_abcd_0001);
    let mut model: Vec<Made> = Vec::new();
    let (mut made, mut ended, mut expired, mut pulls) = (0, 0, 0, 0);
    for step in 0..1000 {
        let now = clock.now();
        match random.below(100) {
            0..40 => {
                let value = match random.below(24) {
                    n @ 0..20 => format!("192.0.2.{}", n + 1),
                    n => format!("198.51.{}.0/24", 100 + n - 20),
                };
                let kind = if random.below(5) == 0 { "captcha" } else { "ban" };
                let minutes = 1 + random.below(180);
                let body = json!({"value": value, "kind": kind, "duration": format!("{minutes}m")});
                let response = call("POST", "/api/v1/decisions".into(), Some(body)).await;
                assert_eq!(response.status(), 201, "step {step}");
                let decision = json_of(response).await;
                let until: DateTime<Utc> = decision["until"].as_str().expect("until").parse().expect("time");
                assert_eq!(until, now + chrono::Duration::minutes(minutes as i64));
                model.push(Made {
                    id: decision["id"].as_str().expect("id").to_owned(),
                    seq: decision["seq"].as_i64().expect("seq"),
                    scope: if value.contains('/') { "range" } else { "ip" },
                    value,
                    kind,
                    until,
                    deleted: false,
                });
                made += 1;
            }
            40..55 => {
                let live: Vec<usize> =
                    (0..model.len()).filter(|&i| !model[i].deleted && model[i].until > now).collect();
                if live.is_empty() {
                    continue;
                }
                let chosen = live[random.below(live.len() as u64) as usize];
                let response = call("DELETE", format!("/api/v1/decisions/{}", model[chosen].id), None).await;
                assert_eq!(response.status(), 204, "step {step}");
                model[chosen].deleted = true;
                ended += 1;
            }
            55..70 => {
                clock.advance(Duration::from_secs(60 * (1 + random.below(60))));
                expired += 1;
            }
            _ => {
                apply(&mut all_held, &pull(&app, &all, "").await);
                assert_eq!(all_held, expected(&model, now, |_| true), "step {step}: a bouncer taking everything");
                apply(&mut bans_held, &pull(&app, &bans, "scopes=ip&type=ban").await);
                assert_eq!(bans_held, expected(&model, now, only_ip_bans), "step {step}: a bouncer of IP bans");
                pulls += 1;
            }
        }
        if step % 100 == 99 {
            let mut fresh = Held::new();
            apply(&mut fresh, &pull(&app, &starting, "startup=true").await);
            assert_eq!(fresh, expected(&model, clock.now(), |_| true), "step {step}: a bouncer starting up");
        }
    }
    assert!(made > 300 && ended > 100 && expired > 100 && pulls > 200, "{made} {ended} {expired} {pulls}");
}

#[tokio::test]
async fn a_second_server_serves_a_decision_the_first_made() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let url = first.database().postgres_url().expect("PostgreSQL").to_owned();
    let second = TestApp::spawn_with(TestDatabase::Postgres { url }, |config| config.engine.workers = 0).await;
    let ada = first.register("ada").await;
    let (_, key) = bouncer(&first, &ada, "edge").await;
    // The second server learns of the bouncer from the first's notice.
    let known = Instant::now();
    while bouncer_get(&second, &key, "/v1/decisions/stream").await.status() != 200 {
        assert!(known.elapsed() < Duration::from_secs(4), "the bouncer's key reached the second server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    crate::decisions::decide(&first, &ada, json!({"value": "203.0.113.7"})).await;
    let made = Instant::now();
    loop {
        let delta = pull(&second, &key, "").await;
        if delta["new"].as_array().is_some_and(|new| new.iter().any(|d| d["value"] == "203.0.113.7")) {
            break;
        }
        // Under the five seconds after which a server reads again without a notice: the notice
        // carried it.
        assert!(made.elapsed() < Duration::from_secs(4), "the decision reached the second server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("the second server served the decision {} ms after it was made", made.elapsed().as_millis());
}

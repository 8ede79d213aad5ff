//! Fuzzes the reader of OpenCanary's webhook bodies (a form, `{"message": …}`, the event itself,
//! the line as a JSON string): no input may panic, and an event read from any of them carries a
//! visitor, a service, and a payload and credentials within their bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::watch::events::{CREDENTIALS_MAX, PAYLOAD_MAX};
use rampart_core::watch::opencanary::{Webhook, WebhookEncoding, read_webhook};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let encoding = if selector % 2 == 0 { WebhookEncoding::Json } else { WebhookEncoding::Form };
    let Ok(Webhook::Event(input)) = read_webhook(encoding, body) else { return };
    assert!(input.source_ip.as_deref().is_some_and(|ip| !ip.trim().is_empty()));
    assert!(input.service.is_some() && input.activity.is_some());
    assert!(input.payload.as_deref().is_some_and(|payload| payload.len() <= PAYLOAD_MAX));
    assert!(input.usernames.len() <= CREDENTIALS_MAX && input.passwords.len() <= CREDENTIALS_MAX);
});

//! Deleting a contact erases what its texts left outside its record: the
//! message items (number, words, status), the inbound markers of its
//! replies, the peer item that routes replies to the organization, and the
//! staff notifications about it. The opt-out of its number stays.

use super::*;

async fn deleting_a_contact_erases_its_texts_everywhere(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let contact = contact_of(&app.state, &practice.org_id).await;
    let sent = timeline_kinds(&practice, &contact)
        .await
        .into_iter()
        .find(|(k, _)| k == "sms.sent")
        .map(|(_, d)| d)
        .expect("the confirmation on the timeline");
    let message_id = sent["message_id"].as_str().expect("message id").to_string();
    assert_eq!(
        status(&app, &message_id, "SM0601", "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    twiml_of(&text_in(&app, "SM0602", PHONE, "Can I bring my daughter along?").await);
    twiml_of(&text_in(&app, "SM0603", PHONE, "STOP").await);
    let table = app.state.table.as_ref();
    let peer = sms::peer_key(OUTBOX_SMS_SENDER, PHONE);
    for key in [
        sms::message_key(&message_id),
        peer.clone(),
        sms::inbound_key("SM0602"),
        sms::inbound_key("SM0603"),
    ] {
        assert!(table.get(&key).await.expect("read").is_some(), "{key:?} before");
    }
    assert_eq!(
        sms::recent_notifications(table, &practice.org_id, 10)
            .await
            .expect("notifications")
            .len(),
        1
    );

    let reply = practice
        .host
        .send(&practice.app, "DELETE", &format!("/contacts/{contact}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);

    for key in [
        sms::message_key(&message_id),
        peer,
        sms::inbound_key("SM0602"),
        sms::inbound_key("SM0603"),
    ] {
        assert!(table.get(&key).await.expect("read").is_none(), "{key:?} survived");
    }
    assert!(
        sms::recent_notifications(table, &practice.org_id, 10)
            .await
            .expect("notifications")
            .is_empty()
    );
    // The opt-out outlives the contact, so STOP keeps working for the number.
    let opt_out = sms::sms_opt_out_key(OUTBOX_SMS_SENDER, PHONE);
    assert!(table.get(&opt_out).await.expect("read").is_some());
}

/// Another organization texted the same number last: its peer item stays
/// (its replies still reach it), without the deleting organization's bookings.
async fn another_organizations_peer_item_keeps_routing_its_replies(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let first = Practice::open(&app.state, json!({})).await;
    first
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let contact = contact_of(&app.state, &first.org_id).await;
    let other_org = OrgId::new("other-org-of-the-test");
    let request = SmsRequest {
        idempotency_key: "other-org/notice".into(),
        org_id: other_org.clone(),
        booking_id: Some(BookingId::new("other-booking")),
        to: PHONE.into(),
        body: "Other Clinic: see you soon".into(),
    };
    let sent = SentSms {
        idempotency_key: &request.idempotency_key,
        org_id: &request.org_id,
        booking_id: request.booking_id.as_ref(),
        sender: OUTBOX_SMS_SENDER,
        to: PHONE,
        body: &request.body,
    };
    sms::record_sent(app.state.table.as_ref(), &sent, app.state.clock.now())
        .await
        .expect("recorded");

    let peer_orgs = |peer: &Value| -> Vec<String> {
        peer["bookings"]
            .as_array()
            .expect("bookings")
            .iter()
            .filter_map(|b| b["org_id"].as_str().map(str::to_owned))
            .collect()
    };
    let before = app
        .state
        .table
        .get(&sms::peer_key(OUTBOX_SMS_SENDER, PHONE))
        .await
        .expect("read")
        .expect("peer");
    assert_eq!(
        peer_orgs(&Value::Object(before)),
        vec![other_org.to_string(), first.org_id.to_string()]
    );

    let reply = first
        .host
        .send(&first.app, "DELETE", &format!("/contacts/{contact}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let peer = app
        .state
        .table
        .get(&sms::peer_key(OUTBOX_SMS_SENDER, PHONE))
        .await
        .expect("read")
        .expect("the other organization's peer item stays");
    assert_eq!(peer["org_id"], other_org.as_str());
    assert_eq!(peer_orgs(&Value::Object(peer.clone())), vec![other_org.to_string()]);
    let other_message = sms::message_key(&sms::message_id("other-org/notice"));
    assert!(app.state.table.get(&other_message).await.expect("read").is_some());
}

konnecs_tests::on_both_stores!(
    deleting_a_contact_erases_its_texts_everywhere,
    another_organizations_peer_item_keeps_routing_its_replies,
);

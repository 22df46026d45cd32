//! Consent is checked where every text is sent (`notifications::send_sms`),
//! not only by the callers that queue texts: a number without a consent
//! record gets nothing, and the skipped text is recorded with its reason.

use super::*;

/// A text about `booking` to `PHONE`, as the jobs worker sends it.
fn about(practice: &Practice, booking: Option<&str>, key: &str) -> SmsRequest {
    SmsRequest {
        idempotency_key: key.into(),
        org_id: practice.org_id.clone(),
        booking_id: booking.map(BookingId::from),
        to: PHONE.into(),
        body: "Whitfield Dental: your Cleaning is confirmed.".into(),
    }
}

async fn skipped_reason(app: &TestApp, key: &str) -> Option<(String, String)> {
    let item = app
        .state
        .table
        .get(&sms::message_key(&sms::message_id(key)))
        .await
        .expect("read")?;
    Some((
        item["status"].as_str().unwrap_or_default().to_string(),
        item["reason"].as_str().unwrap_or_default().to_string(),
    ))
}

async fn a_number_without_consent_gets_no_text_and_the_skip_is_recorded(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    // A phone given on the booking form without ticking the consent box.
    let mut guest = london_guest("ann@example.com");
    guest["sms_consent"] = json!(false);
    guest.as_object_mut().expect("guest").remove("sms_consent_text");
    let booked = booking_id(&practice.book("2026-12-03T15:00:00Z", &guest).await);
    assert!(texts(&outbox(&app.state).await).is_empty());

    // A caller that queues a text anyway: the send path refuses it.
    let request = about(&practice, Some(&booked), "booking/x/booked/0/customer/sms");
    assert_eq!(
        notifications::send_sms(&app.state, &request).await.expect("no error"),
        SmsOutcome::NoConsent
    );
    assert!(texts(&outbox(&app.state).await).is_empty());
    assert_eq!(
        skipped_reason(&app, &request.idempotency_key).await,
        Some(("skipped".into(), "no_consent".into()))
    );
    let contact = contact_of(&app.state, &practice.org_id).await;
    let skipped: Vec<Value> = timeline_kinds(&practice, &contact)
        .await
        .into_iter()
        .filter(|(k, _)| k == "sms.skipped")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["reason"], "no_consent");
    // Redelivered: recorded once.
    notifications::send_sms(&app.state, &request).await.expect("no error");
    let again = timeline_kinds(&practice, &contact).await;
    assert_eq!(again.iter().filter(|(k, _)| k == "sms.skipped").count(), 1);
    // The appointment's allowance was not used by the refused text.
    let counter = app
        .state
        .table
        .get(&notifications::sms_counter_key(
            &practice.org_id,
            &BookingId::from(booked.as_str()),
        ))
        .await
        .expect("read");
    assert_eq!(
        counter
            .and_then(|c| c.get("count").and_then(Value::as_i64))
            .unwrap_or(0),
        0
    );
}

async fn a_booking_consent_or_a_granted_record_lets_texts_through_a_revoked_one_stops_them(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    // Consent given on the booking form: the confirmation goes.
    let booked = booking_id(
        &practice
            .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
            .await,
    );
    assert_eq!(texts(&outbox(&app.state).await).len(), 1);
    let contact = contact_of(&app.state, &practice.org_id).await;

    // The front desk records that she withdrew it: nothing more goes, even
    // about the booking whose form she ticked.
    let revoked = json!({"sms_consent": {"status": "revoked", "source": "phone call"}});
    let reply = practice
        .host
        .send(&practice.app, "PATCH", &format!("/contacts/{contact}"), Some(&revoked))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let request = about(&practice, Some(&booked), "booking/x/rescheduled/1/customer/sms");
    assert_eq!(
        notifications::send_sms(&app.state, &request).await.expect("no error"),
        SmsOutcome::NoConsent
    );

    // Granted again: a text with no booking behind it goes too.
    let granted =
        json!({"sms_consent": {"status": "granted", "source": "front desk", "text": "Texts about my appointments"}});
    let reply = practice
        .host
        .send(&practice.app, "PATCH", &format!("/contacts/{contact}"), Some(&granted))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        notifications::send_sms(&app.state, &about(&practice, None, "notice/without/booking"))
            .await
            .expect("sent"),
        SmsOutcome::Sent
    );
    assert_eq!(
        texts(&outbox(&app.state).await).len(),
        2,
        "the confirmation and this one"
    );
}

konnecs_tests::on_both_stores!(
    a_number_without_consent_gets_no_text_and_the_skip_is_recorded,
    a_booking_consent_or_a_granted_record_lets_texts_through_a_revoked_one_stops_them,
);

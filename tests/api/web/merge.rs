//! Merging another contact into a record: found by search, compared side by
//! side, the differing values chosen per field, merged by the same service
//! as `POST /contacts/merge`.

use super::*;

#[tokio::test]
async fn another_contact_is_found_compared_and_merged_with_the_chosen_values() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let maya = anna
        .post(
            &app,
            "/app/contacts",
            &[
                ("first_name", "Maya"),
                ("last_name", "Okafor"),
                ("email", "maya@example.com"),
                ("company", "Okafor Ltd"),
                ("tags", "vip"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    let maya = contact_id(maya.location());
    let twin = anna
        .post(
            &app,
            "/app/contacts",
            &[
                ("first_name", "Maya"),
                ("last_name", "Okafor-Reid"),
                ("email", "maya.reid@example.com"),
                ("phone", "+44 20 7946 0958"),
                ("company", "Reid & Co"),
                ("tags", "newsletter"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    let twin = contact_id(twin.location());
    anna.post(
        &app,
        &format!("/app/contacts/{twin}/notes"),
        &[("body", "Met at the fair.")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);

    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains(&format!("href=\"/app/contacts/{maya}/merge\""));
    // Search finds the twin, never the contact itself.
    let found = anna.get(&app, &format!("/app/contacts/{maya}/merge?q=maya")).await;
    found
        .expect(StatusCode::OK)
        .contains(&format!("href=\"/app/contacts/{maya}/merge?other={twin}\""))
        .lacks(&format!("merge?other={maya}\""));
    // Side by side: a choice where both have different values, none where they agree.
    let compared = anna
        .get(&app, &format!("/app/contacts/{maya}/merge?other={twin}"))
        .await;
    compared
        .expect(StatusCode::OK)
        .contains("name=\"pick-last_name\" value=\"other\"")
        .contains("name=\"pick-company\" value=\"this\" checked")
        .lacks("name=\"pick-first_name\"")
        .contains("Okafor-Reid")
        .contains("Reid &#38; Co");

    let merged = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/merge"),
            &[
                ("other_id", &twin),
                ("pick-last_name", "other"),
                ("pick-company", "this"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    merged.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        merged.location(),
        format!("/app/contacts/{maya}?notice=contacts-merged")
    );
    anna.get(&app, merged.location())
        .await
        .expect(StatusCode::OK)
        .contains("Contacts merged.")
        .contains("<h1>Maya Okafor-Reid</h1>")
        .contains("Okafor Ltd")
        .contains("<span class=\"tag\">newsletter</span>")
        .contains("<span class=\"tag\">vip</span>")
        .contains("Met at the fair.")
        .contains("+442079460958");
    anna.get(&app, &format!("/app/contacts/{twin}"))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_refused_merge_comes_back_with_its_error_and_merges_nothing() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let maya = anna
        .post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&csrf))
        .await;
    let maya = contact_id(maya.location());
    // Into itself.
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/merge"),
        &[("other_id", &maya)],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("A contact cannot be merged into itself.")
    .contains("id=\"merge-q\"");
    // Another organization's contact is not found, and nothing changes.
    let mut sam = Visitor::default();
    let sams = sam
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    let theirs = sam
        .post(&app, "/app/contacts", &[("first_name", "Tom")], Csrf::Field(&sams))
        .await;
    let theirs = contact_id(theirs.location());
    anna.get(&app, &format!("/app/contacts/{maya}/merge?other={theirs}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/merge"),
        &[("other_id", &theirs)],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    sam.get(&app, &format!("/app/contacts/{theirs}"))
        .await
        .expect(StatusCode::OK)
        .contains("<h1>Tom</h1>");
}

//! The contacts table's order (newest or oldest first, kept across pages)
//! and the columns each member chooses to show.

use super::*;

/// The contact names in the table's rows, in order.
fn names(html: &str) -> Vec<String> {
    html.split("<td><a href=\"/app/contacts/")
        .skip(1)
        .filter_map(|row| row.split_once("\">").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("</a>").map(|(name, _)| name.to_string()))
        .collect()
}

/// The query string of the "Next page" link.
fn next_page(html: &str) -> Option<String> {
    let marker = "<a href=\"/app/contacts?";
    let at = html.rfind("\">Next page</a>")?;
    let start = html[..at].rfind(marker)? + marker.len();
    let href = html[start..at].split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

#[tokio::test]
async fn the_table_sorts_newest_or_oldest_first_and_pages_in_that_order() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    // 27 contacts, a second apart: more than one page of 25.
    for i in 0..27 {
        app.advance(jiff::SignedDuration::from_secs(1));
        anna.post(
            &app,
            "/app/contacts",
            &[("first_name", &format!("P{i:02}")), ("tags", "all")],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }
    let newest = anna.get(&app, "/app/contacts").await;
    newest.expect(StatusCode::OK);
    let first = names(&newest.html);
    assert_eq!(first.len(), 25);
    assert_eq!(first[0], "P26");
    assert_eq!(first[24], "P02");

    let oldest = anna.get(&app, "/app/contacts?sort=oldest").await;
    oldest
        .expect(StatusCode::OK)
        .contains("<option value=\"oldest\" selected>")
        .contains("aria-sort=\"ascending\"");
    let first = names(&oldest.html);
    assert_eq!(first[0], "P00");
    assert_eq!(first[24], "P24");
    let next = next_page(&oldest.html).expect("a next page");
    assert!(next.contains("sort=oldest"), "{next}");
    let second = anna.get_htmx(&app, &format!("/app/contacts?{next}")).await;
    assert_eq!(names(&second.html), ["P25", "P26"]);
    assert!(next_page(&second.html).is_none());

    // Through a tag's index too, and on the JSON API.
    let by_tag = anna.get(&app, "/app/contacts?tag=all&sort=oldest").await;
    assert_eq!(names(&by_tag.html)[0], "P00");
    let api = anna.get(&app, "/contacts?sort=created&limit=2").await;
    api.expect(StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&api.html).expect("JSON");
    assert_eq!(body["contacts"][0]["first_name"], "P00", "{body}");
    assert_eq!(body["contacts"][1]["first_name"], "P01", "{body}");
    let api = anna.get(&app, "/contacts?sort=-created&limit=1").await;
    let body: serde_json::Value = serde_json::from_str(&api.html).expect("JSON");
    assert_eq!(body["contacts"][0]["first_name"], "P26", "{body}");
    let refused = anna.get(&app, "/contacts?sort=shoe-size").await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY).contains("\"sort\"");
    anna.get(&app, "/app/contacts?sort=sideways")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Sort by newest, oldest, name, -name, -updated or updated.");
}

/// The query string a column header's link asks for.
fn header_link(html: &str, label: &str) -> String {
    let end = html
        .find(&format!("\">{label}</a></th>"))
        .unwrap_or_else(|| panic!("no {label} header link"));
    let marker = "<a href=\"/app/contacts?";
    let start = html[..end].rfind(marker).expect("a header link") + marker.len();
    html[start..end]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The opening tag of a column header.
fn header(html: &str, label: &str) -> String {
    let end = html
        .find(&format!("\">{label}</a></th>"))
        .unwrap_or_else(|| panic!("no {label} header"));
    let start = html[..end].rfind("<th ").expect("th");
    let tag = &html[start..end];
    tag[..tag.find('>').expect("th end")].to_string()
}

#[tokio::test]
async fn the_headers_sort_by_name_or_last_update_and_the_order_stays_with_filters_and_pages() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    // 27 contacts whose names run against their creation order.
    for i in 0..27 {
        app.advance(jiff::SignedDuration::from_secs(1));
        let name = format!("{}{}", if i % 2 == 0 { "n" } else { "N" }, 99 - i);
        anna.post(
            &app,
            "/app/contacts",
            &[("first_name", name.as_str()), ("tags", "all")],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }
    let newest = anna.get(&app, "/app/contacts").await;
    newest.expect(StatusCode::OK);
    assert_eq!(
        header(&newest.html, "Created"),
        "<th scope=\"col\" aria-sort=\"descending\""
    );
    assert_eq!(header(&newest.html, "Name"), "<th scope=\"col\"", "not in name order");
    let by_name = header_link(&newest.html, "Name");
    assert_eq!(by_name, "sort=name");

    // The link works without JavaScript: the whole page, A to Z.
    let a_to_z = anna.get(&app, &format!("/app/contacts?{by_name}")).await;
    a_to_z
        .expect(StatusCode::OK)
        .contains("<option value=\"name\" selected>");
    assert_eq!(
        header(&a_to_z.html, "Name"),
        "<th scope=\"col\" aria-sort=\"ascending\""
    );
    assert_eq!(header(&a_to_z.html, "Created"), "<th scope=\"col\"");
    let first = names(&a_to_z.html);
    assert_eq!(first.len(), 25);
    assert_eq!(first[0], "n73");
    assert_eq!(first[1], "N74");
    let next = next_page(&a_to_z.html).expect("a next page");
    assert!(next.contains("sort=name"), "{next}");
    let second = anna.get_htmx(&app, &format!("/app/contacts?{next}")).await;
    assert_eq!(names(&second.html), ["N98", "n99"]);
    // The htmx fragment brings the form's order choice along (out of band).
    second.contains("<select id=\"sort\" name=\"sort\" hx-swap-oob=\"true\">");
    // A second click reverses it.
    assert_eq!(header_link(&a_to_z.html, "Name"), "sort=-name");
    let z_to_a = anna.get(&app, "/app/contacts?sort=-name").await;
    assert_eq!(
        header(&z_to_a.html, "Name"),
        "<th scope=\"col\" aria-sort=\"descending\""
    );
    assert_eq!(names(&z_to_a.html)[0], "n99");

    // With a filter: the links keep both.
    let tagged = anna.get(&app, "/app/contacts?tag=all&sort=name").await;
    assert_eq!(names(&tagged.html)[0], "n73");
    let next = next_page(&tagged.html).expect("a next page");
    assert!(next.contains("tag=all") && next.contains("sort=name"), "{next}");
    let updated = header_link(&tagged.html, "Updated");
    assert!(
        updated.contains("tag=all") && updated.contains("sort=-updated"),
        "{updated}"
    );
    let recent = anna.get(&app, &format!("/app/contacts?{updated}")).await;
    assert_eq!(
        header(&recent.html, "Updated"),
        "<th scope=\"col\" aria-sort=\"descending\""
    );
    assert_eq!(names(&recent.html)[0], "n73", "the last written first");
    // A pipeline stage lists by creation only.
    anna.get(&app, "/app/contacts?stage=p/s&sort=name")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn each_member_chooses_the_columns_the_table_shows() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.post(
        &app,
        "/app/contacts",
        &[
            ("first_name", "Maya"),
            ("email", "maya@example.com"),
            ("phone", "+44 20 7946 0958"),
            ("company", "Okafor Ltd"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let all = anna.get(&app, "/app/contacts?q=maya").await;
    all.contains("<th scope=\"col\">Phone</th>")
        .contains("+442079460958")
        .contains("name=\"back\" value=\"/app/contacts?q=maya\"")
        .contains("<input type=\"checkbox\" name=\"columns\" value=\"phone\" checked>");

    let saved = anna
        .post(
            &app,
            "/app/contacts/columns",
            &[
                ("columns", "email"),
                ("columns", "created"),
                ("back", "/app/contacts?q=maya"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/contacts?q=maya&notice=columns-saved");
    let chosen = anna.get(&app, saved.location()).await;
    chosen
        .expect(StatusCode::OK)
        .contains("Columns saved.")
        .contains("<th scope=\"col\">Email</th>")
        .contains("maya@example.com")
        .lacks("<th scope=\"col\">Phone</th>")
        .lacks("+442079460958")
        .lacks("Okafor Ltd")
        .contains("<input type=\"checkbox\" name=\"columns\" value=\"phone\">");
    // htmx's fragment keeps the choice.
    anna.get_htmx(&app, "/app/contacts?q=may")
        .await
        .contains("maya@example.com")
        .lacks("+442079460958");

    // Another site's address is no place to come back to.
    let away = anna
        .post(
            &app,
            "/app/contacts/columns",
            &[("columns", "phone"), ("back", "https://evil.example/app/contacts")],
            Csrf::Field(&csrf),
        )
        .await;
    assert_eq!(away.location(), "/app/contacts?notice=columns-saved");
    // A column that does not exist is refused, and the choice stays.
    anna.post(
        &app,
        "/app/contacts/columns",
        &[("columns", "salary")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    anna.get(&app, "/app/contacts")
        .await
        .contains("<th scope=\"col\">Phone</th>")
        .lacks("<th scope=\"col\">Email</th>");

    // Another member's table is their own.
    let mut sam = Visitor::default();
    let sams = sam
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    sam.post(&app, "/app/contacts", &[("first_name", "Tom")], Csrf::Field(&sams))
        .await;
    sam.get(&app, "/app/contacts")
        .await
        .contains("<th scope=\"col\">Email</th>")
        .contains("<th scope=\"col\">Phone</th>");
}

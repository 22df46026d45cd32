//! The staff web app end to end in headless Chromium on a 375 px phone
//! screen, against the real `konnecs-local` binary: the front door leads to
//! sign-up, then a contact is created through the form, found in the table,
//! found again by typing in the search box (htmx swaps the rows and pushes
//! the URL) and by the tag filter, opened, and given a note; a pipeline is
//! made, a deal opened from the record and moved on the board by keyboard
//! and by drag and drop; the filtered contacts are exported and the
//! progress followed to the end; a CSV is imported through the wizard
//! (upload, preview, a column mapped, progress to the result); a field of
//! the record is edited in place and the merge page opened; then every
//! other page is visited, signed
//! in and out. Every page has no horizontal scroll and no serious or
//! critical axe-core violation (axe-core 4.11.0, vendored under
//! tests/vendor, injected by the test; the app never serves it), with its
//! folded sections open.
//!
//! Every wait is for a condition, bounded; none is a fixed sleep.

use fantoccini::{Client, Locator};
use konnecs_tests::chrome::{ChromeDriver, phone_session};
use konnecs_tests::local::LocalServer;
use konnecs_tests::page::{PHONE_WIDTH, check_page, click, fill, wait_until};

/// Waits for the page at a path (after a redirect or a click) to be loaded.
async fn wait_for_path(browser: &Client, path: &str) {
    let script = format!("return location.pathname === {path:?} && document.readyState === 'complete';");
    wait_until(browser, &format!("page {path}"), &script).await;
}

async fn results_text(browser: &Client) -> String {
    browser
        .execute(
            "const r = document.getElementById('contact-results'); return r ? r.innerText : '';",
            vec![],
        )
        .await
        .expect("script")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn results_page_text(browser: &Client) -> String {
    browser
        .execute("return document.body.innerText;", vec![])
        .await
        .expect("script")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn create_contact(browser: &Client, base: &str, first: &str, last: &str, email: &str, tags: &str) {
    browser
        .goto(&format!("{base}/app/contacts/new"))
        .await
        .expect("new contact");
    wait_for_path(browser, "/app/contacts/new").await;
    fill(browser, "first_name", first).await;
    fill(browser, "last_name", last).await;
    fill(browser, "email", email).await;
    fill(browser, "tags", tags).await;
    click(browser, "form[action='/app/contacts'] button[type='submit']").await;
    let script = format!(
        "return location.pathname.startsWith('/app/contacts/') && location.pathname !== '/app/contacts/new' && document.readyState === 'complete' && document.querySelector('h1') && document.querySelector('h1').innerText === {:?};",
        format!("{first} {last}")
    );
    wait_until(browser, &format!("{first}'s record"), &script).await;
}

#[tokio::test]
async fn a_new_business_signs_up_adds_finds_and_notes_a_contact_on_a_phone() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = LocalServer::start(data.path());
    let base = server.base_url.clone();
    let driver = ChromeDriver::start_in_zone("Europe/London");
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = phone_session(&driver, profile.path(), PHONE_WIDTH, 800).await;

    let result = async {
        // The front door leads to sign-in, and from there to sign-up.
        browser.goto(&format!("{base}/")).await.expect("open the app");
        wait_for_path(&browser, "/sign-in").await;
        check_page(&browser, "sign-in").await;
        click(&browser, "a[href='/sign-up']").await;
        wait_for_path(&browser, "/sign-up").await;
        check_page(&browser, "sign-up").await;
        fill(&browser, "name", "Dana Whitfield").await;
        fill(&browser, "business_name", "Whitfield Dental").await;
        fill(&browser, "email", "dana@whitfield-dental.example").await;
        fill(&browser, "password", "molar-crown-42-bridge").await;
        click(&browser, "form[action='/sign-up'] button[type='submit']").await;
        wait_for_path(&browser, "/app").await;
        wait_until(
            &browser,
            "the welcome",
            "return document.body.innerText.includes('Welcome to Konnecs.') && document.body.innerText.includes('Whitfield Dental');",
        )
        .await;
        check_page(&browser, "home").await;

        // Two contacts through the form; the record of each opens.
        create_contact(&browser, &base, "Maya", "Okafor", "maya@example.com", "vip, new-patient").await;
        check_page(&browser, "contact record").await;
        create_contact(&browser, &base, "Tom", "Berg", "tom@example.com", "").await;

        // Both in the table.
        browser.goto(&format!("{base}/app/contacts")).await.expect("contacts");
        wait_for_path(&browser, "/app/contacts").await;
        let all = results_text(&browser).await;
        assert!(all.contains("Maya Okafor") && all.contains("Tom Berg"), "{all}");
        check_page(&browser, "contacts table").await;

        // Search as you type: htmx swaps the rows and pushes the URL.
        browser
            .find(Locator::Id("q"))
            .await
            .expect("search box")
            .send_keys("oka")
            .await
            .expect("type");
        wait_until(
            &browser,
            "the rows filtered by the search",
            "const r = document.getElementById('contact-results'); return !!r && r.innerText.includes('Maya Okafor') && !r.innerText.includes('Tom Berg') && location.search.includes('q=oka');",
        )
        .await;

        // The tag filter, from a fresh table.
        browser.goto(&format!("{base}/app/contacts")).await.expect("contacts");
        wait_for_path(&browser, "/app/contacts").await;
        browser
            .find(Locator::Css("#tag option[value='vip']"))
            .await
            .expect("the vip tag is offered")
            .click()
            .await
            .expect("choose vip");
        // Without JavaScript the button applies it; with htmx the change already has.
        wait_until(
            &browser,
            "the rows filtered by the tag",
            "const r = document.getElementById('contact-results'); return !!r && r.innerText.includes('Maya Okafor') && !r.innerText.includes('Tom Berg');",
        )
        .await;
        check_page(&browser, "filtered table").await;

        // Open the record from the table and add a note.
        click(&browser, "#contact-results a[href^='/app/contacts/']").await;
        wait_until(
            &browser,
            "Maya's record",
            "return document.readyState === 'complete' && !!document.querySelector('h1') && document.querySelector('h1').innerText === 'Maya Okafor';",
        )
        .await;
        fill(&browser, "body", "Prefers morning appointments.").await;
        click(&browser, "form[action$='/notes'] button[type='submit']").await;
        wait_until(
            &browser,
            "the note on the record",
            "return document.body.innerText.includes('Note added.') && !!document.getElementById('notes') && document.getElementById('notes').innerText.includes('Prefers morning appointments.');",
        )
        .await;
        check_page(&browser, "record with a note").await;

        // A pipeline, and a deal opened from the record.
        browser.goto(&format!("{base}/app/pipelines")).await.expect("pipelines");
        wait_for_path(&browser, "/app/pipelines").await;
        check_page(&browser, "pipelines").await;
        fill(&browser, "name", "Treatments").await;
        fill(&browser, "stages", "Lead, Quoted, Won").await;
        click(&browser, "form[action='/app/pipelines'] button[type='submit']").await;
        wait_until(
            &browser,
            "the new board",
            "return location.pathname.startsWith('/app/pipelines/') && document.readyState === 'complete' && document.body.innerText.includes('Pipeline created.');",
        )
        .await;
        let board_url = browser.current_url().await.expect("url").to_string();
        browser.back().await.expect("back");
        browser.back().await.expect("back to the record");
        wait_until(
            &browser,
            "Maya's record again",
            "return document.readyState === 'complete' && !!document.querySelector('h1') && document.querySelector('h1').innerText === 'Maya Okafor';",
        )
        .await;
        browser.refresh().await.expect("reload the record");
        wait_until(&browser, "the new-deal form", "return !!document.getElementById('deal-title');").await;
        click(&browser, "details:has(form[action$='/deals']) > summary").await;
        fill(&browser, "deal-title", "Whitening").await;
        fill(&browser, "deal-value", "450").await;
        click(&browser, "form[action$='/deals'] button[type='submit']").await;
        wait_until(
            &browser,
            "the deal on the record",
            "return document.body.innerText.includes('Deal created.') && document.body.innerText.includes('Whitening');",
        )
        .await;

        // On the board: moved with the keyboard, then dragged.
        browser.goto(&board_url).await.expect("board");
        wait_until(&browser, "the board", "return document.querySelectorAll('[data-stage-column]').length === 3 && !!document.querySelector('[data-deal]');").await;
        check_page(&browser, "board").await;
        let column_has = |index: usize, title: &str| {
            format!(
                "const c = document.querySelectorAll('[data-stage-column]')[{index}]; return !!c && c.innerText.includes({title:?});"
            )
        };
        wait_until(&browser, "the deal in Lead", &column_has(0, "Whitening")).await;
        let select = browser
            .find(Locator::Css("[data-deal] select[name='stage_id']"))
            .await
            .expect("the Move-to select");
        select.send_keys("\u{E015}").await.expect("arrow down");
        browser
            .find(Locator::Css("[data-deal] button[type='submit']"))
            .await
            .expect("the Move button")
            .send_keys("\u{E007}")
            .await
            .expect("enter");
        wait_until(&browser, "the deal moved to Quoted by keyboard", &column_has(1, "Whitening")).await;
        wait_until(&browser, "the move announced", "return document.getElementById('status').innerText.includes('Deal moved.');").await;
        // The swapped-in board is wired for dragging once htmx announces it.
        wait_until(
            &browser,
            "the new board wired for dragging",
            "const card = document.querySelector('[data-deal]'); return !!card && card.getAttribute('draggable') === 'true';",
        )
        .await;
        browser
            .execute(
                "const card = document.querySelector('[data-deal]');
                 const column = document.querySelectorAll('[data-stage-column]')[2];
                 const data = new DataTransfer();
                 card.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: data}));
                 column.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: data}));
                 column.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: data}));",
                vec![],
            )
            .await
            .expect("drag and drop");
        wait_until(&browser, "the deal dragged to Won", &column_has(2, "Whitening")).await;
        browser.refresh().await.expect("reload the board");
        wait_until(&browser, "the move kept", &column_has(2, "Whitening")).await;
        check_page(&browser, "board after the moves").await;

        // Every other page of the app fits the phone and passes axe-core.
        browser.goto(&format!("{base}/app/contacts?q=okafor")).await.expect("contacts");
        wait_for_path(&browser, "/app/contacts").await;
        click(&browser, "#contact-results a[href^='/app/contacts/']").await;
        wait_until(&browser, "the record", "return document.readyState === 'complete' && location.pathname.split('/').length === 4;").await;
        let record = browser.current_url().await.expect("url").path().to_string();
        // The export of the filtered table, polled by htmx until done.
        browser.goto(&format!("{base}/app/contacts?tag=vip")).await.expect("contacts");
        wait_for_path(&browser, "/app/contacts").await;
        click(&browser, "form[action='/app/contacts/export'] button[type='submit']").await;
        wait_until(
            &browser,
            "the export finished",
            "return location.pathname.startsWith('/app/exports/') && document.body.innerText.includes('Done: 1 contact exported.');",
        )
        .await;
        check_page(&browser, "export").await;

        // A CSV imported through the wizard: uploaded, previewed, a column
        // mapped by hand, started, and its progress followed to the result.
        let files = tempfile::tempdir().expect("a folder for the file");
        let csv = files.path().join("patients.csv");
        std::fs::write(
            &csv,
            "First name,Last name,E-mail Address,Handy\nNora,Quinn,nora@example.com,+44 20 7946 0123\nOwen,Pike,owen@example.com,\nNo,Body,,\n",
        )
        .expect("write the CSV");
        browser.goto(&format!("{base}/app/imports/new")).await.expect("import page");
        wait_for_path(&browser, "/app/imports/new").await;
        check_page(&browser, "import upload").await;
        browser
            .find(Locator::Id("file"))
            .await
            .expect("the file input")
            .send_keys(csv.to_str().expect("a UTF-8 path"))
            .await
            .expect("choose the file");
        click(&browser, "form[action='/app/imports'] button[type='submit']").await;
        wait_until(
            &browser,
            "the mapping page",
            "return location.pathname.endsWith('/map') && document.readyState === 'complete' && document.body.innerText.includes('nora@example.com');",
        )
        .await;
        check_page(&browser, "import mapping").await;
        browser
            .find(Locator::Id("col-3"))
            .await
            .expect("the Handy column's field")
            .select_by_value("phone")
            .await
            .expect("map Handy to the phone");
        fill(&browser, "tags", "imported").await;
        click(&browser, "form[action$='/start'] button[type='submit']").await;
        wait_until(
            &browser,
            "the import finished",
            "return location.pathname.startsWith('/app/imports/') && document.body.innerText.includes('Done: 3 rows read.');",
        )
        .await;
        let result = results_page_text(&browser).await;
        assert!(result.contains("2 created") && result.contains("1 not imported"), "{result}");
        browser
            .find(Locator::Css("a[href$='/errors.csv']"))
            .await
            .expect("the error report's link");
        check_page(&browser, "import result").await;
        browser.goto(&format!("{base}/app/contacts?tag=imported")).await.expect("contacts");
        wait_for_path(&browser, "/app/contacts").await;
        let imported = results_text(&browser).await;
        assert!(imported.contains("Nora Quinn") && imported.contains("Owen Pike"), "{imported}");
        // The table's column choice and order, unfolded.
        browser
            .execute("document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;", vec![])
            .await
            .expect("unfold");
        check_page(&browser, "contacts with the column choice open").await;

        // A field of the record edited in place (htmx swaps in its form and back).
        browser.goto(&format!("{base}{record}")).await.expect("the record");
        wait_for_path(&browser, &record).await;
        click(&browser, "#field-company a.inline-edit").await;
        wait_until(
            &browser,
            "the company's form in place",
            "return !!document.getElementById('inline-field-company');",
        )
        .await;
        check_page(&browser, "record with a field being edited").await;
        fill(&browser, "inline-field-company", "Okafor Dental").await;
        click(&browser, "#field-company button[type='submit']").await;
        wait_until(
            &browser,
            "the company saved in place",
            "const f = document.getElementById('field-company'); return !!f && !f.querySelector('form') && f.innerText.includes('Okafor Dental');",
        )
        .await;
        browser.refresh().await.expect("reload the record");
        wait_until(
            &browser,
            "the company kept",
            "const f = document.getElementById('field-company'); return document.readyState === 'complete' && !!f && f.innerText.includes('Okafor Dental');",
        )
        .await;
        // The merge page: the other contact found, then both side by side.
        browser
            .goto(&format!("{base}{record}/merge?q=quinn"))
            .await
            .expect("the merge page");
        wait_for_path(&browser, &format!("{record}/merge")).await;
        check_page(&browser, "merge: finding the other contact").await;
        click(&browser, "#merge-candidates a").await;
        wait_until(
            &browser,
            "both contacts side by side",
            "return document.readyState === 'complete' && !!document.getElementById('merge-compare');",
        )
        .await;
        check_page(&browser, "merge: side by side").await;
        for path in [
            format!("{record}/edit"),
            "/app/contacts/new".to_string(),
            "/app/calendar".to_string(),
            "/app/scheduling".to_string(),
            "/app/settings".to_string(),
            "/app/settings/team".to_string(),
            "/app/settings/audit".to_string(),
            "/app/profile".to_string(),
            "/app".to_string(),
        ] {
            browser.goto(&format!("{base}{path}")).await.expect("open page");
            wait_for_path(&browser, &path).await;
            // Open every folded section, so what it holds is checked too.
            browser
                .execute("document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;", vec![])
                .await
                .expect("unfold");
            check_page(&browser, &path).await;
        }
        // Signed out, the account pages.
        click(&browser, "form[action='/sign-out'] button[type='submit']").await;
        wait_for_path(&browser, "/sign-in").await;
        for path in ["/forgot-password", "/reset-password", "/verify-email", "/accept-invitation"] {
            browser.goto(&format!("{base}{path}")).await.expect("open page");
            wait_for_path(&browser, path).await;
            check_page(&browser, path).await;
        }
    }
    .await;
    browser.close().await.expect("close browser");
    drop(server);
    result
}

/// The value of a form field (or any element's `value`) by id.
async fn value_of(browser: &Client, id: &str) -> String {
    browser
        .execute(
            &format!("const e = document.getElementById({id:?}); return e ? e.value : '';"),
            vec![],
        )
        .await
        .expect("script")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Availability and an event type set through the editors, booked from the
/// public page in a second browser (its own cookies: a visitor, not the
/// business), seen on the week calendar and in the appointments list,
/// cancelled there, and signed out. The editors, the calendar and the list
/// fit a 375 px phone and pass axe-core.
#[tokio::test]
async fn availability_and_an_event_type_set_in_the_editors_are_booked_by_a_visitor_and_cancelled_on_the_calendar() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = LocalServer::start(data.path());
    let base = server.base_url.clone();
    let driver = ChromeDriver::start_in_zone("Europe/London");
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = phone_session(&driver, profile.path(), PHONE_WIDTH, 800).await;
    let visitor_profile = tempfile::tempdir().expect("visitor profile dir");
    let visitor = phone_session(&driver, visitor_profile.path(), PHONE_WIDTH, 800).await;

    let result = async {
        browser.goto(&format!("{base}/sign-up")).await.expect("sign-up");
        wait_for_path(&browser, "/sign-up").await;
        fill(&browser, "name", "Dana Whitfield").await;
        fill(&browser, "business_name", "Whitfield Dental").await;
        fill(&browser, "email", "dana@whitfield-dental.example").await;
        fill(&browser, "password", "molar-crown-42-bridge").await;
        click(&browser, "form[action='/sign-up'] button[type='submit']").await;
        wait_for_path(&browser, "/app").await;

        // Availability: every day, all day, so a slot is open whenever this runs.
        browser.goto(&format!("{base}/app/scheduling")).await.expect("scheduling");
        wait_for_path(&browser, "/app/scheduling").await;
        fill(&browser, "name", "Surgery hours").await;
        fill(&browser, "time_zone", "Europe/London").await;
        for day in ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] {
            fill(&browser, day, "00:00-12:00, 12:00-24:00").await;
        }
        click(&browser, "form[action='/app/schedules'] button[type='submit']").await;
        wait_until(
            &browser,
            "the schedule created",
            "return document.body.innerText.includes('Schedule created.');",
        )
        .await;
        // Its editor: the hours as typed, changed and saved.
        click(&browser, "a[href^='/app/schedules/']").await;
        wait_until(
            &browser,
            "the schedule editor",
            "return location.pathname.startsWith('/app/schedules/') && document.readyState === 'complete';",
        )
        .await;
        check_page(&browser, "schedule editor").await;
        assert_eq!(value_of(&browser, "monday").await, "00:00-12:00, 12:00-24:00");
        fill(&browser, "name", "Every day").await;
        click(&browser, "form[action^='/app/schedules/'] button[type='submit']").await;
        wait_until(
            &browser,
            "the schedule saved",
            "return location.pathname === '/app/scheduling' && document.body.innerText.includes('Schedule saved.') && document.body.innerText.includes('Every day');",
        )
        .await;

        // An event type on it, then every setting in its editor.
        fill(&browser, "title", "Check-up").await;
        fill(&browser, "slug", "check-up").await;
        fill(&browser, "durations", "30").await;
        click(&browser, "form[action='/app/event-types'] button[type='submit']").await;
        wait_until(
            &browser,
            "the event type created",
            "return document.body.innerText.includes('Event type created');",
        )
        .await;
        browser
            .execute("document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;", vec![])
            .await
            .expect("unfold");
        check_page(&browser, "scheduling with an event type").await;
        click(&browser, "a[href^='/app/event-types/']").await;
        wait_until(
            &browser,
            "the event type editor",
            "return location.pathname.startsWith('/app/event-types/') && document.readyState === 'complete';",
        )
        .await;
        // The copy button is shown once its script runs (hidden without it).
        wait_until(
            &browser,
            "the copy button",
            "const b = document.querySelector('button[data-copy]'); return !!b && !b.hidden;",
        )
        .await;
        check_page(&browser, "event type editor").await;
        let link = value_of(&browser, "public-link").await;
        assert!(link.ends_with("/check-up"), "{link}");
        fill(&browser, "title", "Check-up and clean").await;
        fill(&browser, "buffer_after", "10").await;
        click(&browser, "form[action^='/app/event-types/'] button[type='submit']").await;
        wait_until(
            &browser,
            "the event type saved",
            "return location.pathname === '/app/scheduling' && document.body.innerText.includes('Event type saved.') && document.body.innerText.includes('Check-up and clean');",
        )
        .await;

        // A visitor books it from the public page, in a browser of their own.
        let path = link.split_once("/book/").map(|(_, rest)| format!("/book/{rest}")).expect("a /book/ link");
        visitor.goto(&format!("{base}{path}")).await.expect("booking page");
        wait_until(&visitor, "days listed", "return !!document.querySelector('button.day');").await;
        let day = visitor
            .execute("return document.querySelector('button.day').dataset.date;", vec![])
            .await
            .expect("script")
            .as_str()
            .unwrap_or_default()
            .to_string();
        click(&visitor, "button.day").await;
        wait_until(&visitor, "times listed", "return !!document.querySelector('button.time');").await;
        click(&visitor, "button.time").await;
        wait_until(
            &visitor,
            "the details form",
            "const d = document.getElementById('details'); return !!d && !d.hidden;",
        )
        .await;
        fill(&visitor, "name", "Priya Raman").await;
        fill(&visitor, "email", "priya@example.com").await;
        click(&visitor, "#submit").await;
        wait_until(
            &visitor,
            "the confirmation",
            "const c = document.getElementById('confirmation'); return !!c && !c.hidden;",
        )
        .await;

        // The business sees it on the week calendar and cancels it there.
        let week = format!("/app/calendar?week={day}");
        browser.goto(&format!("{base}{week}")).await.expect("calendar");
        wait_until(
            &browser,
            "the booking on the calendar",
            "return location.pathname === '/app/calendar' && document.body.innerText.includes('Priya Raman') && document.body.innerText.includes('Confirmed');",
        )
        .await;
        browser
            .execute("document.querySelectorAll('details').forEach(d => { d.open = true; }); return true;", vec![])
            .await
            .expect("unfold");
        check_page(&browser, "calendar with a booking").await;
        let reason = browser
            .execute("return document.querySelector('input[id^=\"reason-\"]').id;", vec![])
            .await
            .expect("script");
        fill(
            &browser,
            reason.as_str().unwrap_or_default(),
            "The surgery is closed that day.",
        )
        .await;
        click(&browser, "form[action^='/app/appointments/'] button.danger").await;
        wait_until(
            &browser,
            "the booking cancelled",
            "return location.pathname === '/app/calendar' && document.body.innerText.includes('Appointment cancelled.') && document.body.innerText.includes('Cancelled');",
        )
        .await;

        // The list view shows it cancelled too.
        browser
            .goto(&format!("{base}/app/appointments?status=cancelled&from={day}&to={day}"))
            .await
            .expect("appointments");
        wait_until(
            &browser,
            "the cancelled booking listed",
            "return location.pathname === '/app/appointments' && document.body.innerText.includes('Priya Raman');",
        )
        .await;
        check_page(&browser, "appointments list").await;

        // Priya is a contact now: her next visit is booked from her record,
        // at one of the free times the public page offers.
        click(&browser, "li.appointment a[href^='/app/contacts/']").await;
        wait_until(
            &browser,
            "Priya's record",
            "return location.pathname.startsWith('/app/contacts/') && document.body.innerText.includes('Book an appointment');",
        )
        .await;
        check_page(&browser, "contact record with appointments").await;
        click(&browser, "a[href$='/book']").await;
        wait_until(
            &browser,
            "the free times",
            "return location.pathname.endsWith('/book') && !!document.querySelector('input[name=\"start\"]');",
        )
        .await;
        check_page(&browser, "booking for a contact").await;
        // A week on, so the first free time is nowhere near the minimum
        // notice of the real clock this test runs on.
        let first_day = browser
            .execute("return document.getElementById('from').value;", vec![])
            .await
            .expect("script")
            .as_str()
            .unwrap_or_default()
            .to_string();
        click(&browser, "nav[aria-label='Days'] a:last-child").await;
        wait_until(
            &browser,
            "the free times a week on",
            &format!(
                "return location.pathname.endsWith('/book') && document.getElementById('from').value !== {first_day:?} && !!document.querySelector('input[name=\"start\"]');"
            ),
        )
        .await;
        click(&browser, "input[name='start']").await;
        click(&browser, "form[method='post'][action$='/book'] button[type='submit']").await;
        wait_until(
            &browser,
            "booked for the contact",
            "return location.pathname.startsWith('/app/contacts/') && document.body.innerText.includes('Appointment booked');",
        )
        .await;

        // A pipeline's editor fits the phone too.
        browser.goto(&format!("{base}/app/pipelines")).await.expect("pipelines");
        wait_for_path(&browser, "/app/pipelines").await;
        fill(&browser, "name", "New patients").await;
        fill(&browser, "stages", "Enquiry, Consultation booked, Treatment plan accepted").await;
        click(&browser, "form[action='/app/pipelines'] button[type='submit']").await;
        wait_until(
            &browser,
            "the board",
            "return document.body.innerText.includes('Pipeline created.');",
        )
        .await;
        click(&browser, "a[href$='/edit']").await;
        wait_until(
            &browser,
            "the pipeline editor",
            "return location.pathname.endsWith('/edit') && document.readyState === 'complete';",
        )
        .await;
        check_page(&browser, "pipeline editor").await;

        click(&browser, "form[action='/sign-out'] button[type='submit']").await;
        wait_for_path(&browser, "/sign-in").await;
    }
    .await;
    visitor.close().await.expect("close the visitor's browser");
    browser.close().await.expect("close browser");
    drop(server);
    result
}

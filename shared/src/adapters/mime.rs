//! An `Email` as an RFC 5322 message, built by lettre: the outbox stores
//! its text, the SMTP mailer sends it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};

use crate::ports::mailer::{Email, MailError};

/// The message from `from` (`Name <address>`); `message_id` is the
/// `Message-ID` header's value with its angle brackets, lettre's own if `None`.
pub fn message(from: &str, email: &Email, message_id: Option<String>) -> Result<lettre::Message, MailError> {
    let rejected = |what: &str| MailError::Rejected(format!("invalid {what}"));
    let from: Mailbox = from.parse().map_err(|_| rejected("sender"))?;
    let to: Mailbox = email.to.parse().map_err(|_| rejected("recipient"))?;
    let body = match &email.html {
        Some(html) => MultiPart::alternative_plain_html(email.text.clone(), html.clone()),
        None => MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone())),
    };
    let mut mixed = MultiPart::mixed().multipart(body);
    for attachment in &email.attachments {
        let bytes = STANDARD
            .decode(&attachment.content_base64)
            .map_err(|_| rejected("attachment"))?;
        let content_type = ContentType::parse(&attachment.content_type).map_err(|_| rejected("attachment type"))?;
        mixed = mixed.singlepart(MimeAttachment::new(attachment.filename.clone()).body(bytes, content_type));
    }
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone());
    if message_id.is_some() {
        builder = builder.message_id(message_id);
    }
    builder
        .multipart(mixed)
        .map_err(|err| MailError::Rejected(err.to_string()))
}

//! The password policy: 10–128 characters, not the email, not a common password.

/// Common passwords long enough to pass the length rule (shorter ones fail it
/// anyway). Checked case-insensitively.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789012",
    "0123456789",
    "0987654321",
    "1111111111",
    "0000000000",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "password12",
    "password123",
    "password1234",
    "password1!",
    "passw0rd12",
    "p@ssw0rd123",
    "iloveyou12",
    "abc1234567",
    "abcdefghij",
    "abcd123456",
    "letmein123",
    "welcome123",
    "welcome1234",
    "administrator",
    "admin12345",
    "admin123456",
    "changeme123",
    "football123",
    "baseball123",
    "sunshine123",
    "princess123",
    "monkey12345",
    "dragon12345",
    "superman123",
    "trustno1234",
    "starwars123",
    "konnecs123",
    "konnecs1234",
    "qazwsxedcrfv",
    "zaq12wsxcde",
    "aaaaaaaaaa",
    "passwordpassword",
    "mypassword1",
    "secret1234",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    TooShort,
    TooLong,
    SameAsEmail,
    TooCommon,
}

impl PasswordError {
    pub fn code(self) -> &'static str {
        match self {
            PasswordError::TooShort => "password_too_short",
            PasswordError::TooLong => "password_too_long",
            PasswordError::SameAsEmail => "password_equals_email",
            PasswordError::TooCommon => "password_too_common",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            PasswordError::TooShort => "Use at least 10 characters.",
            PasswordError::TooLong => "Use at most 128 characters.",
            PasswordError::SameAsEmail => "The password must not be your email address.",
            PasswordError::TooCommon => "This password is too common; choose another.",
        }
    }
}

/// Checks a new password. Length counts characters, not bytes.
pub fn check_new_password(password: &str, email: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length < 10 {
        return Err(PasswordError::TooShort);
    }
    if length > 128 {
        return Err(PasswordError::TooLong);
    }
    let lowered = password.to_lowercase();
    if lowered == email.trim().to_lowercase() {
        return Err(PasswordError::SameAsEmail);
    }
    if COMMON.contains(&lowered.as_str()) {
        return Err(PasswordError::TooCommon);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy_bounds_length_in_characters() {
        assert_eq!(check_new_password("short", "a@b.co"), Err(PasswordError::TooShort));
        assert_eq!(
            check_new_password("ääääääääää", "a@b.co"),
            Ok(()),
            "10 characters, 20 bytes"
        );
        assert_eq!(
            check_new_password(&"x".repeat(129), "a@b.co"),
            Err(PasswordError::TooLong)
        );
        assert_eq!(check_new_password(&"x1".repeat(64), "a@b.co"), Ok(()));
    }

    #[test]
    fn password_equal_to_email_or_common_is_rejected() {
        assert_eq!(
            check_new_password("Ann@Example.com", "ann@example.com"),
            Err(PasswordError::SameAsEmail)
        );
        assert_eq!(
            check_new_password("Password123", "a@b.co"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(check_new_password("correct horse battery", "a@b.co"), Ok(()));
    }
}

//! EventBridge rate expressions, shared by the template and the local runtime.

use std::time::Duration;

/// Parses `rate(1 minute)`, `rate(5 minutes)`, `rate(1 hour)`, `rate(2 days)`,
/// following EventBridge's rules: singular unit only for 1, plural otherwise.
pub fn parse_rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.split_once(' ')?;
    let count: u64 = count.parse().ok().filter(|n| *n > 0)?;
    let unit_seconds = match (count, unit) {
        (1, "minute") | (2.., "minutes") => 60,
        (1, "hour") | (2.., "hours") => 3_600,
        (1, "day") | (2.., "days") => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count.checked_mul(unit_seconds)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions_follow_eventbridge_grammar() {
        assert_eq!(parse_rate("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(parse_rate("rate(15 minutes)"), Some(Duration::from_secs(900)));
        assert_eq!(parse_rate("rate(1 hour)"), Some(Duration::from_secs(3_600)));
        assert_eq!(parse_rate("rate(2 days)"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_rate("rate(1 minutes)"), None, "plural needs a count above 1");
        assert_eq!(parse_rate("rate(5 minute)"), None, "singular only for 1");
        assert_eq!(parse_rate("rate(0 minutes)"), None);
        assert_eq!(parse_rate("cron(0 * * * ? *)"), None);
    }
}

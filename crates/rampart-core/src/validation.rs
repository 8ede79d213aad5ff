//! Field-level validation errors: every parser reports all bad fields at once, each named by the
//! path the client sent, so a form can show every problem in one round trip.

use std::fmt;
use std::time::Duration;

/// One rejected field: its path as the client wrote it (`ports[2]`, `http.body_limit`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The most errors kept: past it they are only counted, so that a request naming 65,536 bad
/// targets makes neither an answer nor the memory behind it of one error each.
pub const ERRORS_MAX: usize = 1000;

/// A non-empty collection of field errors: the first [`ERRORS_MAX`], and a count of the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
    left_out: usize,
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() < ERRORS_MAX {
            self.errors.push(FieldError { field: field.into(), message: message.into() });
        } else {
            self.left_out += 1;
        }
    }

    /// How many errors were counted past the first [`ERRORS_MAX`] and not kept.
    pub fn left_out(&self) -> usize {
        self.left_out
    }

    /// Records the error of `result`, if any, under `field`, and gives back the value otherwise.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.errors.iter()
    }

    /// `Ok(value)` when nothing was recorded, the errors otherwise.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Self> {
        if self.is_empty() { Ok(value()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", error.field, error.message)?;
        }
        if self.left_out > 0 {
            write!(f, "; and {} more", self.left_out)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// The longest any configured duration may be: a year, with a day to spare. A time added to now
/// (an expiry, a lease) must stay a time the clock and both databases can hold.
pub const DURATION_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// Checks a configured duration: longer than zero and at most [`DURATION_MAX`].
pub fn check_duration(value: Duration) -> Result<(), String> {
    if !value.is_zero() && value <= DURATION_MAX {
        Ok(())
    } else {
        Err("must be longer than zero and at most 366 days".into())
    }
}

/// Checks free text a person wrote (a note, a reason): at most `max` characters, and no control
/// characters but line breaks and tabs. PostgreSQL cannot store a NUL in text at all, and the
/// other controls only disguise what is shown.
pub fn check_free_text(text: &str, max: usize) -> Result<(), String> {
    if text.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        Err("must not contain control characters other than line breaks and tabs".into())
    } else {
        Ok(())
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_past_the_most_kept_are_counted_not_kept() {
        let mut errors = ValidationErrors::new();
        for index in 0..ERRORS_MAX + 500 {
            errors.add(format!("targets[{index}]"), "not in scope");
        }
        assert_eq!(errors.iter().count(), ERRORS_MAX);
        assert_eq!(errors.left_out(), 500);
        assert!(errors.to_string().ends_with("; and 500 more"));
        assert_eq!(errors.into_iter().last().map(|error| error.field), Some(format!("targets[{}]", ERRORS_MAX - 1)));
    }

    #[test]
    fn free_text_takes_line_breaks_and_tabs_but_no_other_control() {
        assert!(check_free_text("two\nlines\r\n\twith a tab", 100).is_ok());
        assert!(check_free_text(&"é".repeat(10), 10).is_ok());
        assert!(check_free_text(&"é".repeat(11), 10).is_err());
        for bad in ["a\0b", "\u{1b}[31mred", "bell\u{7}"] {
            assert!(check_free_text(bad, 100).is_err(), "{bad:?} should be refused");
        }
    }
}

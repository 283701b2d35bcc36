//! Numbers written in decimal on the stack, for the text of requests: the formatting machinery
//! and a `String` per number cost more than the rest of a request's head.

/// A number in decimal, held on the stack.
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    /// `value` in decimal.
    pub(crate) fn of(value: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = value;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    /// The digits as text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[self.start..]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        for value in [0, 1, 9, 10, 7777, 65_535, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Decimal::of(value).as_str(), value.to_string());
        }
    }
}

//! `words!`: an enum whose values are a closed set of words, stored and sent as text. Every such
//! enum of the domain is declared with it, so its text, its list and its parsing cannot drift
//! apart.

/// Declares a closed set of words: a `pub enum` with `Clone, Copy, Debug, PartialEq, Eq, Hash`
/// (more derives can be given as attributes), and
/// - `ALL`, every value in the order written;
/// - `as_str`, the value's text, and `Display`, the same text;
/// - `FromStr`, which takes exactly a value's text and refuses anything else with "must be one of
///   a, b, c", or with the message given after `else`.
///
/// ```ignore
/// words!(
///     /// What a node is.
///     NodeKind { Honeypot => "honeypot", Agent => "agent" }
///     else "must be honeypot or agent"
/// );
/// ```
macro_rules! words {
    (@refusal $name:ident) => {{
        let words: Vec<&str> = $name::ALL.iter().map(|word| word.as_str()).collect();
        format!("must be one of {}", words.join(", "))
    }};
    (@refusal $name:ident $message:literal) => {
        String::from($message)
    };
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)? }
        $(else $message:literal)?
    ) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $(#[$meta])*
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The value's text, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|word| word.as_str() == s)
                    .ok_or_else(|| $crate::words::words!(@refusal $name $($message)?))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use words;

#[cfg(test)]
mod tests {
    words!(
        /// Two words, refused with the list.
        Listed { First => "first", SecondOne => "second_one" }
    );

    words!(
        /// Two words, refused with a message of their own, ordered by declaration.
        #[derive(PartialOrd, Ord)]
        Told {
            /// The lesser.
            Low => "low",
            High => "high",
        }
        else "must be low or high"
    );

    #[test]
    fn every_word_round_trips_through_its_text() {
        for word in Listed::ALL {
            assert_eq!(word.as_str().parse::<Listed>(), Ok(word));
            assert_eq!(word.to_string(), word.as_str());
        }
        assert_eq!(Listed::SecondOne.as_str(), "second_one");
        assert_eq!(Told::ALL, [Told::Low, Told::High]);
        assert!(Told::Low < Told::High);
    }

    #[test]
    fn anything_else_is_refused_with_the_list_or_the_message_given() {
        assert_eq!("First".parse::<Listed>(), Err("must be one of first, second_one".to_owned()));
        assert_eq!("".parse::<Listed>(), Err("must be one of first, second_one".to_owned()));
        assert_eq!("medium".parse::<Told>(), Err("must be low or high".to_owned()));
    }
}

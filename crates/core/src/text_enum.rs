//! `text_enum!`: enums whose values travel as fixed words (`info`, `QUEUED`, `USER`).
//!
//! Each gets `as_str`, a case-insensitive `parse` whose error lists the accepted words,
//! `Display`, and serde in both directions, so every enum of the API is read and written
//! the same way.

/// A word that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`, expected one of {}", expected.join(", "))]
pub struct UnknownValue {
    pub what: &'static str,
    pub given: String,
    pub expected: Vec<&'static str>,
}

/// Declares an enum whose values are words; see the module documentation.
/// `Variant = "word" | "alias"` accepts the alias on input and writes the word.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The words accepted on input, in declaration order (aliases left out).
            pub const WORDS: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses a word, ignoring case and surrounding blanks.
            pub fn parse(text: &str) -> Result<Self, $crate::text_enum::UnknownValue> {
                let word = text.trim();
                $(
                    if word.eq_ignore_ascii_case($text) $(|| word.eq_ignore_ascii_case($alias))* {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::text_enum::UnknownValue {
                    what: $what,
                    given: text.to_owned(),
                    expected: Self::WORDS.to_vec(),
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let word = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&word).map_err(::serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                $crate::openapi::words(concat!("A ", $what, "."), Self::WORDS)
            }
        }

        #[cfg(feature = "openapi")]
        impl ::utoipa::ToSchema for $name {}
    };
}

#[cfg(test)]
mod tests {
    crate::text_enum! {
        enum Colour ("colour") {
            Red = "red",
            Grey = "grey" | "gray",
        }
    }

    #[test]
    fn parses_words_and_aliases_in_any_case() {
        assert_eq!(Colour::parse("RED"), Ok(Colour::Red));
        assert_eq!(Colour::parse(" Gray "), Ok(Colour::Grey));
        assert_eq!(Colour::Grey.to_string(), "grey");
        assert_eq!(Colour::ALL, &[Colour::Red, Colour::Grey]);
    }

    #[test]
    fn errors_list_the_accepted_words() {
        let error = Colour::parse("blue").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown colour `blue`, expected one of red, grey"
        );
    }

    #[test]
    fn serde_uses_the_words() {
        assert_eq!(serde_json::to_string(&Colour::Grey).unwrap(), "\"grey\"");
        let parsed: Colour = serde_json::from_str("\"gray\"").unwrap();
        assert_eq!(parsed, Colour::Grey);
        let error = serde_json::from_str::<Colour>("\"blue\"").unwrap_err();
        assert!(error.to_string().contains("expected one of red, grey"));
    }
}

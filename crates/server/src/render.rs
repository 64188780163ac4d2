//! Log messages as safe HTML, for the web console and any client that asks with
//! `render=html`: MARKDOWN messages rendered by pulldown-cmark and then sanitised by
//! ammonia (no script, no event handler, no `javascript:` link, no style, no frame);
//! text messages escaped, with their ANSI colour codes (SGR) turned into classed spans
//! and every other escape sequence dropped.

use std::fmt::Write as _;

use pipelog_core::log_entry::MessageType;

/// The message as HTML that is safe to put in a page as it is.
pub(crate) fn message_html(message: &str, kind: MessageType) -> String {
    match kind {
        MessageType::Markdown => markdown_html(message),
        _ => ansi_html(message),
    }
}

fn markdown_html(message: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(
        message,
        pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_STRIKETHROUGH,
    );
    let mut html = String::with_capacity(message.len() + message.len() / 4);
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer nofollow"))
        .rm_tags(["img"])
        .clean(&html)
        .to_string()
}

/// The style a run of text is drawn in, as SGR codes set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Style {
    /// 0-7 normal, 8-15 bright.
    foreground: Option<u8>,
    background: Option<u8>,
    bold: bool,
    italic: bool,
    underline: bool,
}

impl Style {
    fn classes(self) -> String {
        let mut classes = Vec::new();
        if let Some(colour) = self.foreground {
            classes.push(format!("ansi-fg-{colour}"));
        }
        if let Some(colour) = self.background {
            classes.push(format!("ansi-bg-{colour}"));
        }
        for (on, class) in [
            (self.bold, "ansi-bold"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if on {
                classes.push(class.to_owned());
            }
        }
        classes.join(" ")
    }

    /// Applies one SGR sequence's parameters.
    fn apply(&mut self, parameters: &str) {
        let mut codes = parameters.split(';').map(|code| {
            if code.is_empty() {
                Some(0)
            } else {
                code.parse::<u16>().ok()
            }
        });
        while let Some(code) = codes.next() {
            let Some(code) = code else { continue };
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => self.bold = false,
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.foreground = Some((code - 30) as u8),
                39 => self.foreground = None,
                40..=47 => self.background = Some((code - 40) as u8),
                49 => self.background = None,
                90..=97 => self.foreground = Some((code - 90 + 8) as u8),
                100..=107 => self.background = Some((code - 100 + 8) as u8),
                // Extended colours: the first 16 of the 256-colour palette map to the
                // classes; others, and 24-bit colours, are passed over.
                38 | 48 => {
                    let colour = match codes.next().flatten() {
                        Some(5) => codes.next().flatten().filter(|n| *n < 16).map(|n| n as u8),
                        Some(2) => {
                            codes.by_ref().take(3).for_each(drop);
                            None
                        }
                        _ => None,
                    };
                    if let Some(colour) = colour {
                        if code == 38 {
                            self.foreground = Some(colour);
                        } else {
                            self.background = Some(colour);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn ansi_html(message: &str) -> String {
    let mut html = String::with_capacity(message.len() + 16);
    let mut style = Style::default();
    let mut open = false;
    let mut rest = message;
    while let Some(escape) = rest.find('\u{1b}') {
        escape_into(&mut html, &rest[..escape]);
        let after = &rest[escape + 1..];
        let Some(sequence) = after.strip_prefix('[') else {
            // A lone ESC, or a sequence other than CSI: drop the ESC and its next character.
            rest = after
                .char_indices()
                .nth(1)
                .map_or("", |(at, _)| &after[at..]);
            continue;
        };
        // CSI: parameter and intermediate bytes, then one final byte in 0x40..=0x7E.
        let end = sequence.find(|c: char| ('\u{40}'..='\u{7e}').contains(&c));
        let Some(end) = end else {
            rest = "";
            break;
        };
        if sequence.as_bytes()[end] == b'm' {
            let before = style;
            style.apply(&sequence[..end]);
            if style != before {
                if open {
                    html.push_str("</span>");
                    open = false;
                }
                if style != Style::default() {
                    let _ = write!(html, "<span class=\"{}\">", style.classes());
                    open = true;
                }
            }
        }
        rest = &sequence[end + 1..];
    }
    escape_into(&mut html, rest);
    if open {
        html.push_str("</span>");
    }
    html
}

/// Appends `text` escaped for HTML content and attributes; other control characters than
/// tab, newline and carriage return are dropped.
fn escape_into(html: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            '\t' | '\n' | '\r' => html.push(c),
            c if c.is_control() => {}
            c => html.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_loses_anything_active() {
        let html = markdown_html(
            "**bold** and `code`\n\n- one\n- two\n\n<script>alert(1)</script>\n\n\
             <img src=x onerror=\"alert(1)\"> [link](javascript:alert(1)) \
             [ok](https://example.com) <a href=\"https://x\" onclick=\"alert(1)\">x</a> \
             <iframe src=\"https://x\"></iframe><style>*{}</style>",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        for banned in [
            "<script",
            "onerror",
            "javascript:",
            "onclick",
            "<iframe",
            "<style",
            "<img",
        ] {
            assert!(!html.contains(banned), "{banned} survived: {html}");
        }
    }

    #[test]
    fn text_is_escaped_and_colours_become_classes() {
        assert_eq!(
            ansi_html("<b>&'\"</b>\u{7}"),
            "&lt;b&gt;&amp;&#39;&quot;&lt;/b&gt;"
        );
        assert_eq!(
            ansi_html("\u{1b}[31mred\u{1b}[0m plain \u{1b}[1;92mbright\u{1b}[22m still"),
            "<span class=\"ansi-fg-1\">red</span> plain \
             <span class=\"ansi-fg-10 ansi-bold\">bright</span>\
             <span class=\"ansi-fg-10\"> still</span>"
        );
        // Extended colours, other CSI sequences, a lone ESC and a cut sequence.
        assert_eq!(
            ansi_html("\u{1b}[38;5;4mblue\u{1b}[38;2;1;2;3m\u{1b}[2Kx\u{1b}cy\u{1b}[4"),
            "<span class=\"ansi-fg-4\">bluexy</span>"
        );
        assert_eq!(
            ansi_html("\u{1b}[44m<\u{1b}[m"),
            "<span class=\"ansi-bg-4\">&lt;</span>"
        );
    }
}

//! What a page's HTML says: its title, its `<meta name="generator">`, and whether it is a
//! directory listing or a server's default page. Pure; the body is whatever a server sent, so
//! nothing here may panic on any input, every search is bounded by the body (itself bounded by
//! the reader), and every text kept is cut.

/// Most characters of a title or generator kept.
pub const TEXT_MAX: usize = 256;
/// Most `<meta>` tags looked at for a generator.
const META_TAGS_MAX: usize = 256;

/// A page, read once: the body as text and an ASCII-lowercase copy of it (same byte offsets).
pub struct Page<'a> {
    body: &'a str,
    lower: String,
}

impl<'a> Page<'a> {
    pub fn new(body: &'a str) -> Self {
        Self { body, lower: body.to_ascii_lowercase() }
    }

    /// The lowercase body, for substring matches.
    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// The text of the first `<title>`, entities decoded, white space collapsed, cut.
    pub fn title(&self) -> Option<String> {
        let open = self.lower.find("<title")?;
        let start = open + self.lower[open..].find('>')? + 1;
        let end = start + self.lower[start..].find("</title").unwrap_or(self.lower.len() - start);
        let text = clean(&decode_entities(self.body.get(start..end)?));
        (!text.is_empty()).then_some(text)
    }

    /// The `content` of the first `<meta name="generator">`.
    pub fn generator(&self) -> Option<String> {
        let mut from = 0;
        for _ in 0..META_TAGS_MAX {
            let open = from + self.lower[from..].find("<meta")?;
            let end = open + self.lower[open..].find('>').unwrap_or(self.lower.len() - open);
            from = end;
            let tag = &self.lower[open..end];
            if attribute(tag, "name").is_some_and(|(start, len)| &tag[start..start + len] == "generator") {
                let (start, len) = attribute(tag, "content")?;
                let text = clean(&decode_entities(self.body.get(open + start..open + start + len)?));
                return (!text.is_empty()).then_some(text);
            }
        }
        None
    }

    /// Whether the page lists a directory's files (Apache, nginx, lighttpd, IIS, Python).
    pub fn is_directory_listing(&self) -> bool {
        let title = self.title().map(|title| title.to_ascii_lowercase()).unwrap_or_default();
        title.starts_with("index of /")
            || title.starts_with("directory listing for /")
            || self.lower.contains("<h1>index of /")
            || self.lower.contains("<h1>directory listing for /")
            || self.lower.contains("[to parent directory]")
    }

    /// The server whose default ("it works") page this is, if it is one.
    pub fn default_page(&self) -> Option<&'static str> {
        const PAGES: [(&str, &str); 9] = [
            ("apache2 ubuntu default page", "Apache HTTP Server"),
            ("apache2 debian default page", "Apache HTTP Server"),
            ("test page for the apache http server", "Apache HTTP Server"),
            ("<h1>it works!</h1>", "Apache HTTP Server"),
            ("welcome to nginx!", "nginx"),
            ("iis windows server", "Microsoft IIS"),
            ("iisstart.png", "Microsoft IIS"),
            ("welcome to iis", "Microsoft IIS"),
            ("if you're seeing this, you've successfully installed tomcat", "Apache Tomcat"),
        ];
        PAGES.iter().find(|(marker, _)| self.lower.contains(marker)).map(|(_, server)| *server)
    }
}

/// The value of `name="…"` (or `'…'`, or unquoted) in a lowercase tag: its start and length.
fn attribute(tag: &str, name: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = tag[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        // A whole attribute name: preceded by white space, followed by `=` (spaces allowed).
        if !tag[..at].ends_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let rest = tag[from..].trim_start();
        let Some(value) = rest.strip_prefix('=') else { continue };
        let value = value.trim_start();
        let value_at = tag.len() - value.len();
        return Some(match value.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let len = value[1..].find(quote).unwrap_or(value.len() - 1);
                (value_at + 1, len)
            }
            _ => (value_at, value.find(|c: char| c.is_ascii_whitespace() || c == '/').unwrap_or(value.len())),
        });
    }
    None
}

/// The few entities titles use.
fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// One line, white space collapsed, control characters dropped, cut to [`TEXT_MAX`] characters.
pub fn clean(text: &str) -> String {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word.chars().filter(|c| !c.is_control()));
        if line.len() > TEXT_MAX * 4 {
            break;
        }
    }
    line.chars().take(TEXT_MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_and_generator_are_read_from_ordinary_html() {
        let html = "<HTML><head><Title lang=en>\n  Tom &amp; Jerry\t</TITLE>\
            <meta charset=utf-8><META content=\"WordPress 6.4.2\" NAME=\"generator\"></head>";
        let page = Page::new(html);
        assert_eq!(page.title().as_deref(), Some("Tom & Jerry"));
        assert_eq!(page.generator().as_deref(), Some("WordPress 6.4.2"));
        assert_eq!(Page::new("<meta name=generator content=Hugo>").generator().as_deref(), Some("Hugo"));
        assert_eq!(Page::new("<meta name='generator' content='Joomla! 4'>").generator().as_deref(), Some("Joomla! 4"));
        assert_eq!(Page::new("<meta xname=generator content=x>").generator(), None);
        assert_eq!(Page::new("<title></title>").title(), None);
    }

    #[test]
    fn listings_and_default_pages_are_recognised() {
        assert!(Page::new("<html><title>Index of /files</title><h1>Index of /files</h1>").is_directory_listing());
        assert!(Page::new("<title>Directory listing for /</title>").is_directory_listing());
        assert!(!Page::new("<title>An index of things</title>").is_directory_listing());
        assert_eq!(Page::new("<title>Welcome to nginx!</title>").default_page(), Some("nginx"));
        assert_eq!(
            Page::new("<html><body><h1>It works!</h1></body></html>").default_page(),
            Some("Apache HTTP Server")
        );
        assert_eq!(Page::new("<title>IIS Windows Server</title>").default_page(), Some("Microsoft IIS"));
        assert_eq!(Page::new("<title>Shop</title>").default_page(), None);
    }

    #[test]
    fn hostile_html_never_panics_and_what_is_kept_is_bounded() {
        let long = format!("<title>{}</title>", "é".repeat(100_000));
        assert_eq!(Page::new(&long).title().map(|title| title.chars().count()), Some(TEXT_MAX));
        for html in [
            "<title",
            "<title>",
            "<title>unterminated",
            "<meta",
            "<meta name=",
            "<meta name=\"generator",
            "<meta name=generator content=",
            "<meta name=generator content=\"",
            "<meta  name = generator content = 'x",
            "<TITLE>\u{0}\u{7}é</title>",
            "\u{fffd}<title>\u{fffd}",
            "<meta name=generator content=\u{e9}\u{e9}>",
        ] {
            let page = Page::new(html);
            let _ = (page.title(), page.generator(), page.is_directory_listing(), page.default_page());
        }
        let many_metas = "<meta name=x>".repeat(10_000) + "<meta name=generator content=late>";
        assert_eq!(Page::new(&many_metas).generator(), None, "only the first tags are looked at");
    }
}

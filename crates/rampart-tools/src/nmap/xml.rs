//! nmap's XML report (`-oX`), read strictly: at most [`XML_MAX`] bytes and [`NODES_MAX`] nodes,
//! no DTD beyond nmap's own bare `<!DOCTYPE nmaprun>`, no entity declared or referenced beyond
//! XML's five, so a billion-laughs bomb or an external entity is refused before it is expanded
//! or fetched. Every count and text read is bounded; nothing here panics on any input. Also
//! reads the reports users import, so it never trusts one.

use std::net::IpAddr;

use rampart_core::output::Proto;

/// Most bytes of XML read.
pub const XML_MAX: usize = 64 << 20;
/// Most XML nodes (elements, attributes' owners and texts) read.
pub const NODES_MAX: u32 = 2_000_000;
/// Most hosts one report gives.
pub const HOSTS_MAX: usize = 65_536;
/// Most ports of one host.
pub const PORTS_MAX: usize = 131_072;
/// Most script results of one port or host.
pub const SCRIPTS_MAX: usize = 64;
/// Most characters of a script's output kept.
pub const SCRIPT_OUTPUT_MAX: usize = 4096;
/// Most characters of an attribute kept (a product, a version, a host name).
const TEXT_MAX: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the report is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("DTDs and entities are refused: {0}")]
    Dtd(&'static str),
    #[error("the report is not UTF-8")]
    NotUtf8,
    #[error("the report is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the report is not an nmap report (no nmaprun element)")]
    NotNmap,
}

/// What nmap found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NmapReport {
    pub hosts: Vec<NmapHost>,
    /// Hosts or ports past the bounds, not read.
    pub n_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmapHost {
    pub address: IpAddr,
    /// `up`, `down` or `unknown`.
    pub status: String,
    pub hostnames: Vec<String>,
    pub ports: Vec<NmapPort>,
    /// Ports nmap counted by state rather than listing them (`<extraports>`).
    pub extra_ports: Vec<ExtraPorts>,
    pub scripts: Vec<ScriptResult>,
    /// nmap gave up on the host (`--host-timeout`): what it lists is partial.
    pub timed_out: bool,
}

/// Ports of one state nmap counted without listing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraPorts {
    /// `closed`, `filtered`, …
    pub state: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmapPort {
    pub proto: Proto,
    pub port: u16,
    /// `open`, `closed`, `filtered`, `open|filtered`, …
    pub state: String,
    pub service: Option<ServiceInfo>,
    pub scripts: Vec<ScriptResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub name: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra: Option<String>,
    /// `probed` when `-sV` identified it, `table` when guessed from the port number.
    pub method: Option<String>,
}

impl ServiceInfo {
    /// Product, version and extra information, as one line.
    pub fn banner(&self) -> Option<String> {
        let parts: Vec<&str> =
            [&self.product, &self.version, &self.extra].into_iter().filter_map(|part| part.as_deref()).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    pub id: String,
    pub output: String,
}

/// Refuses any DTD but a bare `<!DOCTYPE name>` and any entity declaration; answers the text
/// with a bare DOCTYPE blanked out, for a parser that refuses every DTD.
pub fn without_bare_doctype(text: &str) -> Result<std::borrow::Cow<'_, str>, XmlError> {
    if text.contains("<!ENTITY") {
        return Err(XmlError::Dtd("the document declares an entity"));
    }
    let Some(start) = text.find("<!DOCTYPE") else { return Ok(std::borrow::Cow::Borrowed(text)) };
    let rest = &text[start..];
    let end = rest.find('>').ok_or(XmlError::Dtd("the document type declaration is not closed"))?;
    let declaration = &rest["<!DOCTYPE".len()..end];
    let name = declaration.trim();
    let bare = declaration.starts_with(char::is_whitespace)
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if !bare {
        return Err(XmlError::Dtd("the document type declaration has an internal subset or an external identifier"));
    }
    if rest[end..].contains("<!DOCTYPE") {
        return Err(XmlError::Dtd("the document has two document type declarations"));
    }
    let mut blanked = String::with_capacity(text.len());
    blanked.push_str(&text[..start]);
    blanked.extend(std::iter::repeat_n(' ', end + 1));
    blanked.push_str(&rest[end + 1..]);
    Ok(std::borrow::Cow::Owned(blanked))
}

/// Parses XML bytes strictly (see the module's note), for any report format.
pub fn with_document<T>(
    bytes: &[u8],
    read: impl FnOnce(&roxmltree::Document<'_>) -> Result<T, XmlError>,
) -> Result<T, XmlError> {
    if bytes.len() > XML_MAX {
        return Err(XmlError::TooLarge { max: XML_MAX });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let text = without_bare_doctype(text)?;
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: NODES_MAX, ..Default::default() };
    let document = roxmltree::Document::parse_with_options(&text, options).map_err(|error| match error {
        roxmltree::Error::DtdDetected => XmlError::Dtd("the document has a document type declaration"),
        roxmltree::Error::UnknownEntityReference(..) | roxmltree::Error::EntityReferenceLoop(..) => {
            XmlError::Dtd("the document refers to an entity that is not one of XML's own")
        }
        roxmltree::Error::NodesLimitReached => XmlError::TooLarge { max: XML_MAX },
        other => XmlError::Malformed(other.to_string()),
    })?;
    read(&document)
}

/// Reads an nmap XML report.
pub fn parse(bytes: &[u8]) -> Result<NmapReport, XmlError> {
    with_document(bytes, |document| {
        let root = document.root_element();
        if !root.has_tag_name("nmaprun") {
            return Err(XmlError::NotNmap);
        }
        let mut report = NmapReport::default();
        for host in root.children().filter(|node| node.has_tag_name("host")) {
            if report.hosts.len() >= HOSTS_MAX {
                report.n_dropped += 1;
                continue;
            }
            if let Some(host) = read_host(host, &mut report.n_dropped) {
                report.hosts.push(host);
            }
        }
        Ok(report)
    })
}

fn read_host(host: roxmltree::Node<'_, '_>, n_dropped: &mut u64) -> Option<NmapHost> {
    let address = host
        .children()
        .filter(|node| node.has_tag_name("address"))
        .filter(|node| matches!(node.attribute("addrtype"), Some("ipv4" | "ipv6")))
        .find_map(|node| node.attribute("addr")?.parse::<IpAddr>().ok())?;
    let status = host
        .children()
        .find(|node| node.has_tag_name("status"))
        .and_then(|node| node.attribute("state"))
        .map_or_else(|| "unknown".to_owned(), |state| bounded(state, TEXT_MAX));
    let hostnames = host
        .children()
        .filter(|node| node.has_tag_name("hostnames"))
        .flat_map(|node| node.children())
        .filter(|node| node.has_tag_name("hostname"))
        .filter_map(|node| node.attribute("name"))
        .take(SCRIPTS_MAX)
        .map(|name| bounded(name, TEXT_MAX))
        .collect();
    let mut ports = Vec::new();
    for port in host
        .children()
        .filter(|node| node.has_tag_name("ports"))
        .flat_map(|node| node.children())
        .filter(|node| node.has_tag_name("port"))
    {
        if ports.len() >= PORTS_MAX {
            *n_dropped += 1;
            continue;
        }
        if let Some(port) = read_port(port) {
            ports.push(port);
        }
    }
    let scripts = host
        .children()
        .filter(|node| node.has_tag_name("hostscript"))
        .flat_map(|node| node.children())
        .filter_map(read_script)
        .take(SCRIPTS_MAX)
        .collect();
    let extra_ports = host
        .children()
        .filter(|node| node.has_tag_name("ports"))
        .flat_map(|node| node.children())
        .filter(|node| node.has_tag_name("extraports"))
        .take(SCRIPTS_MAX)
        .map(|node| ExtraPorts {
            state: node.attribute("state").map_or_else(|| "unknown".to_owned(), |state| bounded(state, TEXT_MAX)),
            count: node.attribute("count").and_then(|count| count.parse().ok()).unwrap_or(0),
        })
        .collect();
    let timed_out = host.attribute("timedout") == Some("true");
    Some(NmapHost { address: address.to_canonical(), status, hostnames, ports, extra_ports, scripts, timed_out })
}

fn read_port(port: roxmltree::Node<'_, '_>) -> Option<NmapPort> {
    let proto = match port.attribute("protocol")? {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    let number = port.attribute("portid")?.parse::<u16>().ok()?;
    let state = port
        .children()
        .find(|node| node.has_tag_name("state"))
        .and_then(|node| node.attribute("state"))
        .map_or_else(|| "unknown".to_owned(), |state| bounded(state, TEXT_MAX));
    let service = port.children().find(|node| node.has_tag_name("service")).and_then(|node| {
        let text = |name: &str| node.attribute(name).map(|value| bounded(value, TEXT_MAX)).filter(|v| !v.is_empty());
        Some(ServiceInfo {
            name: text("name")?,
            product: text("product"),
            version: text("version"),
            extra: text("extrainfo"),
            method: text("method"),
        })
    });
    let scripts = port.children().filter_map(read_script).take(SCRIPTS_MAX).collect();
    Some(NmapPort { proto, port: number, state, service, scripts })
}

fn read_script(node: roxmltree::Node<'_, '_>) -> Option<ScriptResult> {
    if !node.has_tag_name("script") {
        return None;
    }
    let id = bounded(node.attribute("id")?, TEXT_MAX);
    let output = bounded(node.attribute("output").unwrap_or_default().trim(), SCRIPT_OUTPUT_MAX);
    Some(ScriptResult { id, output })
}

/// At most `max` characters of `text`.
fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<nmaprun scanner="nmap" args="nmap -oX - 127.0.0.1" version="7.93" xmloutputversion="1.05">
<host><status state="up" reason="user-set"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<hostnames><hostname name="localhost" type="PTR"/></hostnames>
<ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>
<service name="ssh" product="OpenSSH" version="9.2p1 Debian 2" extrainfo="protocol 2.0" method="probed" conf="10"/>
<script id="ssh-hostkey" output="&#xa;  256 aa:bb (ECDSA)"/></port>
<port protocol="tcp" portid="81"><state state="closed" reason="conn-refused"/></port>
<port protocol="sctp" portid="9"><state state="open"/></port>
<extraports state="closed" count="995"><extrareasons reason="conn-refused" count="995"/></extraports>
</ports>
<hostscript><script id="clock-skew" output="0s"/></hostscript>
</host>
<host><status state="up"/><address addr="aa:bb:cc:dd:ee:ff" addrtype="mac"/></host>
</nmaprun>"#;

    #[test]
    fn hosts_ports_services_and_scripts_are_read() {
        let report = parse(REPORT.as_bytes()).expect("a valid report");
        assert_eq!(report.hosts.len(), 1, "a host without an IP address is skipped");
        let host = &report.hosts[0];
        assert_eq!(host.address, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(host.hostnames, vec!["localhost".to_owned()]);
        assert_eq!(host.ports.len(), 2, "an unknown protocol is skipped");
        let ssh = &host.ports[0];
        assert_eq!((ssh.port, ssh.state.as_str()), (22, "open"));
        let service = ssh.service.as_ref().expect("a service");
        assert_eq!(service.banner().as_deref(), Some("OpenSSH 9.2p1 Debian 2 protocol 2.0"));
        assert_eq!(ssh.scripts[0].id, "ssh-hostkey");
        assert_eq!(ssh.scripts[0].output, "256 aa:bb (ECDSA)");
        assert_eq!(host.scripts[0].id, "clock-skew");
        assert_eq!(host.extra_ports, [ExtraPorts { state: "closed".into(), count: 995 }]);
        assert!(!host.timed_out);
        let timed_out = REPORT.replace("<host>", "<host timedout=\"true\">");
        assert!(parse(timed_out.as_bytes()).expect("a valid report").hosts[0].timed_out);
    }

    #[test]
    fn a_billion_laughs_bomb_is_refused_without_expanding() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<nmaprun>&lol9;</nmaprun>"#;
        assert!(matches!(parse(bomb.as_bytes()), Err(XmlError::Dtd(_))));
    }

    #[test]
    fn external_entities_and_dtds_are_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><nmaprun>&xxe;</nmaprun>"#;
        assert!(matches!(parse(xxe.as_bytes()), Err(XmlError::Dtd(_))));
        let external = r#"<?xml version="1.0"?><!DOCTYPE nmaprun SYSTEM "http://127.0.0.1/x.dtd"><nmaprun/>"#;
        assert!(matches!(parse(external.as_bytes()), Err(XmlError::Dtd(_))));
        let undeclared = r#"<nmaprun>&xxe;</nmaprun>"#;
        assert!(matches!(parse(undeclared.as_bytes()), Err(XmlError::Dtd(_))));
        let two = "<!DOCTYPE nmaprun><!DOCTYPE nmaprun><nmaprun/>";
        assert!(matches!(parse(two.as_bytes()), Err(XmlError::Dtd(_)) | Err(XmlError::Malformed(_))));
        let unclosed = "<!DOCTYPE nmaprun";
        assert!(matches!(parse(unclosed.as_bytes()), Err(XmlError::Dtd(_))));
    }

    #[test]
    fn huge_deep_and_broken_input_is_refused_without_panicking() {
        let huge = vec![b' '; XML_MAX + 1];
        assert_eq!(parse(&huge), Err(XmlError::TooLarge { max: XML_MAX }));
        let deep = format!("<nmaprun>{}{}</nmaprun>", "<a>".repeat(100_000), "</a>".repeat(100_000));
        // Deep nesting is read without recursion: no stack overflow, whatever the answer.
        let _ = parse(deep.as_bytes());
        let wide = format!("<nmaprun>{}</nmaprun>", "<host/>".repeat(usize::try_from(NODES_MAX).expect("fits") + 1));
        assert!(matches!(parse(wide.as_bytes()), Err(XmlError::TooLarge { .. })));
        for broken in [
            &b"\xff\xfe"[..],
            b"",
            b"<nmaprun>",
            b"<other/>",
            b"<nmaprun><host><address addr=\"300.1.1.1\" addrtype=\"ipv4\"/></host></nmaprun>",
        ] {
            let _ = parse(broken);
        }
        assert_eq!(parse(b"<other/>"), Err(XmlError::NotNmap));
        let many_ports = format!(
            "<nmaprun><host><address addr=\"127.0.0.1\" addrtype=\"ipv4\"/><ports>{}</ports></host></nmaprun>",
            "<port protocol=\"tcp\" portid=\"99999\"/><port protocol=\"tcp\" portid=\"-1\"/>".repeat(1000)
        );
        let report = parse(many_ports.as_bytes()).expect("well-formed");
        assert!(report.hosts[0].ports.is_empty(), "port numbers out of range are skipped");
    }
}

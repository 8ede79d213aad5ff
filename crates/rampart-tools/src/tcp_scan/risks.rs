//! How risky an open TCP port is: a rules table from port to severity and title, for exposures
//! that are dangerous on their face (cleartext logins, unauthenticated databases and control
//! APIs). A rule reads the port number only; it never confirms what actually listens there.

use rampart_core::findings::Severity::{self, Critical, High, Low, Medium};

use super::services::service_name;

/// The severity and title of an open `port`. Ports without a rule are `Info`.
pub fn assess(port: u16) -> (Severity, String) {
    match RULES.binary_search_by_key(&port, |rule| rule.0) {
        Ok(index) => {
            let (_, severity, title) = RULES[index];
            (severity, title.to_owned())
        }
        Err(_) => {
            let title = match service_name(port) {
                Some(service) => format!("Open TCP port {port} ({service})"),
                None => format!("Open TCP port {port}"),
            };
            (Severity::Info, title)
        }
    }
}

/// Sorted by port, one rule each, so a lookup is a binary search.
const RULES: &[(u16, Severity, &str)] = &[
    (21, Medium, "FTP exposed: credentials and files cross the network in cleartext"),
    (23, High, "Telnet exposed: remote login in cleartext"),
    (110, Low, "POP3 without TLS exposed: mail credentials in cleartext"),
    (111, Medium, "RPC portmapper exposed: lists RPC services and aids NFS attacks"),
    (135, Medium, "Microsoft RPC endpoint mapper exposed"),
    (139, High, "NetBIOS session service (SMB) exposed"),
    (143, Low, "IMAP without TLS exposed: mail credentials in cleartext"),
    (389, Medium, "LDAP exposed: directory may allow anonymous reads, credentials in cleartext"),
    (445, High, "SMB exposed: file sharing reachable from the network"),
    (512, High, "rexec exposed: remote execution with cleartext passwords"),
    (513, High, "rlogin exposed: remote login with host-based trust"),
    (514, High, "rsh exposed: remote shell with host-based trust"),
    (873, Medium, "rsync daemon exposed: modules may be readable without authentication"),
    (1080, Medium, "SOCKS proxy exposed: may relay traffic for anyone"),
    (1099, High, "Java RMI registry exposed: a common remote code execution vector"),
    (1433, Medium, "Microsoft SQL Server exposed"),
    (1521, Medium, "Oracle database listener exposed"),
    (1883, Medium, "MQTT broker without TLS exposed: often accepts anonymous clients"),
    (2049, Medium, "NFS exposed: exports may be mountable from the network"),
    (2181, Medium, "ZooKeeper exposed: often without authentication"),
    (2375, Critical, "Docker API exposed without TLS: anyone can run containers as root on the host"),
    (2376, Medium, "Docker API (TLS) exposed"),
    (2379, High, "etcd client API exposed: cluster secrets may be readable"),
    (2380, High, "etcd peer API exposed"),
    (3260, Medium, "iSCSI target exposed: block storage reachable from the network"),
    (3306, Medium, "MySQL exposed"),
    (3389, High, "Remote Desktop (RDP) exposed"),
    (4369, Medium, "Erlang port mapper exposed: leads to Erlang distribution ports"),
    (4505, High, "Salt master publisher exposed"),
    (4506, High, "Salt master request server exposed"),
    (5432, Medium, "PostgreSQL exposed"),
    (5555, High, "Android Debug Bridge may be exposed: shell access without authentication"),
    (5601, Medium, "Kibana exposed"),
    (5800, Medium, "VNC over HTTP exposed"),
    (5900, High, "VNC exposed: remote desktop, often weakly authenticated"),
    (5901, High, "VNC exposed: remote desktop, often weakly authenticated"),
    (5902, High, "VNC exposed: remote desktop, often weakly authenticated"),
    (5903, High, "VNC exposed: remote desktop, often weakly authenticated"),
    (5984, Medium, "CouchDB exposed"),
    (5985, Medium, "WinRM over HTTP exposed"),
    (5986, Medium, "WinRM over HTTPS exposed"),
    (6000, High, "X11 server exposed: screen and keystrokes may be readable"),
    (6379, High, "Redis exposed: often without authentication, a known path to code execution"),
    (7474, Medium, "Neo4j exposed"),
    (8009, Medium, "AJP connector exposed: file read through Ghostcat-style attacks"),
    (9042, Medium, "Cassandra native protocol exposed"),
    (9092, Medium, "Kafka broker exposed: often without authentication"),
    (9200, High, "Elasticsearch exposed: indices often readable without authentication"),
    (9300, High, "Elasticsearch transport exposed"),
    (10250, High, "Kubelet API exposed: may allow running commands in pods"),
    (10255, Medium, "Kubelet read-only API exposed: leaks pod and node details"),
    (11211, High, "memcached exposed: unauthenticated cache, abused for DDoS amplification"),
    (15672, Medium, "RabbitMQ management exposed"),
    (27017, High, "MongoDB exposed: often without authentication"),
    (27018, High, "MongoDB shard exposed: often without authentication"),
    (28017, High, "MongoDB HTTP interface exposed"),
    (50000, Medium, "IBM Db2 exposed"),
    (50070, Medium, "Hadoop NameNode web interface exposed"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_sorted_with_one_rule_per_port() {
        assert!(RULES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert!(RULES.iter().all(|&(_, severity, title)| severity != Severity::Info && !title.is_empty()));
    }

    #[test]
    fn known_risky_exposures_have_their_severity() {
        let expected = [
            (23, High),
            (445, High),
            (139, High),
            (3389, High),
            (6379, High),
            (27017, High),
            (9200, High),
            (11211, High),
            (2375, Critical),
            (3306, Medium),
            (5432, Medium),
            (1433, Medium),
            (1521, Medium),
            (5900, High),
            (21, Medium),
        ];
        for (port, severity) in expected {
            assert_eq!(assess(port).0, severity, "port {port}");
        }
    }

    #[test]
    fn other_open_ports_are_info_and_named_when_known() {
        assert_eq!(assess(443), (Severity::Info, "Open TCP port 443 (https)".to_owned()));
        assert_eq!(assess(40000), (Severity::Info, "Open TCP port 40000".to_owned()));
    }

    #[test]
    fn docker_api_title_says_what_is_at_stake() {
        let (severity, title) = assess(2375);
        assert_eq!(severity, Severity::Critical);
        assert!(title.contains("Docker"));
    }
}

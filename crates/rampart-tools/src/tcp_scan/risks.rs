//! How risky an open TCP port is: a rules table from port to severity and title, for exposures
//! that are dangerous on their face (cleartext logins, unauthenticated databases and control
//! APIs). A rule reads the port number only; it never confirms what actually listens there.

use rampart_core::findings::Severity::{self, Critical, High, Low, Medium};

use super::services::service_name;

/// The severity and title of an open `port`. Ports without a rule are `Info`.
pub fn assess(port: u16) -> (Severity, String) {
    match RULES.binary_search_by_key(&port, |rule| rule.0) {
        Ok(index) => {
            let (_, severity, _, title) = RULES[index];
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

/// The check id of a risky exposure on `port` (`tcp_scan.exposed_redis`), stable across runs so
/// that the same exposure is the same finding; none for ports without a rule. Ports of one
/// service share their id (the VNC displays): the finding's location tells them apart.
pub fn check_id(port: u16) -> Option<String> {
    let index = RULES.binary_search_by_key(&port, |rule| rule.0).ok()?;
    Some(format!("tcp_scan.exposed_{}", RULES[index].2))
}

/// Sorted by port, one rule each, so a lookup is a binary search: the port, its severity, the
/// exposure's name in its check id (stable: findings are known by it), and its title.
const RULES: &[(u16, Severity, &str, &str)] = &[
    (21, Medium, "ftp", "FTP exposed: credentials and files cross the network in cleartext"),
    (23, High, "telnet", "Telnet exposed: remote login in cleartext"),
    (110, Low, "pop3", "POP3 without TLS exposed: mail credentials in cleartext"),
    (111, Medium, "rpcbind", "RPC portmapper exposed: lists RPC services and aids NFS attacks"),
    (135, Medium, "msrpc", "Microsoft RPC endpoint mapper exposed"),
    (139, High, "netbios", "NetBIOS session service (SMB) exposed"),
    (143, Low, "imap", "IMAP without TLS exposed: mail credentials in cleartext"),
    (389, Medium, "ldap", "LDAP exposed: directory may allow anonymous reads, credentials in cleartext"),
    (445, High, "smb", "SMB exposed: file sharing reachable from the network"),
    (512, High, "rexec", "rexec exposed: remote execution with cleartext passwords"),
    (513, High, "rlogin", "rlogin exposed: remote login with host-based trust"),
    (514, High, "rsh", "rsh exposed: remote shell with host-based trust"),
    (873, Medium, "rsync", "rsync daemon exposed: modules may be readable without authentication"),
    (1080, Medium, "socks", "SOCKS proxy exposed: may relay traffic for anyone"),
    (1099, High, "java_rmi", "Java RMI registry exposed: a common remote code execution vector"),
    (1433, Medium, "mssql", "Microsoft SQL Server exposed"),
    (1521, Medium, "oracle", "Oracle database listener exposed"),
    (1883, Medium, "mqtt", "MQTT broker without TLS exposed: often accepts anonymous clients"),
    (2049, Medium, "nfs", "NFS exposed: exports may be mountable from the network"),
    (2181, Medium, "zookeeper", "ZooKeeper exposed: often without authentication"),
    (2375, Critical, "docker", "Docker API exposed without TLS: anyone can run containers as root on the host"),
    (2376, Medium, "docker_tls", "Docker API (TLS) exposed"),
    (2379, High, "etcd", "etcd client API exposed: cluster secrets may be readable"),
    (2380, High, "etcd_peer", "etcd peer API exposed"),
    (3260, Medium, "iscsi", "iSCSI target exposed: block storage reachable from the network"),
    (3306, Medium, "mysql", "MySQL exposed"),
    (3389, High, "rdp", "Remote Desktop (RDP) exposed"),
    (4369, Medium, "epmd", "Erlang port mapper exposed: leads to Erlang distribution ports"),
    (4505, High, "salt", "Salt master publisher exposed"),
    (4506, High, "salt", "Salt master request server exposed"),
    (5432, Medium, "postgresql", "PostgreSQL exposed"),
    (5555, High, "adb", "Android Debug Bridge may be exposed: shell access without authentication"),
    (5601, Medium, "kibana", "Kibana exposed"),
    (5800, Medium, "vnc_http", "VNC over HTTP exposed"),
    (5900, High, "vnc", "VNC exposed: remote desktop, often weakly authenticated"),
    (5901, High, "vnc", "VNC exposed: remote desktop, often weakly authenticated"),
    (5902, High, "vnc", "VNC exposed: remote desktop, often weakly authenticated"),
    (5903, High, "vnc", "VNC exposed: remote desktop, often weakly authenticated"),
    (5984, Medium, "couchdb", "CouchDB exposed"),
    (5985, Medium, "winrm", "WinRM over HTTP exposed"),
    (5986, Medium, "winrm_https", "WinRM over HTTPS exposed"),
    (6000, High, "x11", "X11 server exposed: screen and keystrokes may be readable"),
    (6379, High, "redis", "Redis exposed: often without authentication, a known path to code execution"),
    (7474, Medium, "neo4j", "Neo4j exposed"),
    (8009, Medium, "ajp", "AJP connector exposed: file read through Ghostcat-style attacks"),
    (9042, Medium, "cassandra", "Cassandra native protocol exposed"),
    (9092, Medium, "kafka", "Kafka broker exposed: often without authentication"),
    (9200, High, "elasticsearch", "Elasticsearch exposed: indices often readable without authentication"),
    (9300, High, "elasticsearch_transport", "Elasticsearch transport exposed"),
    (10250, High, "kubelet", "Kubelet API exposed: may allow running commands in pods"),
    (10255, Medium, "kubelet_readonly", "Kubelet read-only API exposed: leaks pod and node details"),
    (11211, High, "memcached", "memcached exposed: unauthenticated cache, abused for DDoS amplification"),
    (15672, Medium, "rabbitmq_management", "RabbitMQ management exposed"),
    (27017, High, "mongodb", "MongoDB exposed: often without authentication"),
    (27018, High, "mongodb", "MongoDB shard exposed: often without authentication"),
    (28017, High, "mongodb_http", "MongoDB HTTP interface exposed"),
    (50000, Medium, "db2", "IBM Db2 exposed"),
    (50070, Medium, "hadoop_namenode", "Hadoop NameNode web interface exposed"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_sorted_with_one_rule_per_port() {
        assert!(RULES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert!(RULES.iter().all(|&(_, severity, _, title)| severity != Severity::Info && !title.is_empty()));
        assert!(RULES.iter().all(|&(_, _, name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }));
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
    fn risky_exposures_have_stable_check_ids_and_other_ports_none() {
        assert_eq!(check_id(6379).as_deref(), Some("tcp_scan.exposed_redis"));
        assert_eq!(check_id(2375).as_deref(), Some("tcp_scan.exposed_docker"));
        assert_eq!(check_id(5901), check_id(5900), "one service, one check");
        assert_eq!(check_id(443), None);
        assert_eq!(check_id(40000), None);
    }

    #[test]
    fn docker_api_title_says_what_is_at_stake() {
        let (severity, title) = assess(2375);
        assert_eq!(severity, Severity::Critical);
        assert!(title.contains("Docker"));
    }
}

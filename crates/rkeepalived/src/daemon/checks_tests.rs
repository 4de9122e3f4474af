//! The mapping of every checker type, and identities across reloads.

use std::net::SocketAddr;
use std::time::Duration;

use rk_checkers::probe::http::RegexSpec;
use rk_checkers::probe::{DnsType, HttpProtocol, ProbeSpec, StatusCodes};
use rk_config::{LoadOptions, load_str};

use super::*;

fn load(text: &str) -> Config {
    match load_str("t.conf", text, &LoadOptions::for_tests()) {
        Ok(l) => l.config,
        Err(e) => panic!("{}", e.render()),
    }
}

const EVERY_TYPE: &str = r#"
track_file TF {
    file /run/rk-test-weight
    weight 3
}
SSL {
    ca /etc/ssl/rk-test-ca.pem
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    delay_loop 7
    virtualhost vs.example
    real_server 192.0.2.1 8080 {
        weight 4
        TCP_CHECK {
            connect_timeout 2
            retry 4
            delay_before_retry 3
            bindto 192.0.2.100
            bind_port 5555
            fwmark 9
            log_all_failures
        }
        HTTP_GET {
            url {
                path /health
                digest 0123456789abcdef0123456789ABCDEF
                status_code 200 301-302
                virtualhost u.example
                regex "ok|fine"
                regex_no_match
                regex_options caseless multiline
                regex_min_offset 2
                regex_max_offset 40
            }
            url {
                path /other
            }
            http_protocol 1.1
            fast_recovery
        }
        SSL_GET {
            url {
                path /
            }
            enable_sni
            sni_name sni.example
            verify_cert
            connect_port 8443
        }
        DNS_CHECK {
            type A
            name example.org
            connect_port 53
        }
        MISC_CHECK {
            misc_path "/usr/local/bin/check 'a b' c"
            misc_timeout 4
            misc_dynamic
            user root
        }
        SMTP_CHECK {
            helo_name me.example
            connect_port 25
        }
        UDP_CHECK {
            connect_port 1234
            payload 0a0b
            require_reply Xc
            min_reply_length 2
            max_reply_length 100
        }
        PING_CHECK {
            alpha
        }
        FILE_CHECK {
            track_file TF
            weight -2 reverse
        }
    }
}
"#;

#[test]
fn every_checker_type() {
    let cfg = load(EVERY_TYPE);
    let m = map(&cfg, &mut Ids::new());
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.specs.len(), 9);
    assert_eq!(m.real_servers.len(), 1);
    let rs = m.specs[0].real_server;
    assert!(m.specs.iter().all(|s| s.real_server == rs));
    let target: SocketAddr = "192.0.2.1:8080".parse().unwrap();

    let ProbeSpec::Tcp(t) = &m.specs[0].probe else {
        panic!("{:?}", m.specs[0].probe)
    };
    assert_eq!(t.conn.dst, target);
    assert_eq!(t.conn.timeout, Duration::from_secs(2));
    assert_eq!(t.conn.bindto, Some("192.0.2.100".parse().unwrap()));
    assert_eq!((t.conn.bind_port, t.conn.fwmark), (Some(5555), Some(9)));
    let tm = m.specs[0].timing;
    assert_eq!(
        tm.delay_loop,
        Duration::from_secs(7),
        "virtual server's delay_loop"
    );
    assert_eq!(
        (tm.retry, tm.delay_before_retry),
        (4, Duration::from_secs(3))
    );
    assert_eq!(tm.warmup, Duration::from_secs(7), "warmup = delay_loop");
    assert!(!tm.alpha);

    let ProbeSpec::Http(h) = &m.specs[1].probe else {
        panic!()
    };
    assert!(h.tls.is_none());
    assert_eq!(h.protocol, HttpProtocol::V11);
    assert!(h.fast_recovery);
    assert_eq!(h.virtualhost.as_deref(), Some("vs.example"));
    assert_eq!(h.urls.len(), 2);
    let u = &h.urls[0];
    assert_eq!(u.path, "/health");
    assert_eq!(
        u.digest,
        Some([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef
        ])
    );
    assert_eq!(u.status_codes, StatusCodes(vec![(200, 200), (301, 302)]));
    assert_eq!(u.virtualhost.as_deref(), Some("u.example"));
    assert_eq!(
        u.regex,
        Some(RegexSpec {
            pattern: "(?im)ok|fine".into(),
            no_match: true,
            min_offset: 2,
            max_offset: 40,
        })
    );
    assert_eq!(h.urls[1].status_codes, StatusCodes::default());
    assert_eq!(m.specs[1].timing.delay_before_retry, Duration::from_secs(3));

    let ProbeSpec::Http(s) = &m.specs[2].probe else {
        panic!()
    };
    let tls = s.tls.as_ref().expect("SSL_GET has TLS");
    assert!(tls.enable_sni && tls.verify_cert);
    assert_eq!(tls.sni_name.as_deref(), Some("sni.example"));
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ssl/rk-test-ca.pem"))
    );
    assert_eq!(s.conn.dst.port(), 8443);

    let ProbeSpec::Dns(d) = &m.specs[3].probe else {
        panic!()
    };
    assert_eq!((d.qtype, d.name.as_str()), (DnsType::A, "example.org"));
    assert_eq!(d.conn.dst.port(), 53);
    assert_eq!(m.specs[3].timing.retry, 3, "DNS default retry");

    let ProbeSpec::Misc(x) = &m.specs[4].probe else {
        panic!()
    };
    assert_eq!(x.argv, ["/usr/local/bin/check", "a b", "c"]);
    assert_eq!(x.timeout, Duration::from_secs(4));
    assert!(x.dynamic);
    assert_eq!(x.user, Some((0, 0)));
    assert!(!x.security, "enable_script_security is off");
    assert_eq!(m.specs[4].timing.retry, 0, "MISC default retry");

    let ProbeSpec::Smtp(sm) = &m.specs[5].probe else {
        panic!()
    };
    assert_eq!(sm.helo_name, "me.example");
    assert_eq!(sm.conn.dst.port(), 25);

    let ProbeSpec::Udp(ud) = &m.specs[6].probe else {
        panic!()
    };
    assert_eq!(ud.payload.as_deref(), Some(&[0x0a, 0x0b][..]));
    assert!(ud.require_reply);
    let reply = ud.reply.as_ref().unwrap();
    assert_eq!(reply.data, [0x0c]);
    // `Xc`: the high nibble is a wildcard; the probe's mask marks wildcard bits.
    assert_eq!(reply.mask, [0xf0]);
    assert!(reply.matches(&[0x5c]) && !reply.matches(&[0x5d]));
    assert_eq!((ud.min_reply_len, ud.max_reply_len), (2, 100));

    let ProbeSpec::Ping(p) = &m.specs[7].probe else {
        panic!()
    };
    assert_eq!(p.conn.dst.ip(), target.ip());
    assert!(m.specs[7].timing.alpha);
    assert!(m.checkers[&m.specs[7].id].alpha);

    let ProbeSpec::File(f) = &m.specs[8].probe else {
        panic!()
    };
    assert_eq!(f.path, std::path::Path::new("/run/rk-test-weight"));
    assert_eq!((f.weight, f.reverse), (-2, true));

    // Every checker has its own id; the mapping knows each one's type and real server.
    let mut ids: Vec<_> = m.specs.iter().map(|s| s.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 9);
    assert_eq!(m.checkers[&m.specs[5].id].kind, "SMTP_CHECK");
    assert!(m.checkers[&m.specs[0].id].log_all_failures);
    assert!(!m.checkers[&m.specs[1].id].log_all_failures);
    assert_eq!(m.real_servers[&rs].checkers.len(), 9);
}

#[test]
fn what_cannot_run_is_reported() {
    let cfg = load(
        r#"
bfd_instance B1 {
    neighbor_ip 192.0.2.9
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.0.2.1 80 {
        BFD_CHECK {
            name B1
        }
        MISC_CHECK {
            misc_path /bin/true
            user no-such-user-rk
        }
        HTTP_GET {
            url {
                path /
                regex x
                regex_options anchored
            }
        }
        TCP_CHECK {
        }
    }
}
"#,
    );
    let m = map(&cfg, &mut Ids::new());
    assert_eq!(m.specs.len(), 1, "only TCP_CHECK runs");
    assert_eq!(m.problems.len(), 3, "{:?}", m.problems);
    assert!(m.problems[0].contains("BFD_CHECK") && m.problems[0].contains("not supported"));
    assert!(m.problems[1].contains("no-such-user-rk"));
    assert!(m.problems[2].contains("anchored"));
    assert_eq!(m.real_servers.len(), 1);
}

const TWO_SERVICES: &str = r#"
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.0.2.1 80 {
        TCP_CHECK {
        }
        TCP_CHECK {
            connect_port 81
        }
    }
    real_server 192.0.2.2 80 {
        HTTP_GET {
            url {
                path /
            }
        }
    }
}
virtual_server 10.0.0.2 443 {
    protocol TCP
    real_server 192.0.2.1 443 {
        TCP_CHECK {
        }
    }
}
"#;

/// (real server, type, target) → ids, sorted: comparable across mappings.
fn ids_by_name(m: &Mapping) -> Vec<(String, CheckerId, RealServerId)> {
    let mut v: Vec<_> = m
        .specs
        .iter()
        .map(|s| {
            let e = &m.real_servers[&s.real_server];
            let c = &m.checkers[&s.id];
            (
                format!("{} {} {}", e.id, c.kind, c.target),
                s.id,
                s.real_server,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn ids_are_stable_across_reloads() {
    let cfg = load(TWO_SERVICES);
    let mut ids = Ids::new();
    let first = map(&cfg, &mut ids);
    assert_eq!(first.specs.len(), 4);
    assert_eq!(first.real_servers.len(), 3);
    // The same real server address in two virtual servers is two real servers.
    let rs_ids: std::collections::HashSet<_> = first.specs.iter().map(|s| s.real_server).collect();
    assert_eq!(rs_ids.len(), 3);

    // A reload of the unchanged configuration: the same ids, the same specs.
    let again = map(&load(TWO_SERVICES), &mut ids);
    assert_eq!(ids_by_name(&first), ids_by_name(&again));
    assert_eq!(first.specs, again.specs);

    // Reordered virtual servers and an added checker: the existing checkers keep theirs.
    let reordered = r#"
virtual_server 10.0.0.2 443 {
    protocol TCP
    real_server 192.0.2.1 443 {
        TCP_CHECK {
        }
        PING_CHECK {
        }
    }
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.0.2.2 80 {
        HTTP_GET {
            url {
                path /
            }
        }
    }
    real_server 192.0.2.1 80 {
        TCP_CHECK {
        }
        TCP_CHECK {
            connect_port 81
        }
    }
}
"#;
    let third = map(&load(reordered), &mut ids);
    let before = ids_by_name(&first);
    let after = ids_by_name(&third);
    for b in &before {
        assert!(after.contains(b), "{b:?} kept its ids: {after:?}");
    }
    assert_eq!(after.len(), before.len() + 1);

    // A fresh daemon (new Ids) may number differently, but is internally consistent.
    let fresh = map(&cfg, &mut Ids::new());
    assert_eq!(fresh.specs.len(), 4);
}

/// `enable_script_security` reaches every MISC_CHECK, which then checks its script before
/// each run (rk-checkers' MISC probe through rk-track).
#[test]
fn misc_checks_carry_script_security() {
    let cfg = load(
        r#"
global_defs {
    enable_script_security
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 192.0.2.1 80 {
        MISC_CHECK {
            misc_path /bin/true
            user root
        }
    }
}
"#,
    );
    let m = map(&cfg, &mut Ids::new());
    let ProbeSpec::Misc(x) = &m.specs[0].probe else {
        panic!("{:?}", m.specs)
    };
    assert!(x.security);
    assert_eq!(x.user, Some((0, 0)));
}

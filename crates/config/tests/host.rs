//! Facts of the machine are warnings, never errors: a configuration is often checked on
//! another host than the one it runs on.

use rk_config::{DiagKind, LoadOptions, Severity, load_str};

#[test]
fn missing_interfaces_and_scripts_are_warnings() {
    let text = r#"
vrrp_script present { script "/bin/sh -c true" }
vrrp_script absent { script "/nonexistent/rk-test/check.sh" }
vrrp_script not_exec { script "/etc/passwd" }
vrrp_script shell { script "</dev/tcp/127.0.0.1/80" }
vrrp_instance VI_1 {
    interface rktest-nosuch0
    virtual_router_id 1
    use_vmac vrrp.rk1
    track_interface {
        lo
        vrrp.rk1
        rktest-nosuch1
    }
    virtual_ipaddress { 10.0.0.1 dev rktest-nosuch0 }
    track_script {
        present
        absent
        not_exec
        shell
    }
}
"#;
    let opts = LoadOptions {
        check_host: true,
        ..LoadOptions::for_tests()
    };
    let loaded = load_str("host.conf", text, &opts).expect("host facts must not refuse a config");
    let warnings: Vec<String> = loaded
        .diagnostics
        .iter()
        .inspect(|d| {
            assert_eq!(d.severity, Severity::Warning);
            assert_eq!(d.kind, DiagKind::Host);
        })
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        warnings,
        [
            "script cannot run on this machine: '/nonexistent/rk-test/check.sh': No such file or directory (os error 2)",
            "script cannot run on this machine: '/etc/passwd' is not executable",
            "interface 'rktest-nosuch0' (vrrp_instance VI_1) does not exist on this machine",
            "interface 'rktest-nosuch1' (track_interface) does not exist on this machine",
        ]
    );
}

#[test]
fn host_checks_can_be_turned_off() {
    let text = "vrrp_instance VI_1 {\n interface rktest-nosuch0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1 }\n}\n";
    let loaded = load_str("host.conf", text, &LoadOptions::for_tests()).unwrap();
    assert!(loaded.diagnostics.is_empty());
}

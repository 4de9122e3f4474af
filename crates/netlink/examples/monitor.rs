//! Prints the links and addresses of the current namespace, then every link and address
//! change as it happens (like `ip monitor link address`). Needs CAP_NET_ADMIN only to be
//! useful in a namespace you can change; reading works for any user.
//!
//! `cargo run -p rk-netlink --example monitor`

use rk_netlink::{Event, Monitor, Netlink};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), rk_netlink::Error> {
    // Subscribe first, so nothing between the dump and the stream is missed.
    let mut monitor = Monitor::start()?;
    let nl = Netlink::connect()?;
    for l in nl.links().await? {
        println!(
            "link {} index {} mac {} mtu {:?} up {} kind {:?}",
            l.name,
            l.index,
            l.mac_string().unwrap_or_default(),
            l.mtu,
            l.is_up(),
            l.kind
        );
        for a in nl.addresses(Some(l.index)).await? {
            println!(
                "    {}/{} scope {} label {:?} proto {:?}",
                a.addr, a.prefix_len, a.scope, a.label, a.proto
            );
        }
    }
    while let Some(ev) = monitor.next().await {
        match ev {
            Event::LinkChanged(l) => println!(
                "link {} is {}",
                l.name,
                if l.is_up() { "up" } else { "down" }
            ),
            Event::LinkRemoved { name, .. } => println!("link {name} removed"),
            Event::AddressAdded(a) => {
                println!("+ {}/{} on index {}", a.addr, a.prefix_len, a.ifindex)
            }
            Event::AddressRemoved(a) => {
                println!("- {}/{} on index {}", a.addr, a.prefix_len, a.ifindex)
            }
            Event::Overrun => println!("(events lost: re-read the state)"),
        }
    }
    Ok(())
}

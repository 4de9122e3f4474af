//! The daemon spawns the reconciler on a multi-threaded tokio runtime, so
//! its futures must be `Send` (this fails to compile otherwise; it broke
//! once when an rk-ipvs future held a `fmt::Arguments` across an await).

use rk_coordinator::{Input, Reconciler};
use tokio::sync::mpsc;

fn assert_send<T: Send>(_: &T) {}

#[test]
fn reconciler_futures_are_send() {
    // Built, never run: the check is the type system's.
    fn futures(mut r: Reconciler, rx: mpsc::Receiver<Input>) {
        {
            let pass = r.reconcile();
            assert_send(&pass);
        }
        let run = r.run(rx, None);
        assert_send(&run);
    }
    let _ = futures;
}

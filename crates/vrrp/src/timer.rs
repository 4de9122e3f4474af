//! The driver's one deadline, on a timerfd.
//!
//! tokio's timer wheel rounds deadlines up to the next millisecond and, for a 100 ms
//! sleep, wakes at a 64 ms slot boundary to re-arm: two wake-ups per advert and up to
//! 1 ms of lateness. A timerfd armed to the nanosecond wakes the thread once, when the
//! earliest instance deadline is due (as keepalived's scheduler does).

use std::io;
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

use crate::sys::{OwnedTimerFd, async_timerfd};

/// One re-armable deadline.
#[derive(Debug)]
pub(crate) struct Deadline {
    fd: AsyncFd<OwnedTimerFd>,
    armed: Option<Instant>,
}

impl Deadline {
    pub fn new() -> io::Result<Deadline> {
        let t = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok(Deadline {
            fd: async_timerfd(OwnedTimerFd(t))?,
            armed: None,
        })
    }

    /// Arms the timer for `at` (disarms it for `None`); nothing to do if already so.
    pub fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let t = &self.fd.get_ref().0;
        match at {
            None => t.unset().map_err(io::Error::from)?,
            Some(at) => {
                // A zero expiry disarms a timerfd: an overdue deadline fires in 1 ns.
                let rel = at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                t.set(
                    Expiration::OneShot(TimeSpec::from_duration(rel)),
                    TimerSetTimeFlags::empty(),
                )
                .map_err(io::Error::from)?;
            }
        }
        self.armed = at;
        Ok(())
    }

    /// Waits until the armed deadline passes (forever when disarmed).
    pub async fn fired(&mut self) {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            // Reading the expiration count clears the readiness.
            match guard.try_io(|t| t.get_ref().0.wait().map_err(io::Error::from)) {
                Ok(_) => {
                    // One expiration per arming: no need to read again to learn that.
                    guard.clear_ready();
                    self.armed = None;
                    return;
                }
                Err(_would_block) => continue,
            }
        }
    }
}

//! Request rate limits: a fixed one-minute window per API key, and per client IP address for
//! anonymous callers. Counters live in the process, so with N instances behind a load balancer
//! a client gets up to N times the limit; that degrades gracefully and needs no shared store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

const WINDOW_SECS: u64 = 60;
/// Above this many tracked clients, counters of past windows are dropped.
const PRUNE_AT: usize = 10_000;

/// Requests per minute; 0 turns a limit off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub anonymous: u32,
    pub key: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    Key(Uuid),
    Address(IpAddr),
}

/// The outcome of counting one request, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: u64,
}

pub struct RateLimiter {
    limits: RateLimits,
    counters: Mutex<HashMap<Client, (u64, u32)>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; `None` when the client's limit is off.
    pub fn check(&self, client: Client) -> Option<Decision> {
        let limit = match client {
            Client::Key(_) => self.limits.key,
            Client::Address(_) => self.limits.anonymous,
        };
        if limit == 0 {
            return None;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let window = now / WINDOW_SECS;
        let reset = WINDOW_SECS - now % WINDOW_SECS;
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() > PRUNE_AT {
            counters.retain(|_, (w, _)| *w == window);
        }
        let entry = counters.entry(client).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        Some(Decision {
            allowed,
            limit,
            remaining: limit - entry.1,
            reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_client_and_refuses_past_the_limit() {
        let limiter = RateLimiter::new(RateLimits {
            anonymous: 2,
            key: 0,
        });
        let a = Client::Address("10.0.0.1".parse().unwrap());
        let b = Client::Address("10.0.0.2".parse().unwrap());
        assert_eq!(limiter.check(a).unwrap().remaining, 1);
        assert!(limiter.check(a).unwrap().allowed);
        let refused = limiter.check(a).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(refused.reset >= 1 && refused.reset <= 60);
        assert!(
            limiter.check(b).unwrap().allowed,
            "another client has its own budget"
        );
        assert!(
            limiter.check(Client::Key(Uuid::nil())).is_none(),
            "0 turns it off"
        );
    }
}

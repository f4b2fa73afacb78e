"""Brute-force throttling as pure functions of failure counts (the Redis adapter only counts and remembers when).

Per account (keyed by the email, known or not, so throttling reveals nothing): the first failures are free, then
each further failure doubles the wait before the next attempt, and past a threshold the account locks for a while.
Per IP the same shape with higher thresholds (one office or NAT may carry many traders). A success clears the
account's count, never the IP's (an attacker who owns one account must not wash an IP's record with it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int  # failures allowed without any delay
    base_delay_seconds: int  # the delay after the first counted failure; doubles with each further one
    max_delay_seconds: int
    lockout_after: int  # at this many failures the key locks
    lockout_seconds: int
    window_seconds: int  # failures older than this are forgotten

    def wait_seconds(self, failures: int, seconds_since_last_failure: float) -> int:
        """How long the next attempt must still wait (0: go ahead)."""
        required = self.required_wait(failures)
        remaining = required - seconds_since_last_failure
        return max(0, int(-(-remaining // 1)))  # ceiling without floats leaking into the answer

    def required_wait(self, failures: int) -> int:
        if failures >= self.lockout_after:
            return self.lockout_seconds
        if failures <= self.free_failures:
            return 0
        delay = self.base_delay_seconds * 2 ** (failures - self.free_failures - 1)
        return min(delay, self.max_delay_seconds)


ACCOUNT_POLICY = ThrottlePolicy(
    free_failures=4,
    base_delay_seconds=1,
    max_delay_seconds=60,
    lockout_after=10,
    lockout_seconds=900,
    window_seconds=900,
)
IP_POLICY = ThrottlePolicy(
    free_failures=20,
    base_delay_seconds=1,
    max_delay_seconds=60,
    lockout_after=100,
    lockout_seconds=3600,
    window_seconds=3600,
)


def retry_after(
    account_failures: int,
    account_idle_seconds: float,
    ip_failures: int,
    ip_idle_seconds: float,
    *,
    account_policy: ThrottlePolicy = ACCOUNT_POLICY,
    ip_policy: ThrottlePolicy = IP_POLICY,
) -> int:
    """The wait before the next attempt given both counters: the longer of the two."""
    return max(
        account_policy.wait_seconds(account_failures, account_idle_seconds),
        ip_policy.wait_seconds(ip_failures, ip_idle_seconds),
    )

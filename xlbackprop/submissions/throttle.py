"""Slowing down guesses: after a few failed attempts from one client or at one student ID, each further attempt
must wait, twice as long each time (up to a cap). A success clears the count for its keys."""

import time

FREE_FAILURES = 3        # typos happen: the first few failures cost nothing
FIRST_WAIT = 1.0         # seconds, after the free ones; doubles with each further failure
MAX_WAIT = 60.0
FORGET_AFTER = 15 * 60   # a key with no failure for this long starts afresh
MAX_KEYS = 100_000       # memory stays bounded whatever an attacker sends


class Throttle:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.failures = {}  # key -> (failures, time of the last one)

    def wait(self, *keys):
        """Seconds before an attempt for these keys (a client address, a student ID) is heard; 0 when now."""
        now = self.clock()
        return max((self._wait(key, now) for key in keys), default=0.0)

    def _wait(self, key, now):
        n, last = self.failures.get(key, (0, now))
        if n <= FREE_FAILURES or now - last > FORGET_AFTER:
            return 0.0
        delay = min(MAX_WAIT, FIRST_WAIT * 2 ** (n - FREE_FAILURES - 1))
        return max(0.0, last + delay - now)

    def failed(self, *keys):
        now = self.clock()
        if len(self.failures) >= MAX_KEYS:
            self.failures = {k: v for k, v in self.failures.items() if now - v[1] <= FORGET_AFTER}
            if len(self.failures) >= MAX_KEYS:  # a flood of fresh keys: forgetting all beats running out of memory
                self.failures = {}
        for key in keys:
            n, last = self.failures.get(key, (0, now))
            self.failures[key] = (1 if now - last > FORGET_AFTER else n + 1, now)

    def succeeded(self, *keys):
        for key in keys:
            self.failures.pop(key, None)

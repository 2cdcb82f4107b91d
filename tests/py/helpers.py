"""Helpers the test files share: bounded waits and calls run on a second thread."""

import threading
import time


def wait_for(what, predicate, timeout=5.0):
    """Poll `predicate` until it returns a truthy value and return it; fail after `timeout`.

    The one way tests here wait for another client (a blocked BLPOP, a subscription) to reach
    a state: a bounded polling loop, never a fixed sleep.
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def blocked_clients(r):
    return int(r.info("clients")["blocked_clients"])


class Background:
    """Run a call on a thread and keep its result or exception for the test to check."""

    def __init__(self, fn, *args, **kwargs):
        self.result = None
        self.error = None
        self._t = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._t.start()

    def _run(self, fn, args, kwargs):
        try:
            self.result = fn(*args, **kwargs)
        except Exception as e:  # handed to the test through join()
            self.error = e

    def done(self):
        return not self._t.is_alive()

    def join(self, timeout=10):
        self._t.join(timeout)
        assert not self._t.is_alive(), "background call still running"
        if self.error is not None:
            raise self.error
        return self.result


def wait_blocked(r, n, *waiters, timeout=5.0):
    """Wait until the server counts `n` clients blocked (INFO clients: blocked_clients).

    `waiters` are the Background calls expected to be blocked: if one returns meanwhile (an
    error, or a reply where it should have blocked) this fails at once with what it got.
    """

    def reached():
        for w in waiters:
            if w.done():
                w.join()  # raises the call's error, if any
                raise AssertionError(f"the call returned {w.result!r} instead of blocking")
        return blocked_clients(r) == n

    wait_for(f"{n} blocked clients", reached, timeout)


def config_int(r, name):
    """A numeric setting as the server reports it (thresholds differ: Redis's built-in
    defaults are not its redis.conf's, and rcache follows redis.conf)."""
    return int(r.config_get(name)[name])

"""The teacher's token (kept across restarts, compared in constant time) and the slowing of guesses."""

import os
import stat

import pytest

from xlbackprop.errors import ClassError
from xlbackprop.submissions.throttle import FREE_FAILURES, MAX_WAIT, Throttle
from xlbackprop.submissions.token import TOKEN_FILE, teacher_token, token_matches


def test_token_is_made_once_and_kept_across_restarts(tmp_path):
    first = teacher_token(tmp_path)
    assert len(first) >= 32 and teacher_token(tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / TOKEN_FILE).st_mode)
    assert mode == 0o600  # the teacher's alone
    assert [p.name for p in tmp_path.iterdir()] == [TOKEN_FILE]  # no temporary file left behind


def test_token_comparison(tmp_path):
    token = teacher_token(tmp_path)
    assert token_matches(token, token) and token_matches(f" {token}\n", token)
    assert not token_matches(token[:-1], token) and not token_matches("", token)


def test_a_damaged_token_file_is_named(tmp_path):
    (tmp_path / TOKEN_FILE).write_text("short\n")
    with pytest.raises(ClassError, match="too short"):
        teacher_token(tmp_path)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_failures_beyond_the_free_ones_wait_twice_as_long_each_time():
    clock = Clock()
    throttle = Throttle(clock)
    waits = []
    for _ in range(FREE_FAILURES + 1):
        waits.append(throttle.wait("10.0.0.1", "s001"))
        throttle.failed("10.0.0.1", "s001")
    assert waits[:FREE_FAILURES + 1] == [0.0] * (FREE_FAILURES + 1)
    assert throttle.wait("10.0.0.1") == 1.0
    assert throttle.wait("10.0.0.9", "s001") == 1.0  # the same student ID from elsewhere waits too
    assert throttle.wait("10.0.0.9", "s002") == 0.0
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 2.0
    clock.now += 2.0
    assert throttle.wait("10.0.0.1") == 0.0


def test_the_wait_is_capped_and_a_success_clears_it():
    clock = Clock()
    throttle = Throttle(clock)
    for _ in range(40):
        throttle.failed("ip")
    assert throttle.wait("ip") == MAX_WAIT
    throttle.succeeded("ip")
    assert throttle.wait("ip") == 0.0

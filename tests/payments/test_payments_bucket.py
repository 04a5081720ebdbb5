"""The leaky bucket's arithmetic: fits, overfill once, refusals that change nothing and say when
they would fit, leaking, reconfiguration that keeps the level, time that does not go back."""

from __future__ import annotations

import pytest

from operator_node.payments.bucket import BucketError, Fill, LeakyBucket


def test_fills_up_to_the_capacity_then_refuses_until_it_leaks() -> None:
    bucket = LeakyBucket(rate=100, capacity=1000, overfill_once=False)
    assert bucket.fill(0.0, 600) == Fill(True)
    assert bucket.fill(0.0, 400) == Fill(True)  # exactly full fits
    refused = bucket.fill(0.0, 50)
    assert not refused.accepted and refused.retry_after == pytest.approx(0.5)
    assert bucket.level(0.0) == 1000  # the refusal added nothing
    assert bucket.fill(0.49, 50).accepted is False
    assert bucket.fill(0.5, 50) == Fill(True)  # exactly when it said
    assert bucket.level(0.5) == pytest.approx(1000)


def test_overfill_once_lets_one_large_blob_through_then_waits_for_it_to_leak() -> None:
    bucket = LeakyBucket(rate=10, capacity=100)  # overfill once is the default
    assert bucket.fill(0.0, 90) == Fill(True)
    assert bucket.fill(1.0, 500) == Fill(True)  # not full (80 < 100): let in, 580 now
    refused = bucket.fill(1.0, 1)
    assert not refused.accepted and refused.retry_after == pytest.approx(48.0, abs=1e-3)
    assert bucket.fill(48.9, 1).accepted is False
    assert bucket.fill(49.0 + 1e-3, 1).accepted is True


def test_without_overfill_a_blob_larger_than_the_bucket_can_never_fit() -> None:
    bucket = LeakyBucket(rate=10, capacity=100, overfill_once=False)
    assert bucket.fill(0.0, 101) == Fill(False, never=True)
    assert bucket.level(0.0) == 0


def test_check_decides_as_fill_without_adding() -> None:
    bucket = LeakyBucket(rate=10, capacity=100, overfill_once=False)
    assert bucket.check(0.0, 100) == Fill(True)
    assert bucket.level(0.0) == 0
    bucket.fill(0.0, 100)
    assert bucket.check(0.0, 10) == Fill(False, retry_after=1.0)


def test_reconfigure_keeps_the_level_and_applies_the_new_rate_from_then() -> None:
    bucket = LeakyBucket(rate=10, capacity=100, overfill_once=False)
    bucket.fill(0.0, 100)
    bucket.reconfigure(2.0, rate=1, capacity=200)  # leaked 20 at the old rate first
    assert bucket.level(2.0) == pytest.approx(80)
    assert bucket.level(12.0) == pytest.approx(70)  # 1 a second now
    assert bucket.fill(12.0, 130).accepted and not bucket.fill(12.0, 1).accepted


def test_time_going_back_counts_as_no_time_and_the_level_never_goes_negative() -> None:
    bucket = LeakyBucket(rate=10, capacity=100, overfill_once=False, level=50, now=10.0)
    assert bucket.level(5.0) == 50
    assert bucket.level(1000.0) == 0


@pytest.mark.parametrize(("rate", "capacity"), [(0, 10), (10, 0), (-1, 10), (float("nan"), 1)])
def test_a_bucket_that_could_meter_nothing_is_refused(rate: float, capacity: float) -> None:
    with pytest.raises(BucketError):
        LeakyBucket(rate, capacity)
    with pytest.raises(BucketError):
        LeakyBucket(1, 1).reconfigure(0.0, rate, capacity)

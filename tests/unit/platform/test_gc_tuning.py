"""The latency settings of the garbage collector: applied when asked, untouched with 0 (and restored after)."""

from __future__ import annotations

import gc

import pytest

from libs.platform.gc_tuning import tune_for_latency


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_zero_keeps_the_collector_as_it_is(restored_gc):
    before = gc.get_threshold(), gc.get_freeze_count()
    tune_for_latency(0)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_threshold_sets_the_young_generation_and_freezes_what_lives_now(restored_gc):
    gc.unfreeze()
    tune_for_latency(12_345)
    assert gc.get_threshold() == (12_345, 20, 1000)
    assert gc.get_freeze_count() > 0  # the objects alive at start are out of the collector's traversals

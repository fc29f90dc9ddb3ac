"""Hypothesis profiles of the fuzzing session (``nox -s fuzz``).

``--hypothesis-profile=fuzz`` searches at scale (``STOMP_FUZZ_EXAMPLES`` examples per test,
default 20,000); ``--hypothesis-profile=fuzz-short`` is the bounded run of the default
CI (600 examples per test, about half a minute in all). Both drop Hypothesis's
deadline: a hang is caught by the fuzzers' own alarm instead (see test_fuzz.py), so that a
slow machine does not fail an example for being slow.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

settings.register_profile(
    "fuzz", _COMMON, max_examples=int(os.environ.get("STOMP_FUZZ_EXAMPLES", "20000"))
)
settings.register_profile("fuzz-short", _COMMON, max_examples=600)

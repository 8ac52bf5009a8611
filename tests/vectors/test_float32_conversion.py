"""Values arrive as lists of Python numbers (the SDK's fetch results, a JSON body on the server)
and become float32 in one place: the fast packed path must give exactly numpy's float32, bit for
bit, and leave whatever it cannot pack to numpy's own handling."""

from __future__ import annotations

import numpy as np
import pytest

from twinadmin.vectors.server.protocol import float32_values
from twinadmin.vectors.types import as_float32, packed_float32

EXTREMES = [0.0, -0.0, 1e-46, -1e-46, 1.4e-45, 1.1754942e-38, 3.4028235e38, 3.40282356e38, 5e-324, 1 / 3]


def test_packed_values_are_numpys_float32_bit_for_bit():
    rng = np.random.default_rng(7)
    for _ in range(300):
        values = (rng.standard_normal(256) * 10.0 ** rng.integers(-44, 38, 256)).tolist() + EXTREMES
        expected = np.array(values, dtype=np.float32)
        assert packed_float32(values) is not None  # the fast path, not numpy's, is what is compared
        for converted in (as_float32(values), float32_values(values, "values")):
            assert converted.dtype == np.float32
            assert converted.tobytes() == expected.tobytes()
        assert not as_float32(values).flags.writeable


def test_what_cannot_be_packed_takes_numpys_path():
    with np.errstate(over="ignore"):
        assert packed_float32([1e39, 2.0]) is None  # beyond float32: numpy makes it inf
        assert as_float32([1e39, 2.0]).tolist() == [np.inf, 2.0]
    assert packed_float32([]) is None and as_float32([]).shape == (0,)
    assert packed_float32([1.0, "2"]) is None
    with pytest.raises(ValueError):
        as_float32([1.0, "x"])
    with pytest.raises(Exception, match="must be an array of numbers"):
        float32_values([1.0, "x"], "values")

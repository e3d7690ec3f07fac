"""The one table formatting rule: UTC minutes, no None, no -0.0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd

from components.tables import display_frame


def test_times_are_utc_minutes_without_offset_or_microseconds():
    frame = pd.DataFrame({
        "aware": [pd.Timestamp("2024-03-01 12:34:56.789", tz="UTC"), pd.NaT],
        "other zone": [datetime(2024, 3, 1, 14, 34, 56, tzinfo=timezone(timedelta(hours=2))), None],
        "python": [datetime(2024, 3, 1, 12, 34, 5, 123456, tzinfo=UTC), None],
    })
    shown = display_frame(frame)
    assert shown["aware"].tolist() == ["2024-03-01 12:34", ""]
    assert shown["other zone"].tolist() == ["2024-03-01 12:34", ""]
    assert shown["python"].tolist() == ["2024-03-01 12:34", ""]


def test_no_none_and_no_negative_zero():
    frame = pd.DataFrame({"text": ["a", None], "value": [-0.0, 1.5], "mixed": [-0.0, None]})
    shown = display_frame(frame)
    assert shown["text"].tolist() == ["a", ""]
    assert not np.signbit(shown["value"].to_numpy()).any()
    assert shown["mixed"].tolist() == ["0", ""]
    assert "None" not in shown.astype(str).to_numpy().ravel().tolist()

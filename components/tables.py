"""One way to show a table: UTC timestamps as ``YYYY-MM-DD HH:MM``, no ``None`` or ``-0.0``, fitted columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

TIME_FORMAT = "%Y-%m-%d %H:%M"


def _time_text(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return ""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime(TIME_FORMAT)


def _is_time_column(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    values = column.dropna()
    return column.dtype == object and not values.empty and values.map(
        lambda v: isinstance(v, (datetime, pd.Timestamp))).all()


def _blank(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def _number_text(value: float) -> str:
    return "" if np.isnan(value) else format(value + 0.0, ",.10g")


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` ready to read: times as UTC text, empty cells blank, negative zeros as zeros.

    Streamlit draws a missing number as "None", so a float column with gaps becomes text.
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if _is_time_column(column):
            out[name] = column.map(_time_text).astype(object)
        elif pd.api.types.is_float_dtype(column):
            out[name] = column.map(_number_text).astype(object) if column.isna().any() else column + 0.0
        elif not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            out[name] = column.map(lambda v: "" if _blank(v) else (v + 0.0 if isinstance(v, float) else v))
    return out


def show_table(frame: pd.DataFrame, height: int | None = None, **options: Any) -> None:
    """Draw ``frame`` with ``display_frame``'s rules, columns sized to their content, no index."""
    shown = display_frame(frame)
    config = {name: st.column_config.Column(width=_width(shown[name], str(name))) for name in shown.columns}
    config.update(options.pop("column_config", {}))
    st.dataframe(shown, hide_index=True, width="stretch", height=height or "auto", column_config=config, **options)


def _width(column: pd.Series, name: str) -> str:
    longest = max([len(name), *(len(str(v)) for v in column.head(200))], default=len(name))
    return "small" if longest <= 8 else "medium" if longest <= 24 else "large"

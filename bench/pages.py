"""Page speed in a real browser: every page, the largest sample dataset and two control changes, against a floor.

Usage: python bench/pages.py [--runs 10]
Starts the console as a user does (`nexus serve`, sample data seeded) and, in the same run, a bare Streamlit page
that draws one Plotly candlestick of as many candles as the largest sample dataset (the floor). Each target is
opened ``--runs`` times in a fresh browser context of Debian Chromium; per target it prints the median and p95
of time to first content and to settled (no element stale, no spinner, the app not running), then the ratios and
differences against the floor, and one JSON line. Targets: settled <= 1.5x the floor and <= 1.0 s above it; a
control change <= 0.5 s above the floor's rerun.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.azurite import free_port  # noqa: E402
from tests.support.browser import ARGS, CHROMIUM  # noqa: E402
from tests.support.console import running_console  # noqa: E402

PAGES = ("overview", "market-data", "agent-runs", "approvals", "orders", "strategies", "settings")
LARGEST = "sample/EURUSD/1h"
LARGEST_CANDLES = 5000
#: what "still updating" looks like in Streamlit's DOM
BUSY = ('[data-stale="true"], [data-testid="stSpinner"], [data-testid="stSkeleton"], '
        '[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
SETTLED_JS = f"() => document.querySelector('{BUSY}') === null"
QUIET_S = 0.3  # settled means: nothing busy for this long

FLOOR_SCRIPT = f'''
import numpy as np, pandas as pd, plotly.graph_objects as go, streamlit as st
st.title("Floor")
n = {LARGEST_CANDLES}
rng = np.random.default_rng(7)
close = 1.1 + np.cumsum(rng.normal(0, 0.001, n))
step = st.selectbox("Interval", ["1h", "4h"])
x = pd.date_range("2020-01-01", periods=n, freq=step)
figure = go.Figure(go.Candlestick(x=x, open=close, high=close + 0.002, low=close - 0.002, close=close + 0.0005))
st.plotly_chart(figure)
'''


def _settle(page, timeout_s: float = 60) -> None:
    """Wait until nothing in the page is busy for QUIET_S in a row."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        if page.evaluate(SETTLED_JS):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= QUIET_S:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(25)
    raise TimeoutError("the page never settled")


@contextlib.contextmanager
def _fresh_page(browser) -> Iterator:
    """A page in a new browser context (nothing cached, no session), closed afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def _open_settled(page, url: str, content: str) -> None:
    page.goto(url)
    page.wait_for_selector(content, timeout=90_000)
    _settle(page)


def _rerun_seconds(page, trigger: Callable[[], object]) -> float:
    """Seconds from ``trigger()`` (a control change) to the page settled again."""
    began = time.monotonic()
    trigger()
    _busy_soon(page)
    _settle(page)
    return time.monotonic() - began - QUIET_S


def open_timed(browser, url: str, content: str) -> tuple[float, float]:
    """Seconds to first content (``content`` selector visible) and to settled, in a fresh context."""
    with _fresh_page(browser) as page:
        began = time.monotonic()
        page.goto(url)
        page.wait_for_selector(content, timeout=90_000)
        first = time.monotonic() - began
        _settle(page)
        return first, time.monotonic() - began - QUIET_S


def change_timed(browser, url: str, content: str, option: str) -> float:
    """Seconds from choosing ``option`` in the Interval box to settled, after the page has settled."""
    with _fresh_page(browser) as page:
        _open_settled(page, url, content)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Interval").first.click()
        option_box = page.get_by_role("option", name=option, exact=True)
        option_box.wait_for(timeout=10_000)
        return _rerun_seconds(page, option_box.click)


def _busy_soon(page) -> None:
    """Wait briefly for the rerun to show (a fast one may end before it is seen)."""
    with contextlib.suppress(Exception):
        page.wait_for_function(f"() => document.querySelector('{BUSY}') !== null", timeout=2_000)


def _first_month(value: str) -> str:
    """``first – last`` (``YYYY/MM/DD`` or ``YYYY-MM-DD``, as the box shows it) narrowed to its first 30 days."""
    text = value.split("–")[0].strip()
    form = "%Y/%m/%d" if "/" in text else "%Y-%m-%d"
    first = datetime.strptime(text, form)
    return f"{first:{form}} – {first + timedelta(days=30):{form}}"


def date_change_timed(browser, url: str, content: str) -> float:
    """Seconds from typing a narrower date range (its first 30 days) into the Date range box to settled."""
    with _fresh_page(browser) as page:
        _open_settled(page, url, content)
        box = page.locator('[data-testid="stDateInput"] input').first
        box.fill(_first_month(box.input_value()))
        return _rerun_seconds(page, lambda: box.press("Enter"))


def summary(values: list[float]) -> dict[str, float]:
    """Median and p95 of a list of seconds."""
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95))}


def repeat(runs: int, measure: Callable[[], object]) -> list:
    """``measure`` ``runs`` times."""
    return [measure() for _ in range(runs)]


def floor_server(port: int) -> tuple[subprocess.Popen, Path]:
    """The bare Streamlit page drawing one candlestick of LARGEST_CANDLES candles."""
    folder = Path(tempfile.mkdtemp(prefix="floor-"))
    script = folder / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                                "--server.headless", "true", "--server.address", "127.0.0.1",
                                "--browser.gatherUsageStats", "false"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, folder


def main() -> None:
    """Run every measure and print the table and the JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chart = '[data-testid="stPlotlyChart"] .main-svg'
    title = "h1"
    port = free_port()
    floor, _ = floor_server(port)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as home, running_console(Path(home)) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        floor_url = f"http://127.0.0.1:{port}"
        open_timed(browser, floor_url, chart)  # warm both servers once, untimed
        for name in PAGES:
            open_timed(browser, f"{url}/{name}", title)
        loads = {"floor": (floor_url, chart), **{name: (f"{url}/{name}", title) for name in PAGES},
                 f"market-data {LARGEST}": (f"{url}/market-data?dataset={LARGEST}", chart)}
        for name, (target, content) in loads.items():
            pairs = repeat(args.runs, lambda target=target, content=content: open_timed(browser, target, content))
            results[name] = {"first": summary([p[0] for p in pairs]), "settled": summary([p[1] for p in pairs])}
        largest = f"{url}/market-data?dataset={LARGEST}"
        results["floor rerun"] = {"settled": summary(repeat(
            args.runs, lambda: change_timed(browser, floor_url, chart, "4h")))}
        results["interval change"] = {"settled": summary(repeat(
            args.runs, lambda: change_timed(browser, largest, chart, "4h")))}
        try:
            results["date-range change"] = {"settled": summary(repeat(
                args.runs, lambda: date_change_timed(browser, largest, chart)))}
        except Exception as error:  # a date box the script cannot type into is reported, not fatal
            results["date-range change"] = {"error": str(error).splitlines()[0]}
        browser.close()
    floor.terminate()
    floor.wait(timeout=15)
    _print(results)


def _print(results: dict[str, dict]) -> None:
    base = results["floor"]["settled"]["median"]
    rerun = results["floor rerun"]["settled"]["median"]
    print(f"{'target':34} {'first med':>9} {'first p95':>9} {'settled med':>11} {'p95':>6} {'x floor':>7} "
          f"{'+s':>6}  target met")
    for name, row in results.items():
        if "error" in row:
            print(f"{name:34} {row['error']}")
            continue
        settled = row["settled"]["median"]
        control = name in ("interval change", "date-range change")
        floor_of = rerun if control or name == "floor rerun" else base
        met = settled - floor_of <= 0.5 if control else settled <= 1.5 * floor_of and settled - floor_of <= 1.0
        first = row.get("first", {"median": float("nan"), "p95": float("nan")})
        row.update(ratio=settled / floor_of, above_s=settled - floor_of, met=bool(met))
        print(f"{name:34} {first['median']:9.2f} {first['p95']:9.2f} {settled:11.2f} {row['settled']['p95']:6.2f} "
              f"{settled / floor_of:7.2f} {settled - floor_of:+6.2f}  {'yes' if met else 'NO'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

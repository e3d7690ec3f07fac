"""The fill price of an order does not depend on which worker sends it: the order carries its dataset."""

from __future__ import annotations

import pytest

from services.core.auth import local_operator
from services.market_data.datasets import DatasetRef
from services.trading.book import EXECUTE_KIND
from services.trading.orders import Proposal
from tests.support.replicas import flat_candles, replica_env, start_together

HOUR, MINUTE = 3_600_000, 60_000


def test_a_fresh_worker_fills_from_the_dataset_the_run_used(make_runtime, shared, tmp_path):
    console = make_runtime(nexus_home=tmp_path / "console", database_url=shared["DATABASE_URL"],
                           azure_storage_connection_string=shared["AZURE_STORAGE_CONNECTION_STRING"],
                           ohlcv_container=shared["OHLCV_CONTAINER"], models_container=shared["MODELS_CONTAINER"])
    console.queue.immediate = False  # the job waits for a worker: another process takes it
    run_ref = DatasetRef.parse("sample/EURUSD/1h")
    console.datasets.write(run_ref, flat_candles(HOUR, 48, 1.0005))
    # a finer dataset of the same symbol, which a process that does not know the run would price from
    console.datasets.write(DatasetRef.parse("oanda/EURUSD/1m"), flat_candles(MINUTE, 120, 1.0105))
    [order] = console.orders.propose("run-pricing", [Proposal(
        proposal_id="EURUSD-buy", symbol="EURUSD", side="buy", quantity=1000.0, reference_price=1.0005,
        dataset_ref=str(run_ref))])
    console.orders.approve(order.id, local_operator())
    job_id = console.jobs.submit(EXECUTE_KIND, {"run_id": "run-pricing"}, actor="test")

    [worker] = start_together([["run-job", job_id]], env=replica_env(shared, tmp_path / "worker"), lead_s=0)

    assert worker.code == 0, worker.output[-2000:]
    filled = console.orders.get(order.id)
    slippage = console.settings.paper_slippage_bps / 10_000
    assert filled.status == "filled"
    assert filled.average_price == pytest.approx(1.0005 * (1 + slippage))

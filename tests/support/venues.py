"""The three execution venues as the venue contract drives them: paper (records DB), Live Engine and Alpaca paper
(their real clients against the fakes in tests/fakes), each with what a test needs to put it in a known state."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from services.core.config import Settings
from services.core.db import ensure_schema, make_engine
from services.core.errors import DatasetNotFound
from services.core.http_retry import RetryPolicy
from services.core.records import paper_orders
from services.trading.execution.alpaca_paper import AlpacaPaperVenue
from services.trading.execution.base import ExecutionVenue, VenueOrder, VenueOrderRequest
from services.trading.execution.live_engine import LiveEngineVenue
from services.trading.execution.paper import PaperVenue
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY, FakeAlpacaTrading
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine
from tests.fakes.server import FakeServer

#: retries that take milliseconds, and a timeout short enough for a "slow answer" to miss it
FAST = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.005)
TIMEOUT_S = 0.2


class Quotes(dict):
    """Latest prices by symbol for the paper venue; a symbol without one raises like the datasets do."""

    def __call__(self, symbol: str, _dataset_ref: str | None = None) -> float:
        if symbol not in self:
            raise DatasetNotFound(f"no dataset for {symbol}")
        price = self[symbol]
        if isinstance(price, Exception):
            raise price
        return price


@dataclass
class VenueCase:
    """One venue under the contract: what it trades, how many orders it really created, and (remote venues) the
    fake server to inject faults into, with an error body in that service's format."""

    venue: ExecutionVenue
    symbol: str
    quantity: float
    #: a limit price that does not cross the market: such an order rests
    resting_limit: float
    lot: float
    creations: Callable[[], int]
    fake: FakeServer | None = None
    server_error: object = None
    #: switch the venue between filling on the next look and leaving orders open (the Live Engine fake)
    hold: Callable[[bool], None] = lambda _holding: None

    def market(self, client_order_id: str, quantity: float | None = None) -> VenueOrderRequest:
        """A market buy of the case's symbol."""
        return VenueOrderRequest(client_order_id, self.symbol, "buy", "market", quantity or self.quantity)

    def resting(self, client_order_id: str) -> VenueOrder:
        """Place a limit buy that stays open."""
        self.hold(True)
        return self.venue.submit(VenueOrderRequest(client_order_id, self.symbol, "buy", "limit", self.quantity,
                                                   limit_price=self.resting_limit))

    def filled(self, client_order_id: str) -> VenueOrder:
        """Place a market buy and return it as the venue reports it once filled."""
        self.hold(False)
        self.venue.submit(self.market(client_order_id))
        return self.venue.lookup(client_order_id)


def paper_case(engine: Engine) -> VenueCase:
    """The paper venue on ``engine`` (a migrated records DB), BTCUSDT quoted at 100, 10,000 of cash."""
    venue = PaperVenue(engine, Quotes(BTCUSDT=100.0), slippage_bps=10.0, fee_bps=20.0, initial_cash=10_000.0)

    def creations() -> int:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(paper_orders)).scalar_one()

    return VenueCase(venue, "BTCUSDT", 2.0, resting_limit=50.0, lot=1e-8, creations=creations)


def live_engine_case(settings: Settings, fake: FakeLiveEngine) -> VenueCase:
    """The Live Engine venue on ``fake`` (``settings`` point at it with its service key)."""
    def hold(holding: bool) -> None:
        fake.fill_on_get = not holding

    return VenueCase(LiveEngineVenue(settings, policy=FAST), "BTCUSDT", 0.1, resting_limit=30_000.0, lot=1e-8,
                     creations=lambda: fake.creations, fake=fake, hold=hold,
                     server_error={"error": {"code": "INTERNAL_ERROR", "message": "boom"}})


def alpaca_case(settings: Settings, fake: FakeAlpacaTrading) -> VenueCase:
    """The Alpaca paper venue on ``fake``, its AAPL asset already known (as after the first order)."""
    venue = AlpacaPaperVenue(settings, policy=FAST)
    venue.lot_size("AAPL")
    return VenueCase(venue, "AAPL", 2.0, resting_limit=150.0, lot=1e-9, creations=lambda: fake.creations, fake=fake,
                     server_error={"code": 50010000, "message": "internal server error"})


@contextlib.contextmanager
def opened_venue(name: str, make_runtime: Callable[..., object], tmp_path: Path) -> Iterator[VenueCase]:
    """The case of venue ``name`` (``paper``, ``live-engine``, ``alpaca-paper``) until the block ends: paper on a
    fresh SQLite records DB, the others on a fresh fake, built from settings as the console builds them."""
    with contextlib.ExitStack() as stack:
        if name == "paper":
            engine = make_engine(f"sqlite:///{tmp_path / 'venue-records.db'}")
            ensure_schema(engine)
            stack.callback(engine.dispose)
            case = paper_case(engine)
        elif name == "live-engine":
            fake = stack.enter_context(FakeLiveEngine())
            settings = make_runtime(execution_venue=name, live_engine_url=fake.url,
                                    live_engine_service_api_key=SERVICE_KEY,
                                    live_engine_timeout_seconds=TIMEOUT_S).settings
            case = live_engine_case(settings, fake)
        else:
            fake = stack.enter_context(FakeAlpacaTrading())
            settings = make_runtime(execution_venue=name, alpaca_api_key=KEY_ID, alpaca_api_secret=SECRET_KEY,
                                    alpaca_base_url=fake.url, alpaca_timeout_seconds=TIMEOUT_S).settings
            case = alpaca_case(settings, fake)
        stack.callback(case.venue.close)
        yield case

"""Entry point of the job worker process: ``python -m cli.worker`` (``nexus serve`` starts it).

SIGTERM stops it gracefully: running jobs finish or are handed back to the queue within
WORKER_SHUTDOWN_GRACE_SECONDS, then the process exits.
"""

from __future__ import annotations

import argparse
import logging

from services.runtime import get_runtime
from services.worker.consumer import GracefulConsumer

#: the queue of this process's runtime, with the console's tasks attached (``huey_consumer cli.worker.huey``)
huey = get_runtime().queue


def main(argv: list[str] | None = None) -> None:
    """Run the consumer until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m cli.worker", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="threads running jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    runtime = get_runtime()
    GracefulConsumer(huey, runtime.jobs, workers=args.workers, worker_type="thread",
                     shutdown_timeout=runtime.settings.worker_shutdown_grace_seconds).run()


if __name__ == "__main__":
    main()

"""Entry point of the job worker process: ``huey_consumer cli.worker.huey`` (``nexus serve`` starts it)."""

from services.runtime import get_runtime

#: the queue of this process's runtime, with the console's tasks attached
huey = get_runtime().queue

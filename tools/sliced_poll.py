"""A Jupyter kernel client whose shell channel is polled one second at a time (used by every notebook runner here).

Seen here with pyzmq 27 and jupyter_client 8.10: a cell finished in 3 s, but the asyncio poll on the client socket
never woke for its reply, so nbclient read it only when its cell timeout ran out (once in each of three
`make notebooks` runs, in a different notebook each time; `jupyter execute`, which has no timeout, waited for good).
A fresh poll every second looks at the socket again.

tools/execute_notebooks.py passes :class:`SlicedPollClient` to its kernel manager; the nbgrader course folder that
tools/make_nbgrader.py writes carries a copy of this file, and its nbgrader_config.py makes nbgrader's autograder use
it (an autograded cell that waits for its timeout would be scored as an error).
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type

POLL_SLICE = 1.0  # seconds


class SlicedPollShellChannel(AsyncZMQSocketChannel):
    """The shell channel, waited on POLL_SLICE seconds at a time, until the caller's timeout."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(POLL_SLICE, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedPollShellChannel)

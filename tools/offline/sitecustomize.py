"""Network off: every Python started with this folder on PYTHONPATH may reach this machine only.

`make nbval` and tools/execute_notebooks.py put it on the kernels' PYTHONPATH, so every lesson and solution is proven
to run offline: a connection to, or a name lookup of, any other host raises ``OfflineError`` (an OSError) naming
it. Loopback stays open (the Jupyter kernel talks to its client through it; ZeroMQ's own sockets are not Python's).
"""

import ipaddress
import socket

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class OfflineError(OSError):
    """Raised for any network access beyond this machine."""


def _is_local(host) -> bool:
    if not isinstance(host, str) or host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(host, what: str):
    raise OfflineError(f"network access blocked: {what} {host!r} — lessons must run offline "
                       "(tools/offline/sitecustomize.py)")


def _guard(method):
    def guarded(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(address[0], "connecting to")
        return method(self, address, *args)
    return guarded


def _guarded_getaddrinfo(host, *args, _real=socket.getaddrinfo, **kwargs):
    if not _is_local(host.decode() if isinstance(host, bytes) else host):
        _refuse(host, "looking up")
    return _real(host, *args, **kwargs)


socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
socket.getaddrinfo = _guarded_getaddrinfo

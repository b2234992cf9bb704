"""TLS trust, in one place, for HTTPS (ARM, sign-in, blobs, admin commands) and WSS (the gateway).

Read from the run's environment (never from ``os.environ`` behind the caller's back):
REQUESTS_CA_BUNDLE and SSL_CERT_FILE name extra CA files (a TLS-inspecting proxy, a private
cloud, the emulator), which are ADDED to the system store and certifi's bundle, the same way for
every connection. Verification is never turned off.
"""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests  # imported where used: a device session never loads it

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class Trust:
    extra_cas: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> Trust:
        files = [environ[name] for name in CA_VARIABLES if environ.get(name) and os.path.isfile(environ[name])]
        return cls(tuple(dict.fromkeys(files)))

    def context(self) -> ssl.SSLContext:
        """One context per process and set of CA files (loading the stores costs ~17 ms a time, and an
        Azure connect needs five); built again when a CA file changes."""
        key = (self.extra_cas, tuple(_stamp(path) for path in self.extra_cas))
        with _LOCK:
            context = _CONTEXTS.get(key)
            if context is None:
                context = _CONTEXTS[key] = self._build()
        return context

    def _build(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        try:
            import certifi

            context.load_verify_locations(certifi.where())
        except (ImportError, OSError, ssl.SSLError):  # the system store is still there
            pass
        for path in self.extra_cas:
            context.load_verify_locations(path)
        return context

    def session(self) -> requests.Session:
        """A requests session whose every HTTPS connection verifies against ``context()``."""
        import requests
        from requests.adapters import HTTPAdapter

        context = self.context()

        class TrustAdapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["ssl_context"] = context
                super().init_poolmanager(*args, **kwargs)

            def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
                kwargs["ssl_context"] = context
                return super().proxy_manager_for(proxy, **kwargs)

            def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
                """requests names certifi's file on each connection, and urllib3 would load it into the
                shared context again (~50 ms a connection): the context already holds every CA."""
                super().cert_verify(conn, url, verify, cert)
                conn.ca_certs = conn.ca_cert_dir = None

        class TrustSession(requests.Session):
            def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
                settings = super().merge_environment_settings(*args, **kwargs)
                settings["verify"] = True  # the adapter's context holds the trust; os.environ does not decide
                return settings

        session = TrustSession()
        session.mount("https://", TrustAdapter())
        return session


_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_LOCK = threading.Lock()


def _stamp(path: str) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)

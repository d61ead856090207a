"""The requests sessions the storage clients and the submitter send through.

Two costs a default session adds to every request, which the burst profile showed:

- its connection pool keeps 10 connections per host, fewer than the sweep's threads, so under a burst urllib3
  discarded a connection on most returns ("Connection pool is full") and opened new ones;
- `trust_env` makes requests look for proxy variables (scanning the whole environment, twice) and a netrc file
  on every request: about a fifth of each storage request's CPU. A worker's environment does not change while
  it runs, so when it names no proxy and there is no netrc file, a session that does not look sends the very
  same requests; otherwise the session looks, as before. The CA bundle variables, the one other thing `trust_env`
  reads, are read here instead (`verify`), so they apply either way.
"""

from __future__ import annotations

import os
import sys

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

POOL_SIZE = 64  # connections kept per host: above the sweep's threads (2 x PIPELINE_SWEEP_CONCURRENCY, default 16)
NETRC_FILES = ("~/.netrc", "~/_netrc")


def environment_routes_requests() -> bool:
    """True when requests would find a proxy or netrc credentials in the environment. Outside Linux urllib also
    asks the system's proxy configuration, so there it is assumed to find one."""
    if not sys.platform.startswith("linux"):
        return True
    if "NETRC" in os.environ or any(name.lower().endswith("_proxy") for name in os.environ):
        return True
    return any(os.path.exists(os.path.expanduser(path)) for path in NETRC_FILES)


def verify() -> str | bool:
    """What requests verifies TLS against: the bundle `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` names, else its own."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def pooled_session(max_retries: Retry | int) -> requests.Session:
    """A session whose pool keeps a connection for every thread that shares it; `max_retries` is the caller's
    (both leave retrying to their own policies)."""
    session = requests.Session()
    session.trust_env = environment_routes_requests()
    session.verify = verify()
    adapter = HTTPAdapter(pool_maxsize=POOL_SIZE, max_retries=max_retries)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

"""Options shared by `fhir-service push` and `pull`: server, token, timeouts, retries, progress.

The token comes from `--token` or, better (it stays out of the process list and shell history), from the
`FHIR_TOKEN` environment variable; it is never printed.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

from fhir_service.client.client import FhirClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TOKEN_ENV = "FHIR_TOKEN"


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, metavar="URL",
                        help="FHIR base URL of the server, e.g. http://127.0.0.1:8080/fhir")
    parser.add_argument("--token", metavar="T", default=None,
                        help=f"bearer token (default: the {TOKEN_ENV} environment variable, which keeps it out "
                             "of the process list)")
    parser.add_argument("--connect-timeout", type=positive_float, default=5.0, metavar="S",
                        help="seconds to wait for a connection (default 5)")
    parser.add_argument("--timeout", type=positive_float, default=120.0, metavar="S",
                        help="seconds to wait for each answer (default 120)")
    parser.add_argument("--retries", type=non_negative_int, default=3, metavar="N",
                        help="retries of a request the server asks to repeat (429/503, honouring Retry-After) "
                             "or that is safe to repeat after a timeout (default 3)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary on stderr")


def make_client(args: Any) -> FhirClient:
    """The client the options describe; ValueError (a usage error) for a bad --server."""
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    return FhirClient(args.server, token=token, timeout=(args.connect_timeout, args.timeout), retries=args.retries)


def relative_to(base_url: str, url: str | None) -> str:
    if url and url.startswith(base_url + "/"):
        return url[len(base_url) + 1:]
    return url or ""

"""`karafkad web-password`: the hash of a password, for the routes file's web.auth.password_hash."""

from __future__ import annotations

import argparse
import getpass
import sys

from karafkad import defaults
from karafkad.web.auth import hash_password


def run(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("karafkad web-password: the two passwords differ", file=sys.stderr)
            return defaults.EXIT_CONFIG
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("karafkad web-password: no password given", file=sys.stderr)
        return defaults.EXIT_CONFIG
    print(hash_password(password, args.iterations))
    return defaults.EXIT_OK

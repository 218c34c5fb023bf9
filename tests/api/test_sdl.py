"""The printed GraphQL schema is a public contract: clients generate code from it.

`tests/api/snapshots/schema.graphql` holds the SDL as it should be, with a trailing
newline. A refactoring must leave it byte for byte as it is; this test shows the
unified diff when it does not.

To change the schema deliberately (a new field, a new type), regenerate the snapshot
and commit it with the change, so the review shows the SDL diff:

    .venv/bin/python -c "from api.schema import build_schema; print(build_schema().as_str())" \\
        > tests/api/snapshots/schema.graphql

Removing or renaming anything in that diff breaks existing clients: deprecate first.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from api.schema import build_schema

SNAPSHOT = Path(__file__).parent / "snapshots" / "schema.graphql"


def test_the_printed_sdl_matches_the_snapshot() -> None:
    printed = (build_schema().as_str() + "\n").encode()
    expected = SNAPSHOT.read_bytes()
    if printed != expected:
        diff = difflib.unified_diff(
            expected.decode(errors="replace").splitlines(keepends=True),
            printed.decode().splitlines(keepends=True),
            fromfile="tests/api/snapshots/schema.graphql",
            tofile="build_schema().as_str()",
        )
        raise AssertionError("the SDL changed:\n" + "".join(diff))

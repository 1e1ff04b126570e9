"""The catalogue's freshness report (README "The image catalogue", "Keeping the facts true"):
`python -m aiops.catalog check` prints, per entry, its pinned image, the date it was last
checked and the source to start the next check from, and flags entries checked longer ago
than a threshold. Run it before a release.

Exit codes: 0 every entry is fresh; 1 some entry is stale; 2 the file is malformed (the
message names the entry and the field) or an entry's check date is after today.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from aiops.catalog import CATALOG_PATH, Catalog, Entry

DEFAULT_MAX_AGE_DAYS = 180
EXIT_FRESH, EXIT_STALE, EXIT_MALFORMED = 0, 1, 2


@dataclass(frozen=True)
class Freshness:
    """One entry's line of the report."""

    entry: Entry
    age_days: int
    stale: bool

    @property
    def future(self) -> bool:
        """Checked after today: a typo in the date, or a wrong clock."""
        return self.age_days < 0

    def line(self) -> str:
        flag = "FUTURE" if self.future else "STALE" if self.stale else "ok"
        checked = self.entry.checked
        return (
            f"{flag:<6} {self.entry.id:<20} {self.entry.image:<50} "
            f"{checked.on.isoformat()} ({self.age_days:>3} d)  {checked.sources[0]}"
        )


def freshness(entries: Sequence[Entry], today: date, max_age_days: int) -> list[Freshness]:
    """Each entry's age in days since its last check, and whether it exceeds the threshold."""
    report = []
    for entry in entries:
        age = (today - entry.checked.on).days
        report.append(Freshness(entry, age, age > max_age_days))
    return report


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aiops.catalog",
        description="Report how fresh the catalogue's facts are.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="pin, source and check date of every entry")
    check.add_argument(
        "--max-age",
        type=int,
        default=DEFAULT_MAX_AGE_DAYS,
        metavar="DAYS",
        help=f"flag entries checked more than DAYS days ago (default {DEFAULT_MAX_AGE_DAYS})",
    )
    check.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the date to measure ages from (default: today)",
    )
    check.add_argument(
        "--file", type=Path, default=CATALOG_PATH, help="the catalogue file to check"
    )
    return parser.parse_args(argv)


def _malformed(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: {error.error_count()} problem(s)"]
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)


def run(
    path: Path,
    today: date,
    max_age_days: int,
    out: TextIO,
) -> int:
    """Print the report for the catalogue at `path`; the exit code."""
    try:
        catalog = Catalog.from_file(path)
    except ValidationError as error:
        print(_malformed(error, path), file=out)
        return EXIT_MALFORMED
    except (OSError, ValueError) as error:
        print(f"{path}: {error}", file=out)
        return EXIT_MALFORMED
    report = freshness(catalog.entries, today, max_age_days)
    for item in report:
        print(item.line(), file=out)
    stale = [item.entry.id for item in report if item.stale]
    future = [item.entry.id for item in report if item.future]
    summary = f"{len(report)} entries, {len(stale)} checked more than {max_age_days} days ago"
    print(summary + (f": {', '.join(stale)}" if stale else ""), file=out)
    if future:
        print(f"checked after {today.isoformat()}: {', '.join(future)}", file=out)
        return EXIT_MALFORMED
    return EXIT_STALE if stale else EXIT_FRESH


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The command line: `python -m aiops.catalog check [--max-age DAYS] [--today DATE]`."""
    args = _arguments(argv)
    return run(args.file, args.today or date.today(), args.max_age, out or sys.stdout)

"""One answer per image across several runs: the newest usable one wins.

Runs are read newest first. An image's first exportable answer is the one exported, and any later
(older) answer for it is skipped. An image with no exportable answer in any run is listed once,
with its newest failure: a failed review in the latest run does not hide a reviewed answer of an
earlier one (people's answers are the most expensive data there is).

What has been seen is kept in a private SQLite database on disk, so memory does not grow with the
number of images across runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

from hitl_detection.domain.training_sets import Exclusion, TrainingImage


class NewestAnswers:
    def __init__(self) -> None:
        # "" opens a private temporary database on disk, deleted when closed.
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE exported (image TEXT PRIMARY KEY)")
        self._db.execute("CREATE TABLE excluded (image TEXT PRIMARY KEY, exclusion TEXT)")

    def first_answer(self, image: TrainingImage) -> bool:
        """Whether this is the image's first exportable answer; if so, it is now the exported one."""
        inserted = self._db.execute("INSERT OR IGNORE INTO exported VALUES (?)", (image.s3_uri,))
        if not inserted.rowcount:
            return False
        self._db.execute("DELETE FROM excluded WHERE image = ?", (image.s3_uri,))
        return True

    def hold_exclusion(self, exclusion: Exclusion) -> None:
        """Keep the image's newest failure, unless it has an exportable answer."""
        exported = self._db.execute("SELECT 1 FROM exported WHERE image = ?", (exclusion.image_s3_uri,))
        if exported.fetchone() is None:
            self._db.execute(
                "INSERT OR IGNORE INTO excluded VALUES (?, ?)",
                (exclusion.image_s3_uri, json.dumps(exclusion.to_json())),
            )

    def exclusions(self) -> Iterator[Exclusion]:
        """The images with no exportable answer in any run, in image order."""
        for (document,) in self._db.execute("SELECT exclusion FROM excluded ORDER BY image"):
            yield Exclusion(**json.loads(document))

    def close(self) -> None:
        self._db.close()

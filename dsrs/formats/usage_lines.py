"""Where what a format's reader hands to the load is defined, and counted: chunks of usage lines
as COPY text with the lines rejected among them (`Chunk`), and the counts the service keeps of
the chunks it takes (`LineCounts`), which decide whether the file is acceptable."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings

from dsrs.formats.blocks import FileFailure
from dsrs.formats.limits import InputLimits

REPORTED_REJECTIONS = 100


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass(frozen=True)
class Chunk:
    copy_text: bytes
    stored: int
    rejections: list[Rejection]
    bytes_read: int


@dataclass
class LineCounts:
    """The lines taken from a reader's chunks, with the first rejected ones."""

    lines_stored: int = 0
    lines_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def lines_read(self) -> int:
        return self.lines_stored + self.lines_rejected

    def taking(
        self,
        chunks: Iterable[Chunk],
        on_taken: Callable[[], None] | None = None,
        *,
        limits: InputLimits | None = None,
    ) -> Iterator[bytes]:
        """The COPY text of `chunks`, each counted as it is taken; `on_taken` after each. With
        `limits`, FileFailure as soon as the file holds too many lines, or has rejected more
        than it may of the most lines it can hold."""
        for chunk in chunks:
            self.lines_stored += chunk.stored
            self.lines_rejected += len(chunk.rejections)
            self.rejections.extend(chunk.rejections[: REPORTED_REJECTIONS - len(self.rejections)])
            self.bytes_read = chunk.bytes_read
            if limits:
                self._check_within(limits)
            if chunk.copy_text:
                yield chunk.copy_text
            if on_taken:
                on_taken()

    def _check_within(self, limits: InputLimits) -> None:
        if self.lines_read > limits.max_lines:
            raise FileFailure(f"more than {limits.max_lines:,} lines (DSR_MAX_LINES)")
        limit = settings.DSR_MAX_REJECTED_RATIO
        if self.bytes_read < limits.file_size and self.lines_rejected > limit * limits.possible_lines:
            raise FileFailure(
                f"{self.lines_rejected:,} of the first {self.lines_read:,} lines rejected: more than "
                f"DSR_MAX_REJECTED_RATIO ({limit:.2%}) of the most lines the file can hold "
                f"({limits.possible_lines:,}), so it cannot pass{self._first()}"
            )

    def _first(self) -> str:
        return f"; first: line {self.rejections[0].line}: {self.rejections[0].reason}" if self.rejections else ""

    def check_acceptable(self) -> None:
        """Fail the whole file when it has no valid line or too many rejected ones."""
        first = self._first()
        if self.lines_stored == 0:
            raise FileFailure(f"no valid usage line ({self.lines_rejected} rejected{first})")
        ratio = self.lines_rejected / self.lines_read
        limit = settings.DSR_MAX_REJECTED_RATIO
        if ratio > limit:
            raise FileFailure(
                f"{self.lines_rejected} of {self.lines_read} lines rejected ({ratio:.2%}), "
                f"more than DSR_MAX_REJECTED_RATIO ({limit:.2%}){first}"
            )

"""A recording surface: keeps what it was asked to show, can be told to fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from triagebot.cases.records import Case, MessageRef
from triagebot.errors import DeliveryError


@dataclass
class RecordingSurface:
    """Records posts, updates and replies; ``fail_next`` makes the next calls raise."""

    name: str = "recording"
    departments: set[str] | None = None
    posts: list[Case] = field(default_factory=list)
    updates: list[Case] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)
    escalations: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0
    retry_after: float | None = None

    def shows(self, case: Case) -> bool:
        return self.departments is None or case.department in self.departments

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeliveryError(f"{self.name} is down", retry_after=self.retry_after)

    async def post(self, case: Case) -> MessageRef:
        self._maybe_fail()
        self.posts.append(case)
        return MessageRef(self.name, "C1", f"m{case.id}")

    async def update(self, case: Case, ref: MessageRef) -> None:
        self._maybe_fail()
        self.updates.append(case)

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        self._maybe_fail()
        self.replies.append((case.id, text))

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        self._maybe_fail()
        self.escalations.append((case.id, text))

"""The outbox worker: shows new cases and changes on every surface, with retries.

Items are leased from the store for ``LEASE`` (10 s) and the lease of every item a worker
holds is renewed every ``RENEW_EVERY`` (3 s) while it works (a paced channel may keep an item
waiting longer than a lease), so a worker that dies gives its items back within about 10 s.
Stopping (SIGTERM) gives back at once every item leased but not delivered: those not started,
and those cancelled when the drain time ran out. A post is never repeated on a surface that
already has a message ref for the case, and an item remembers which surfaces it has served, so
a retry after a partial failure only redoes the surfaces that failed. An item for one surface
(``OutboxItem.surface``: a post on a surface that has just become reachable) is given to that
surface alone, without asking its ``shows`` (whoever queued it checked; this process may not
know the new channel yet, and the surface answers a permanent ``DeliveryError`` when it has
nowhere to show the case).
Backoff is exponential with jitter, or what the surface asked for; a permanent failure (a
channel that does not exist) is logged and not retried. Items of different cases are
delivered concurrently, those of one case in order. A delivered item costs one write: the ref
of its new post, the publication of a new case (new -> open) and the item's completion are
recorded together (``Store.finish_delivery``); when several surfaces post, the ref of each but
the last is stored before the next surface is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from asyncio import FIRST_COMPLETED
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from triagebot.actions.executor import change_of
from triagebot.cases.lifecycle import SYSTEM_ACTOR, LifecyclePolicy, Publish
from triagebot.cases.records import Case, CaseState, MessageRef, OutboxItem, OutboxKind
from triagebot.errors import CaseNotFound, DeliveryError, IllegalTransition, VersionConflict
from triagebot.lanes import in_delivery
from triagebot.runtime.surfaces import Surface
from triagebot.store.base import Store

log = logging.getLogger(__name__)

_POLL = 0.5  # seconds between leases while a flush has items in flight
#: How long a leased item stays hidden from other workers without a renewal.
LEASE = timedelta(seconds=10)
#: Seconds between renewals of the leases a working worker holds (well within ``LEASE``).
RENEW_EVERY = 3.0
_BASE_DELAY = 5.0
_MAX_ATTEMPTS = 5  # compare-and-set attempts of the write that records a delivery
_MAX_DELAY = 900.0
#: Items in flight at most. A paced surface keeps an item waiting for its channel's turn, so
#: the items in flight must hold work for every channel: leased oldest first, they spread over
#: the channels unevenly, and with 50 in flight over 8 channels paced at one post a second a
#: channel had nothing to post about 8% of the time while others had a queue (2% with 200).
BATCH = 200


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """Delay before the next attempt: the surface's Retry-After, else 5 s doubling to 15 min."""
    if retry_after is not None:
        return timedelta(seconds=max(1.0, retry_after) + random.uniform(0, 1))
    delay = min(_MAX_DELAY, _BASE_DELAY * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def _for(item: OutboxItem, surface: Surface, case: Case) -> bool:
    """True when ``item`` is work for ``surface``."""
    if item.surface is not None:
        return surface.name == item.surface
    return surface.shows(case)


class DeliveryWorker:
    """Drains the outbox onto the surfaces."""

    def __init__(
        self,
        store: Store,
        surfaces: Sequence[Surface],
        policy: LifecyclePolicy,
        clock: Callable[[], datetime],
        *,
        batch: int = BATCH,
        lease: timedelta = LEASE,
        renew_every: float = RENEW_EVERY,
    ) -> None:
        self.store = store
        self.surfaces = list(surfaces)
        self.policy = policy
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.renew_every = renew_every
        self.stopping = False
        self._busy = 0
        self._inflight: set[asyncio.Task[bool]] = set()
        self._held: dict[str, OutboxItem] = {}  # leased, not finished: id -> item with its lease
        self._renewer: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Lease nothing more; a flush in progress finishes its current item and gives the
        items it has not started back to the outbox (due at once, for another process)."""
        self.stopping = True

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the flush in progress, then give back the rest.

        Items still waiting (a paced channel) or in flight are cancelled and given back to the
        outbox, due at once, so the next leader delivers them without waiting out a lease;
        nothing keeps running after shutdown. True when nothing is left leased.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._busy and loop.time() < deadline:
            await asyncio.sleep(0.05)
        tasks = list(self._inflight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        renewer = self._renewer
        if renewer is not None:
            renewer.cancel()
            await asyncio.wait([renewer], timeout=2.0)
        return await self.give_back()

    async def give_back(self) -> bool:
        """Hand every item still held back to the outbox, due at once; True if none is left."""
        held = list(self._held.values())
        if not held:
            return True
        try:
            released = await in_delivery(self.store.renew_outbox, held, None)
        except Exception:
            log.exception("event=outbox_release_failed items=%d (their leases will expire)",
                          len(held))  # fmt: skip
            return False
        for item in held:
            self._held.pop(item.id, None)
        log.info("event=outbox_released items=%d", len(released))
        return True

    async def flush(self) -> int:
        """Deliver what is due; returns how many items were completed.

        Items of different cases go out concurrently, at most ``batch`` at a time, so a surface
        pacing one channel does not hold up the others; the items of one case keep their
        order. More items are leased as room frees up, until nothing is due.
        """
        if self.stopping:
            return 0
        self._busy += 1
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._keep_leases())
        try:
            return await self._flush()
        finally:
            self._busy -= 1
            if not self._busy and self._renewer is not None and not self.stopping:
                self._renewer.cancel()
                self._renewer = None

    async def _flush(self) -> int:
        running: dict[asyncio.Task[bool], OutboxItem] = {}
        latest: dict[str, asyncio.Task[bool]] = {}  # the last task of each case
        loop = asyncio.get_running_loop()
        completed, leased_at = 0, -1e9
        try:
            while True:
                room = self.batch - len(running)
                due = not running or room >= self._refill or loop.time() - leased_at >= _POLL
                if not self.stopping and room > 0 and due:
                    leased_at = loop.time()
                    items = await in_delivery(
                        self.store.lease_outbox, self.clock(), room, self.lease
                    )
                    taken = {item.id for item in running.values()}
                    for item in (i for i in items if i.id not in taken):
                        task = asyncio.ensure_future(self._after(latest.get(item.case_id), item))
                        running[task] = item
                        latest[item.case_id] = task
                        self._held[item.id] = item
                        self._inflight.add(task)
                        task.add_done_callback(self._finished(item.id))
                if not running:
                    return completed
                done, _ = await asyncio.wait(running, timeout=_POLL, return_when=FIRST_COMPLETED)
                for task in done:
                    item = running.pop(task)
                    if latest.get(item.case_id) is task:
                        del latest[item.case_id]
                    completed += 0 if task.cancelled() else int(task.result())
        finally:
            for task in running:  # the flush itself was cancelled: so is its work
                task.cancel()

    @property
    def _refill(self) -> int:
        return max(1, self.batch // 5)

    def _finished(self, item_id: str) -> Callable[[asyncio.Task[bool]], None]:
        """A delivered, retried or released item is no longer held; a cancelled one still is
        (``give_back`` returns it)."""

        def done(task: asyncio.Task[bool]) -> None:
            self._inflight.discard(task)
            if not task.cancelled():
                self._held.pop(item_id, None)

        return done

    async def _keep_leases(self) -> None:
        """Renew the leases of the items held, every ``renew_every`` seconds, while working."""
        while not (self.stopping and not self._held):
            await asyncio.sleep(self.renew_every)
            try:
                await self._renew()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=outbox_renew_failed items=%d", len(self._held))

    async def _renew(self) -> None:
        held = list(self._held.values())
        if not held:
            return
        until = self.clock() + self.lease
        call = asyncio.ensure_future(in_delivery(self.store.renew_outbox, held, until))
        try:
            renewed = await asyncio.shield(call)
        except asyncio.CancelledError:
            self._renewed(held, await call)  # the write happened: remember the new leases
            raise
        self._renewed(held, renewed)

    def _renewed(self, held: Sequence[OutboxItem], renewed: Sequence[OutboxItem]) -> None:
        moved = {item.id: item for item in renewed}
        for item in held:
            if self._held.get(item.id) is not item:
                continue  # finished (or renewed again) meanwhile
            if item.id in moved:
                self._held[item.id] = moved[item.id]
            else:
                # Completed by another worker after our lease ran out, or taken over.
                log.warning("event=outbox_lease_lost item=%s case=%s", item.id, item.case_id)
                del self._held[item.id]

    async def _after(self, previous: asyncio.Task[bool] | None, item: OutboxItem) -> bool:
        """Deliver ``item`` once the case's previous item is done (unless stopping)."""
        if previous is not None:
            await asyncio.wait([previous])
        if self.stopping:
            held = self._held.get(item.id, item)
            released = await in_delivery(self.store.renew_outbox, [held], None)
            log.info("event=outbox_released items=%d", len(released))
            return False
        try:
            return await self._deliver(item)
        except Exception:
            # The store failed; the item's lease runs out and it is delivered again later.
            log.exception("delivery of outbox item %s crashed", item.id)
            return False

    async def drain(self, max_rounds: int = 20) -> None:
        """Flush until nothing due is left (for the CLI and tests)."""
        for _ in range(max_rounds):
            if await self.flush() == 0:
                return

    async def _deliver(self, item: OutboxItem) -> bool:
        try:
            case = await in_delivery(self.store.get_case, item.case_id)
        except CaseNotFound:
            log.warning("outbox item %s names unknown case %s; dropped", item.id, item.case_id)
            await in_delivery(self.store.complete_outbox, item.id)
            return True
        done = list(item.done)
        errors: list[DeliveryError] = []
        unsaved: list[MessageRef] = []  # the last post's ref, written with the completion
        for surface in self.surfaces:
            if surface.name in done or not _for(item, surface, case):
                continue
            if unsaved:  # a post is remembered before the next surface is tried
                await in_delivery(self.store.set_message_ref, case.id, unsaved.pop())
            try:
                unsaved += await self._on_surface(surface, item, case)
            except DeliveryError as exc:
                if exc.permanent:
                    # Retrying cannot help (no such channel, revoked token): say so, move on.
                    log.error(
                        "delivery of %s case=%s to %s failed, not retried: %s",
                        item.kind, case.id, surface.name, exc,
                    )  # fmt: skip
                    done.append(surface.name)
                    continue
                log.warning(
                    "delivery of %s case=%s to %s failed: %s", item.kind, case.id, surface.name, exc
                )
                errors.append(exc)
            except Exception as exc:
                # A bug or an unexpected SDK error in one surface must not stop the others.
                log.exception(
                    "delivery of %s case=%s to %s crashed", item.kind, case.id, surface.name
                )
                errors.append(DeliveryError(f"{type(exc).__name__}: {exc}"))
            else:
                done.append(surface.name)
        if errors:
            for ref in unsaved:
                await in_delivery(self.store.set_message_ref, case.id, ref)
            retry_after = max((e.retry_after or 0.0 for e in errors), default=0.0) or None
            attempts = item.attempts + 1
            retry = replace(
                item,
                attempts=attempts,
                done=tuple(done),
                last_error=str(errors[0])[:500],
                next_attempt_at=self.clock() + backoff(attempts, retry_after),
            )
            await in_delivery(self.store.retry_outbox, retry)
            return False
        publish = item.kind is OutboxKind.POST and item.surface is None
        await in_delivery(self._finish, item, case if publish else None, unsaved)
        return True

    async def _on_surface(self, surface: Surface, item: OutboxItem, case: Case) -> list[MessageRef]:
        """Do ``item`` on ``surface``; the ref of a new post (not stored yet), else nothing."""
        refs = await in_delivery(self.store.message_refs, case.id)
        ref = refs.get(surface.name)
        if item.kind is OutboxKind.ESCALATE:
            await surface.escalate(case, ref, item.text or "")
        elif item.kind is OutboxKind.POST:
            if ref is None:
                return [await surface.post(case)]
        elif ref is None:
            pass  # not shown there yet; the pending post renders the current state
        elif item.kind is OutboxKind.UPDATE:
            await surface.update(case, ref)
        elif item.text:
            await surface.reply(case, ref, item.text)
        return []

    def _finish(self, item: OutboxItem, shown: Case | None, refs: Sequence[MessageRef]) -> None:
        """One write: the new refs, the publication of ``shown`` (new -> open) when it is
        still new, and the item's completion; a lost compare-and-set is tried again."""
        case = shown
        for _ in range(_MAX_ATTEMPTS):
            change = None
            if case is not None and case.state is CaseState.NEW:
                publish = Publish(case.id, SYSTEM_ACTOR, "delivery")
                with contextlib.suppress(IllegalTransition):  # nothing to publish
                    change = change_of(case, publish, self.policy, self.clock())
            try:
                self.store.finish_delivery(item.id, item.case_id, refs, change)
                return
            except VersionConflict:  # claimed (or changed) while it was being posted
                case = self.store.get_case(item.case_id)
        for ref in refs:  # never post twice: the item comes back, finding its refs
            self.store.set_message_ref(item.case_id, ref)
        raise VersionConflict(f"case #{item.case_id} keeps changing; delivery not recorded")

"""Case actions shared by the chat surfaces: which command each action is, and freshness.

A click names an ``ActionId`` and carries a ``CasePayload``; ``build_command`` makes the core
command (the surface's user id is the actor; a suggested department's button is a Reassign),
``check_fresh`` refuses a Resolve, Unclaim, Reopen, Reassign, suggestion or Spam made on an
older drawing of the case (a stale Claim is fine: the core answers "already claimed by …").
"""

from __future__ import annotations

from integrations.common.payload import ActionId, CasePayload
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Claim, Command, MarkSpam, Reassign, Reopen, Resolve, Unclaim
from triagebot.cases.records import Case
from triagebot.errors import TriagebotError

COMMANDS: dict[ActionId, type[Command]] = {
    ActionId.CLAIM: Claim,
    ActionId.UNCLAIM: Unclaim,
    ActionId.RESOLVE: Resolve,
    ActionId.REOPEN: Reopen,
    ActionId.SPAM: MarkSpam,
}
#: Clicks that must not act on a case that changed since the message was drawn: a stale
#: Resolve or Spam would close something its clicker has not seen.
NEEDS_FRESH = {ActionId.UNCLAIM, ActionId.RESOLVE, ActionId.REOPEN, ActionId.SPAM,
               ActionId.REASSIGN, ActionId.SUGGEST}  # fmt: skip
#: Clicks that name a department next to the case payload (``dept``).
TAKES_DEPARTMENT = {ActionId.REASSIGN, ActionId.SUGGEST}
VERB = {
    ActionId.UNCLAIM: "unclaim",
    ActionId.RESOLVE: "resolve",
    ActionId.REOPEN: "reopen",
    ActionId.SPAM: "mark as spam",
    ActionId.REASSIGN: "reassign",
    ActionId.SUGGEST: "reassign",
}


class StaleClick(TriagebotError):
    """The click was made on an older drawing of the case than the stored one."""


def build_command(
    action: ActionId, payload: CasePayload, actor: Identity, surface: str, department: str = ""
) -> Command:
    if action in TAKES_DEPARTMENT:
        return Reassign(payload.case_id, actor, surface, department=department)
    return COMMANDS[action](payload.case_id, actor, surface)


def check_fresh(action: ActionId, payload: CasePayload, current: Case) -> None:
    """Raise ``StaleClick`` if ``action`` needs the drawing it was made on to be current."""
    if action in NEEDS_FRESH and current.version != payload.version:
        raise StaleClick(
            f"case #{current.id} changed after this message was drawn; it now shows the "
            f"case as it is: {VERB[action]} it again if you still mean to"
        )

"""Every change to a stored case goes through here.

``execute`` is the one path of every click (Slack, Teams, the board, the CLI): read the case,
apply the lifecycle command, write it back with compare-and-set, retry on a lost race, and queue
what the surfaces must show. The SLA watcher is the clock's own actor: it climbs each case's
ladder (note, reminder, breach) and gives idle claims back, through the same lifecycle.
"""

from triagebot.actions.executor import Outcome, SettingsPolicy, execute, outbox_item

__all__ = ["Outcome", "SettingsPolicy", "execute", "outbox_item"]

"""The web board: every department's queue with SLA countdowns, buttons and the SLA report."""

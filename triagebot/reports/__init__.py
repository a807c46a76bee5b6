"""What managers read: SLA figures out of the store.

The ``triagebot sla`` tables, the period comparison and the worst open cases, and the ``/sla``
query language Slack and Teams answer with. Reads the configured store through the runtime;
the maths is ``sla``'s.
"""

"""The composition of a running triagebot.

``Runtime`` wires settings to a store, a router, the pipeline and the surfaces; the web server
(``/healthz`` and the platforms' endpoints), the scheduler and its single leader, the outbox
delivery worker, the ``Surface`` protocol every platform adapter implements and the console
surface, deploy checks, the daily digest and the demo.
"""

from triagebot.runtime.surfaces import Surface

__all__ = ["Surface"]

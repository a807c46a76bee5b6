"""The ``triagebot`` command.

``main`` parses the command line and maps errors to exit codes (2 for bad input, with one line
naming the file and field); one module per command group: cases, rules, run (serve, demo),
sla, sources, transfer.
"""

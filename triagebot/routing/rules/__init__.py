"""The rules language: rule files in ``rules/*.yaml`` read into records.

``spec`` holds the records, ``loading`` reads YAML keeping the line of every value, ``parse``
turns files into rules collecting every problem, ``check`` is ``triagebot rules check`` and
``reload`` swaps the rules while ``serve`` runs.
"""

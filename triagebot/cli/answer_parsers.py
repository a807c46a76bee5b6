"""The arguments of ``reply``, ``answered`` and ``threads`` (kept light: read by every command)."""

from __future__ import annotations

import argparse


def add_answer_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reply = sub.add_parser("reply", help="answer the customer in public, on the post's platform")
    reply.add_argument("case_id", help="case number, as shown by `triagebot cases`")
    reply.add_argument("text", help="the reply, sent as written")
    reply.add_argument("--by", required=True, metavar="WHO", help="who is replying")
    answered = sub.add_parser(
        "answered", help="record that the customer was answered elsewhere (first response)"
    )
    answered.add_argument("case_id")
    answered.add_argument("--by", required=True, metavar="WHO")
    answered.add_argument("--url", help="link to the public answer (http or https)")
    sub.add_parser("threads", help="read the threads of the followed cases once (public answers)")

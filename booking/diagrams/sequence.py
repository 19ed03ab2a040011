"""The sequence diagram of one real booking, drawn from the JSON logs of a run.

Every call leaves a `booking.calls` record when it ends, with its duration and the
call that caused it (`parent_call_id`); the bank's client and the mailer leave one
per request and per e-mail (`peer`). So the logs of a request (`booking trace`)
hold every message it caused, which process sent it and which answered, and when.
"""
import re
from datetime import datetime, timedelta

from booking.diagrams.puml import document, ident

PEERS = {"bank": ("Bank (HTTP)", "bank"), "smtp": ("Mail server (SMTP)", "smtp")}
RPC = re.compile(r"rpc [\w-]+\.(?P<method>\w+): (?P<outcome>\S+)")
EVENT = re.compile(r"event [\w-]+\.(?P<event>\w+) -> (?P<method>\w+): (?P<outcome>\S+)")
HTTP = re.compile(r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) in ")
BANK = re.compile(r"bank (?P<method>[A-Z]+) (?P<path>\S+): (?P<status>\d{3}) in ")


def moment(record):
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00"))


def began(record):
    return moment(record) - timedelta(milliseconds=record.get("duration_ms") or 0)


def messages(records):
    """(time, order, PlantUML line) for each message the records show, in the order
    they happened. Each process stamps its own records, so an answer is put no later
    than the end of the call waiting for it, deeper answers first."""
    calls = {record["call_id"]: record for record in records
             if record["logger"] == "booking.calls" and record.get("call_id")}

    def depth(record):
        parent = calls.get(record.get("parent_call_id"))
        return 0 if parent is None else 1 + depth(parent)

    def answered(record):
        # a caller waits for an RPC's answer; nobody waits for an event's handler
        parent = calls.get(record.get("parent_call_id"))
        if parent is None or not RPC.match(record["message"]):
            return moment(record)
        return min(moment(record), answered(parent))

    found = []
    for record in records:
        process, message = ident(record["process"]), record["message"]
        took = f"{record.get('duration_ms', 0):.0f} ms"
        if record["logger"] == "booking.calls":
            parent = calls.get(record.get("parent_call_id"))
            caller = ident(parent["process"]) if parent else "guest"
            start, end = (began(record), 0, depth(record)), (answered(record), 2, -depth(record))
            if match := RPC.match(message):
                found.append((*start, f"{caller} -> {process} : {match['method']}"))
                found.append((*end, f"{process} --> {caller} : {match['outcome']}, {took}"))
            elif match := EVENT.match(message):
                found.append((*start, f"{caller} ->> {process} : <i>{match['event']}</i> → {match['method']}"))
            elif (match := HTTP.match(message)) and parent is None:
                found.append((*start, f"guest -> {process} : {match['method']} {match['path']}"))
                found.append((*end, f"{process} --> guest : {match['status']}, {took}"))
        elif record.get("peer") == "bank" and (match := BANK.match(message)):
            found.append((began(record), 1, 0, f"{process} -> bank : {match['method']} {match['path']}"))
            found.append((moment(record), 1, 0, f"bank --> {process} : {match['status']}, {took}"))
        elif record.get("peer") == "smtp":
            found.append((moment(record), 1, 0, f"{process} ->> smtp : e-mail \"{record.get('subject', '')}\""))
    return sorted(found, key=lambda item: item[:3])


def participants(records):
    """The processes the records come from, the gateway's first, then the outside world."""
    processes = []
    for record in sorted(records, key=began):
        if record["process"] not in processes:
            processes.append(record["process"])
    processes.sort(key=lambda process: not process.startswith("gateway"))
    peers = [peer for peer in PEERS if any(record.get("peer") == peer for record in records)]
    return processes, peers


def sequence_diagram(requests):
    """The diagram of the requests given as [(title, records of one request)], in order."""
    every = [record for _, records in requests for record in records]
    processes, peers = participants(every)
    lines = ["skinparam sequenceMessageAlign left", "skinparam maxMessageSize 260",
             'actor "Guest" as guest']
    lines += [f'participant "{process}" as {ident(process)}' for process in processes]
    lines += [f'participant "{PEERS[peer][0]}" as {PEERS[peer][1]}' for peer in peers]
    for title, records in requests:
        request_id = records[0]["request_id"] if records else "?"
        lines.append(f"== {title} ({request_id.rsplit('.', 1)[-1][:8]}) ==")
        lines += [message[-1] for message in messages(records)]
    lines += [
        "legend right",
        "  One real booking, as its requests' JSON logs recorded it (booking trace).",
        "  ->> an event; -> a call (RPC or HTTP), --> its answer and how long it took.",
        "  Each participant is a process of the stack (search-2: the second instance).",
        "  <i>generated by booking diagrams --sequence from var/log/*.log</i>",
        "endlegend",
    ]
    return document("sequence-booking", "Booking: one booking, hold to e-mails, as it ran", lines)

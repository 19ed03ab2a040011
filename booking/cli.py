"""The `booking` command: set up databases and run the whole platform locally.

    booking migrate            bring every service's database to the newest schema
    booking seed               add the demo catalogue (safe to run again)
    booking seed --hotels 100000 --booked-nights 1000000   ... 100,000 hotels and a million room-nights booked
    booking run                broker, databases, every service and the gateway
    booking run --scale search=3
    booking run --cluster 3    ... on a RabbitMQ cluster of three local nodes (quorum queues)
    booking run --logs DIR     ... the processes' logs in DIR (default var/log)
    booking --config config/postgres.yaml run --local-postgres   ... on a PostgreSQL server under var/postgres
    booking rotate-keys        a new token-signing key signs from now on (old ones stay published)
    booking rotate-keys --retire-old   ... and tokens signed by the old ones stop working
    booking trace REQUEST_ID   every log record of one request (X-Request-Id), from every service
    booking dead-letters       the events whose handler kept failing, parked (service, event, error, age, tries)
    booking dead-letters replay ID|--all   send them back to their handler
    booking admin create-hotel --name N --address A --city C --country K --stars S [--timezone --currency]
    booking admin grant-manager HOTEL_ID EMAIL    EMAIL manages the hotel (a manager from now on)
    booking admin make-operator EMAIL             EMAIL runs the platform (scope admin at the next login)
    booking diagrams           the component, deployment and package diagrams, into docs/diagrams/
    booking diagrams --sequence HOLD_ID PAY_ID   ... and the sequence of one booking, from var/log/

`--config FILE` (default config.yaml, or $BOOKING_CONFIG) picks the configuration.
"""
import argparse
import os
import sys
from pathlib import Path

from booking.devstack.broker import BrokerError
from booking.devstack.postgres import PostgresError
from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.logs import read_records
from booking.kit.migrations import DatabaseUnreachable, migrate_all, seed_all


def rotate_signing_keys(config, retire_old=False):
    """A new signing key in auth's database; services fetch it when a token names it."""
    from sqlalchemy.orm import Session

    from booking.auth import keys
    from booking.kit.config import db_uri
    from booking.kit.database import create_db_engine

    engine = create_db_engine(db_uri(config, "auth"))
    with Session(engine) as session, session.begin():
        kid = keys.rotate(session, config["SIGNING_KEY_PASSPHRASE"], retire_older=retire_old).kid
    engine.dispose()
    return kid


def print_trace(request_id, log_dir, out=None):
    """Every record of one request in the logs of `log_dir`, in time order; False if none."""
    out = out or sys.stdout
    records = read_records(Path(log_dir), request_id)
    if not records:
        return False
    ids = sorted({record["request_id"] for record in records})
    processes = sorted({record["process"] for record in records})
    print(f"{', '.join(ids)}: {len(records)} records from {', '.join(processes)}", file=out)
    width = max(len(name) for name in processes)
    for record in records:
        # the call without its uuid ("reservations.hold"): which hop of the request this is
        call = (record.get("call_id") or "").rsplit(".", 1)[0]
        print(f"{record['time']}  {record['process']:<{width}}  {call:<36} {record['level']:<7} "
              f"{record['logger']}: {record['message']}", file=out)
        if record.get("exception"):
            print("    " + record["exception"].replace("\n", "\n    "), file=out)
    return True


def dead_letters(config, args, out=None, services=None):
    """List the parked events, or replay one or all; 1 if the one asked for is not
    parked. `services`: whose yards to look in (every service that handles events)."""
    from booking.diagrams.services import services as found_services
    from booking.kit import deadletters

    out = out or sys.stdout
    handling = services or [service.name for service in found_services() if service.handles]
    with deadletters.connect(config) as connection:
        present = [name for name, count in deadletters.waiting(connection, handling).items() if count]
        with connection.channel() as channel:  # closed at the end: what is not replayed goes back
            letters = deadletters.read(channel, present)
            if getattr(args, "action", None) != "replay":
                print(f"{len(letters)} dead letters" + (":" if letters else ""), file=out)
                for letter in letters:
                    print(f"  {letter.id}  {letter.service}.{letter.handler} <- {letter.source}.{letter.event_type}"
                          f"  tries {letter.tries}, parked {letter.age} ago: {letter.error}", file=out)
                return 0
            chosen = letters if args.all else [letter for letter in letters if letter.id == args.id]
            if not chosen:
                print(f"booking dead-letters: no parked event {args.id}", file=sys.stderr)
                return 1
            deadletters.replay(channel, chosen)
            print(f"Replayed {len(chosen)}: " + ", ".join(letter.id for letter in chosen), file=out)
    return 0


def write_diagrams(args):
    from booking.diagrams import render

    try:
        if args.sequence:
            diagrams = {render.SEQUENCE: render.sequence_from_logs(args.sequence, args.logs)}
        else:
            diagrams = render.static_diagrams()
        written = render.write(diagrams, args.out or render.DIAGRAMS_DIR, args.png)
    except (LookupError, render.PlantUmlMissing) as error:
        print(f"booking diagrams: {error}", file=sys.stderr)
        return 1
    print("\n".join(f"Wrote {path}" for path in written))
    return 0


def admin(config, args, out=None):
    """The operator's commands, on the databases of this configuration."""
    from booking.devstack import demo
    from booking.kit.errors import BookingError

    out = out or sys.stdout
    try:
        if args.action == "create-hotel":
            hotel_id = demo.create_hotel(config, {key: getattr(args, key) for key in (
                "name", "address", "city", "country", "stars", "timezone", "currency")})
            print(f"Hotel {hotel_id} created: grant it a manager with `booking admin grant-manager {hotel_id} EMAIL`",
                  file=out)
        elif args.action == "grant-manager":
            demo.grant_manager(config, args.hotel_id, args.email)
            print(f"{args.email} manages hotel {args.hotel_id} (at their next login)", file=out)
        else:
            demo.set_role(config, args.email, "operator")
            print(f"{args.email} is an operator (at their next login)", file=out)
    except (LookupError, BookingError) as error:
        details = f" {error.details}" if isinstance(error, BookingError) and error.details else ""
        print(f"booking admin: {error.args[0]}{details}", file=sys.stderr)
        return 1
    return 0


def whole_number(at_least):
    """An argparse type: a whole number, `at_least` or more."""
    def parse(text):
        if not text.isdigit() or int(text) < at_least:
            raise argparse.ArgumentTypeError(f"a whole number, {at_least} or more")
        return int(text)
    return parse


def parse_scale(text):
    name, _, count = text.partition("=")
    if not name or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError("use NAME=COUNT, e.g. search=3")
    return name, int(count)


def build_parser():
    parser = argparse.ArgumentParser(prog="booking", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="nameko config file (default config.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring every service's database to the newest schema")
    seed = commands.add_parser("seed", help="add the demo data that is missing")
    seed.add_argument("--hotels", type=whole_number(1), metavar="N",
                      help="demo hotels 1 to N (default 2,475: the demo catalogue; hotels beyond it are spread "
                           "over the same cities)")
    seed.add_argument("--booked-nights", type=whole_number(0), default=0, metavar="M",
                      help="also book confirmed stays until M room-nights are booked, over the next 300 nights "
                           "(default 0; booking/devstack/seeded_bookings.py)")
    run = commands.add_parser("run", help="run broker, services and gateway until Ctrl-C")
    run.add_argument("--scale", type=parse_scale, action="append", default=[],
                     metavar="NAME=COUNT", help="run COUNT instances of a process")
    run.add_argument("--cluster", type=int, default=0, metavar="NODES",
                     help="start a RabbitMQ cluster of NODES local nodes instead of one broker")
    run.add_argument("--no-seed", action="store_true", help="do not add the demo data")
    run.add_argument("--logs", default=str(PROJECT_ROOT / "var" / "log"),
                     help="the directory of the processes' logs (default var/log)")
    run.add_argument("--local-postgres", action="store_true",
                     help="start a PostgreSQL server under var/postgres for every database (make run DB=postgres)")
    rotate = commands.add_parser("rotate-keys", help="make a new signing key for access tokens")
    rotate.add_argument("--retire-old", action="store_true",
                        help="stop publishing the old keys (tokens they signed are refused)")
    dead = commands.add_parser("dead-letters", help="list the parked events, or replay them")
    dead_commands = dead.add_subparsers(dest="action")
    replay = dead_commands.add_parser("replay", help="send parked events back to their handler")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the ID `booking dead-letters` shows")
    which.add_argument("--all", action="store_true", help="every parked event")
    admin = commands.add_parser("admin", help="the operator's commands: hotels, managers, operators")
    admin_commands = admin.add_subparsers(dest="action", required=True)
    hotel = admin_commands.add_parser("create-hotel", help="add a hotel (its manager adds its room types)")
    for name in ("name", "address", "city", "country"):
        hotel.add_argument(f"--{name}", required=True)
    hotel.add_argument("--stars", type=int, required=True)
    hotel.add_argument("--timezone", default="UTC", help="IANA zone, e.g. Europe/Paris")
    hotel.add_argument("--currency", default="EUR")
    grant = admin_commands.add_parser("grant-manager", help="let an account manage a hotel")
    grant.add_argument("hotel_id", type=int)
    grant.add_argument("email")
    operator = admin_commands.add_parser("make-operator", help="make an account the platform's operator")
    operator.add_argument("email")
    diagrams = commands.add_parser("diagrams", help="generate the UML diagrams of docs/diagrams/ from the code")
    diagrams.add_argument("--out", default=None, help="where to write them (default docs/diagrams)")
    diagrams.add_argument("--png", default=None, metavar="DIR", help="also render PNGs into DIR, to look at")
    diagrams.add_argument("--sequence", nargs="+", metavar="REQUEST_ID",
                          help="draw only the sequence diagram of these requests (a hold's and its payment's "
                               "X-Request-Id), from the logs")
    diagrams.add_argument("--logs", default=str(PROJECT_ROOT / "var" / "log"),
                          help="the directory of the processes' logs, for --sequence (default var/log)")
    trace = commands.add_parser("trace", help="every log record of one request, from every process, in time order")
    trace.add_argument("request_id", help="the X-Request-Id of a response, or the short id the terminal shows")
    trace.add_argument("--logs", default=str(PROJECT_ROOT / "var" / "log"),
                       help="the directory of the processes' logs (default var/log)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "trace":  # needs no configuration
        if print_trace(args.request_id, args.logs):
            return 0
        print(f"booking trace: no record of {args.request_id} in {args.logs}/*.log (JSON logs only)", file=sys.stderr)
        return 1
    if args.command == "diagrams":  # reads the code and the configuration files, not the settings
        return write_diagrams(args)
    config_path = args.config or os.environ.get("BOOKING_CONFIG") or "config.yaml"
    config = load_config(config_path)
    if args.command == "migrate":
        try:
            migrate_all(config)
        except DatabaseUnreachable as error:
            print(f"booking migrate: {error}", file=sys.stderr)
            return 1
    elif args.command == "seed":
        seed_all(config, options={"search": {"hotels": args.hotels}} if args.hotels else None)
        if args.booked_nights:
            from booking.devstack.seeded_bookings import seed_bookings

            seed_bookings(config, args.booked_nights)
    elif args.command == "rotate-keys":
        kid = rotate_signing_keys(config, retire_old=args.retire_old)
        print(f"Access tokens are now signed with key {kid}")
    elif args.command == "dead-letters":
        return dead_letters(config, args)
    elif args.command == "admin":
        return admin(config, args)
    elif args.command == "run":
        from booking.devstack.stack import StackError, run

        try:
            return run(config, config_path, scale=dict(args.scale), seed=not args.no_seed,
                       cluster_size=args.cluster, local_postgres=args.local_postgres, log_dir=Path(args.logs))
        except (StackError, BrokerError, DatabaseUnreachable, PostgresError) as error:
            print(f"booking run: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

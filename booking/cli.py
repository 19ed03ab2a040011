"""The `booking` command: set up databases and run the whole platform locally.

    booking migrate            bring every service's database to the newest schema
    booking seed               add the demo catalogue (safe to run again)
    booking run                broker, databases, every service and the gateway
    booking run --scale search=3
    booking rotate-keys        a new token-signing key signs from now on (old ones stay published)
    booking rotate-keys --retire-old   ... and tokens signed by the old ones stop working

`--config FILE` (default config.yaml, or $BOOKING_CONFIG) picks the configuration.
"""
import argparse
import sys

from booking.devstack.broker import BrokerError
from booking.kit.config import load_config
from booking.kit.migrations import migrate_all, seed_all


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
    commands.add_parser("seed", help="add the demo data that is missing")
    run = commands.add_parser("run", help="run broker, services and gateway until Ctrl-C")
    run.add_argument("--scale", type=parse_scale, action="append", default=[],
                     metavar="NAME=COUNT", help="run COUNT instances of a process")
    run.add_argument("--no-seed", action="store_true", help="do not add the demo data")
    rotate = commands.add_parser("rotate-keys", help="make a new signing key for access tokens")
    rotate.add_argument("--retire-old", action="store_true",
                        help="stop publishing the old keys (tokens they signed are refused)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    config_path = args.config or "config.yaml"
    config = load_config(config_path)
    if args.command == "migrate":
        migrate_all(config)
    elif args.command == "seed":
        seed_all(config)
    elif args.command == "rotate-keys":
        kid = rotate_signing_keys(config, retire_old=args.retire_old)
        print(f"Access tokens are now signed with key {kid}")
    elif args.command == "run":
        from booking.devstack.stack import StackError, run

        try:
            return run(config, config_path, scale=dict(args.scale), seed=not args.no_seed)
        except (StackError, BrokerError) as error:
            print(f"booking run: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

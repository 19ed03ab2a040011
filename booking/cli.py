"""The `booking` command: set up databases and run the whole platform locally.

    booking migrate            bring every service's database to the newest schema
    booking seed               add the demo catalogue (safe to run again)
    booking run                broker, databases, every service and the gateway
    booking run --scale search=3

`--config FILE` (default config.yaml, or $BOOKING_CONFIG) picks the configuration.
"""
import argparse
import sys

from booking.devstack.broker import BrokerError
from booking.kit.config import load_config
from booking.kit.migrations import migrate_all, seed_all


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
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    config_path = args.config or "config.yaml"
    config = load_config(config_path)
    if args.command == "migrate":
        migrate_all(config)
    elif args.command == "seed":
        seed_all(config)
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

"""Loading the nameko YAML configuration exactly as `nameko run` does."""
import os
from pathlib import Path

import yaml
from nameko.cli.main import setup_yaml_parser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = "config.yaml"


def load_config(path=None):
    """Read a nameko config file, substituting `${VAR:default}` from the environment."""
    setup_yaml_parser()
    path = Path(path or os.environ.get("BOOKING_CONFIG") or DEFAULT_CONFIG)
    with path.open() as stream:
        return yaml.safe_load(stream)


def db_uri(config, service_name):
    """The database URI of one service (`DB_URIS[service_name]`)."""
    try:
        return config["DB_URIS"][service_name]
    except KeyError:
        raise KeyError(f"DB_URIS has no entry for the {service_name!r} service") from None

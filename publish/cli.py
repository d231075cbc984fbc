"""`dti publish`: push a period's bundle to the DTI site (registered by pipeline.cli)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dti.settings import Settings


def register(
    sub: argparse._SubParsersAction,
    add_paths: Callable[..., None],
    settings_from_args: Callable[[argparse.Namespace], Settings],
    print_json: Callable[[object], None],
) -> None:
    parser = sub.add_parser(
        "publish",
        help="upload the bundle of a period to the DTI site",
        description=(
            "Uploads OUT/<period>/ to the DTI site's HTTP endpoint. The token comes from "
            "DTI_PUBLISH_TOKEN or the Airflow connection 'dti_site'. Refuses a bundle whose "
            "manifest does not show passing validation; running it again is safe."
        ),
    )
    parser.add_argument(
        "--period", type=int, required=True, help="period whose bundle to upload, e.g. 2023"
    )
    parser.add_argument(
        "--to",
        dest="url",
        default=None,
        help="site URL (default $DTI_PUBLISH_URL), e.g. https://dti.example.gov.vn/api/bundles",
    )
    parser.add_argument(
        "--attempts", type=int, default=5, help="tries per request on 5xx (default 5), e.g. 3"
    )
    add_paths(parser, "out")

    def run(args: argparse.Namespace) -> int:
        from publish.push import push_bundle

        result = push_bundle(
            settings_from_args(args), args.period, url=args.url, attempts=args.attempts
        )
        print_json(result.as_dict())
        return 0

    parser.set_defaults(func=run)

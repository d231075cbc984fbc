"""`dti publish` (push a period's current release to the DTI site), `dti release` (list,
approve, reject releases; serve OUT read-only for the approvers) and `dti site serve` (a
stand-in DTI site); registered by pipeline.cli, which hands in its jobs (``pipeline.jobs``): a
command here parses and prints, the job does the work and keeps its guarantees."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dti.settings import Settings
from publish.drafts_server import PORT as DRAFTS_PORT
from publish.site_server import PORT as SITE_PORT


def register(
    sub: argparse._SubParsersAction,
    add_paths: Callable[..., None],
    settings_from_args: Callable[[argparse.Namespace], Settings],
    print_json: Callable[[object], None],
    jobs: Any,
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
    _period_and_out(parser, add_paths, "period whose current release to upload, e.g. 2023")
    parser.add_argument(
        "--to",
        dest="url",
        default=None,
        help="site URL (default $DTI_PUBLISH_URL), e.g. https://dti.example.gov.vn/api/bundles",
    )
    parser.add_argument(
        "--attempts", type=int, default=5, help="tries per request on 5xx (default 5), e.g. 3"
    )

    def run(args: argparse.Namespace) -> int:
        settings = settings_from_args(args)
        if not (args.url or settings.publish_url):
            from publish.push import PushError

            raise PushError("no DTI site URL: pass --to URL or set DTI_PUBLISH_URL")
        result = jobs.push(settings, args.period, url=args.url, attempts=args.attempts)
        print_json(result.as_dict())
        return 0

    parser.set_defaults(func=run)
    register_release(sub, add_paths, settings_from_args, print_json, jobs)
    register_council(sub, settings_from_args, print_json, jobs)
    register_site(sub)


def _group(
    sub: argparse._SubParsersAction, name: str, text: str, description: str
) -> argparse._SubParsersAction:
    """A command made of actions (`dti release list`, `dti site serve`): its actions."""
    parser = sub.add_parser(name, help=text, description=description)
    return parser.add_subparsers(dest="action", required=True)


def _period_and_out(
    parser: argparse.ArgumentParser, add_paths: Callable[..., None], period_help: str
) -> None:
    """The arguments every command on a period's releases takes: which period, which OUT."""
    parser.add_argument("--period", type=int, required=True, help=period_help)
    add_paths(parser, "out")


def _decision(parser: argparse.ArgumentParser, reject: bool) -> None:
    """The arguments of a decision on one period's draft: which draft, which bundle was
    reviewed (its checksum: a draft rebuilt since is refused), who decides and why."""
    parser.add_argument("--release", type=int, required=True, help="the draft's number, e.g. 2")
    parser.add_argument(
        "--checksum",
        required=not reject,
        default=None,
        help="the bundle_sha256 of the draft you reviewed (dti release list), or its first 12+ "
        "characters" + ("; optional for a rejection" if reject else ""),
    )
    parser.add_argument(
        "--by",
        default=None,
        help="who decides: with DTI_APPROVERS, the approver_id or full name of one of them "
        "(default: the OS user)",
    )
    parser.add_argument(
        "--key",
        type=Path,
        default=None,
        help="your Ed25519 private key (PEM, `dti council keygen`) when DTI_APPROVAL_SIGNING is "
        "on (default: <approver_id>.pem in DTI_APPROVAL_KEYS_DIR)",
    )
    parser.add_argument(
        "--reason",
        required=reject,
        default="",
        help="why, recorded in the manifest" + (" (required)" if reject else ""),
    )


def _approver(args: argparse.Namespace) -> str:
    if args.by:
        return args.by
    import getpass

    return getpass.getuser()


def register_release(
    sub: argparse._SubParsersAction,
    add_paths: Callable[..., None],
    settings_from_args: Callable[[argparse.Namespace], Settings],
    print_json: Callable[[object], None],
    jobs: Any,
) -> None:
    actions = _group(
        sub,
        "release",
        "list, approve, reject or roll back the releases of a period; serve OUT for the approvers",
        "A release is built as a draft when DTI_PUBLISH_REQUIRES_APPROVAL is true; "
        "`approve` makes it the current release (OUT/<period>), `reject` keeps the "
        "current one and records the rejection, `rollback` makes a new release with the "
        "files of an earlier one. `list` only reads. Without Airflow this is the approval.",
    )

    def run_list(args: argparse.Namespace) -> int:
        print_json(jobs.releases(settings_from_args(args), args.period))
        return 0

    def run_approve(args: argparse.Namespace) -> int:
        release = jobs.approve(
            settings_from_args(args), args.period, args.release, by=_approver(args),
            reviewed_sha256=args.checksum, reason=args.reason, key_path=args.key,
        )  # fmt: skip
        print_json(release)
        return 0

    def run_reject(args: argparse.Namespace) -> int:
        release = jobs.reject(
            settings_from_args(args), args.period, args.release, by=_approver(args),
            reason=args.reason, reviewed_sha256=args.checksum, key_path=args.key,
        )  # fmt: skip
        print_json(release)
        return 0

    def run_rollback(args: argparse.Namespace) -> int:
        release = jobs.rollback(
            settings_from_args(args), args.period, args.to, by=_approver(args), reason=args.reason
        )
        print_json(release)
        return 0

    for name, func, text in (
        ("list", run_list, "the releases of a period, the current one and the rejected drafts"),
        ("approve", run_approve, "make the draft release the current one"),
        ("reject", run_reject, "reject the draft release; the current one stays"),
        (
            "rollback",
            run_rollback,
            "go back to an earlier approved release: a new release with its files, approved "
            "like any release (a draft when DTI_PUBLISH_REQUIRES_APPROVAL is true)",
        ),
    ):
        action = actions.add_parser(name, help=text, description=text)
        _period_and_out(action, add_paths, "period, e.g. 2023")
        if name in ("approve", "reject"):
            _decision(action, reject=name == "reject")
        if name == "rollback":
            action.add_argument(
                "--to", type=int, required=True, help="the approved release to return to, e.g. 1"
            )
            action.add_argument("--by", default=None, help="who asks (default: the OS user)")
            action.add_argument(
                "--reason", required=True, help="why, recorded in the new release (required)"
            )
        action.set_defaults(func=func)

    serve = actions.add_parser(
        "serve",
        help="serve OUT read-only, so approvers can open the drafts (until Ctrl-C)",
        description=(
            "Serves OUT read-only over HTTP (GET and HEAD): a draft is at "
            "<url>/.releases/<period>/<n>/index.html. Set DTI_DRAFTS_URL to the address the "
            "approvers reach it at and the approval prompt links the draft."
        ),
    )
    add_paths(serve, "out")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on, e.g. 0.0.0.0")
    serve.add_argument(
        "--port", type=int, default=DRAFTS_PORT, help=f"default {DRAFTS_PORT}; 0 = any free port"
    )

    def run_serve(args: argparse.Namespace) -> int:
        from publish.drafts_server import DraftsServer

        server = DraftsServer(settings_from_args(args).out, host=args.host, port=args.port)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # as `dti site serve`
        print(f"DTI drafts (OUT, read-only): {server.base}/", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0

    serve.set_defaults(func=run_serve)


def register_council(
    sub: argparse._SubParsersAction,
    settings_from_args: Callable[[argparse.Namespace], Settings],
    print_json: Callable[[object], None],
    jobs: Any,
) -> None:
    actions = _group(
        sub,
        "council",
        "the council that approves releases: its approvers, quorum, and their keys",
        "The approvers are named in DTI_APPROVERS (CSV: approver_id, full_name, public_key, "
        "valid_from, revoked_at); DTI_APPROVAL_QUORUM of them must approve a release; with "
        "DTI_APPROVAL_SIGNING each decision is signed with the approver's Ed25519 key.",
    )

    def run_list(args: argparse.Namespace) -> int:
        council = jobs.council(settings_from_args(args))
        print_json(
            {
                "approvers_file": str(council.source) if council.source else None,
                "quorum": council.quorum,
                "signing": council.signing,
                "keys_dir": str(council.keys_dir) if council.keys_dir else None,
                "approvers": [
                    {
                        "approver_id": a.approver_id,
                        "full_name": a.full_name,
                        "public_key": a.public_key or None,
                        "valid_from": a.valid_from.isoformat() if a.valid_from else None,
                        "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None,
                    }
                    for a in council.approvers.values()
                ],
            }
        )
        return 0

    listing = actions.add_parser(
        "list", help="the approvers, the quorum and whether decisions are signed (checked)"
    )
    listing.set_defaults(func=run_list)

    keygen = actions.add_parser(
        "keygen",
        help="make an approver's Ed25519 key pair",
        description="Writes the private key to DIR/<approver_id>.pem (readable by its owner "
        "only, never over an existing file) and prints the line to add to DTI_APPROVERS.",
    )
    keygen.add_argument("--approver", required=True, help="the approver_id, e.g. nguyenvana")
    keygen.add_argument("--name", default="", help="their full name, for the printed CSV line")
    keygen.add_argument(
        "--dir", type=Path, required=True, help="where to write the private key, e.g. ~/.dti"
    )

    def run_keygen(args: argparse.Namespace) -> int:
        from publish.council import generate_key_pair

        path, public = generate_key_pair(args.approver, args.dir)
        print_json(
            {
                "approver_id": args.approver,
                "private_key": str(path),
                "public_key": public,
                "csv_line": f"{args.approver},{args.name},{public},,",
            }
        )
        return 0

    keygen.set_defaults(func=run_keygen)


def register_site(sub: argparse._SubParsersAction) -> None:
    actions = _group(
        sub,
        "site",
        "a stand-in DTI site to push to and browse",
        "Starts the stand-in DTI site (publish/site_server.py): it receives `dti publish` "
        "at <url>/api/bundles and shows the published bundles at <url>/<period>/.",
    )
    serve = actions.add_parser(
        "serve",
        help="serve until interrupted (Ctrl-C)",
        description=(
            "The token pushes must carry comes from DTI_PUBLISH_TOKEN or --token-file, never "
            "from the command line (every local user sees a process's arguments). Limits: "
            "docs/publishing.md, 'Site server'."
        ),
    )
    serve.add_argument(
        "--token",
        default=None,
        help=argparse.SUPPRESS,  # refused: kept only to say where the token goes instead
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="a file holding the bearer token pushes must carry (default: $DTI_PUBLISH_TOKEN)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=SITE_PORT, help="0 = any free port")
    serve.add_argument(
        "--root", type=Path, default=Path("data/site"), help="where the site keeps the bundles"
    )
    serve.add_argument(
        "--max-file-bytes",
        type=int,
        default=None,
        help="largest file a push may upload (default 256 MiB), e.g. 1073741824",
    )

    def run(args: argparse.Namespace) -> int:
        from dti.settings import load_settings
        from publish.site_server import MAX_FILE_BYTES, SiteServer

        if args.token is not None:
            serve.error(
                "--token is refused (every local user sees it in the process list): set "
                "DTI_PUBLISH_TOKEN or pass --token-file PATH"
            )
        if args.token_file is not None:
            try:
                token = args.token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"--token-file {args.token_file}: cannot be read ({exc})"
                ) from None
        else:
            token = load_settings().publish_token or ""
        server = SiteServer(
            args.root.resolve(), token, host=args.host, port=args.port,
            max_file_bytes=args.max_file_bytes or MAX_FILE_BYTES,
        )  # fmt: skip
        # a service manager (docker stop, systemd) stops it with SIGTERM; Ctrl-C is SIGINT,
        # which a process started in the background by a script ignores from birth
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        print(f"DTI stand-in site: {server.base}/  (push to {server.url})", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0

    serve.set_defaults(func=run)

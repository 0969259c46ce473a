"""Management CLI: `python -m shared.manage keys create|list|revoke`, `secrets names|check`, `billing import`,
`economic customers|sync`, `work reindex`.

Reads the same settings as the app (environment, else ./local.settings.json), so on a laptop it
talks to the Azurite that `make run` started, and in Azure to the app's storage account.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.accounting.cli import format_report
from shared.accounting.schemas import CustomerSyncIn
from shared.config import ConfigError
from shared.container import TABLES, build
from shared.errors import DomainError
from shared.export.schemas import SettingsIn
from shared.invoicing.importing import read_directory_file
from shared.local_settings import load_local_settings
from shared.platform.keys import CONNECTOR_RIGHTS, KNOWN_RIGHTS, ApiKey
from shared.platform.secrets import (
    API_KEY_PEPPER,
    FIXED_SECRETS,
    SecretMissing,
    SecretRef,
    Secrets,
    economic_grant_token_ref,
)
from shared.platform.tenants import TENANT_RE, validate_tenant
from shared.repositories.work_reindex import reindex
from shared.validation import validate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.manage", description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="local.settings.json", help="local settings file (default: %(default)s)")
    groups = parser.add_subparsers(dest="group", required=True)
    keys = groups.add_parser("keys", help="API keys (connections)").add_subparsers(dest="command", required=True)

    create = keys.add_parser("create", help="create a key; prints it once, alone on the last line")
    create.add_argument("--tenant", required=True, help="the company the key records work for")
    create.add_argument("--name", default="", help="who uses it, e.g. 'Dispatch Logic App'")
    create.add_argument(
        "--rights",
        default=",".join(CONNECTOR_RIGHTS),
        help=f"comma-separated, from: {', '.join(sorted(KNOWN_RIGHTS))} (default: the connector actions)",
    )
    create.add_argument("--limit", type=int, default=None, help="calls per period (default: 100)")
    create.add_argument("--period", type=int, default=None, help="period in seconds (default: 60)")
    create.add_argument("--email", default=None, help="who uses the key; e-conomic export reports go there")

    listing = keys.add_parser("list", help="list a tenant's keys (never the keys themselves)")
    listing.add_argument("--tenant", required=True)

    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")

    secrets = groups.add_parser("secrets", help="the secrets the app reads").add_subparsers(
        dest="command", required=True
    )
    for name, text in (
        ("names", "print each secret's Key Vault name and app setting name"),
        ("check", "read each secret through the configured source; prints ok/missing, never a value"),
    ):
        command = secrets.add_parser(name, help=text)
        command.add_argument("--tenant", action="append", default=[], help="also the grant token of this tenant")

    billing = groups.add_parser("billing", help="the billing directory").add_subparsers(dest="command", required=True)
    load = billing.add_parser(
        "import",
        help="import customers, contracts and tickets from a JSON or CSV file (all or nothing; re-import = update)",
    )
    load.add_argument("--tenant", required=True)
    load.add_argument("file", type=Path, help="*.json or *.csv, see examples/billing-directory.*")
    settings = billing.add_parser("settings", help="show or set the tenant's settings (its accounting address)")
    settings.add_argument("--tenant", required=True)
    settings.add_argument("--accounting-email", default=None, help="gets every e-conomic export report")

    economic = groups.add_parser("economic", help="the accounting sync with e-conomic").add_subparsers(
        dest="command", required=True
    )
    customers = economic.add_parser(
        "customers",
        help="compare our customers with e-conomic's; import new ones, update linked ones, link by number",
        description="Matches by e-conomic customer number (accountingSystemId), never by name. Without an action it "
        "only reports. Explicit number lists are all or nothing.",
    )
    customers.add_argument("--tenant", required=True)
    customers.add_argument(
        "--import",
        dest="import_new",
        metavar="all|N,N",
        default=None,
        help="import every new customer, or these numbers",
    )
    customers.add_argument(
        "--update", dest="update_linked", metavar="all|N,N", default=None, help="update linked customers that differ"
    )
    customers.add_argument(
        "--link", action="append", default=[], metavar="CUSTOMER_ID=NUMBER", help="link our customer to e-conomic's"
    )
    customers.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    sync = economic.add_parser("sync", help="fetch booked invoice numbers now (what the hourly timer does)")
    sync.add_argument("--tenant", required=True)
    work = groups.add_parser("work", help="recorded work").add_subparsers(dest="command", required=True)
    index = work.add_parser(
        "reindex",
        help="index a tenant's stored work for the listing (resumable, safe to run twice and while the app runs)",
    )
    index.add_argument("--tenant", required=True)
    index.add_argument("--dry-run", action="store_true", help="only say how many records need indexing")
    return parser


def _secret_refs(tenants: list[str]) -> list[SecretRef]:
    for tenant in tenants:
        if not TENANT_RE.fullmatch(tenant):
            raise DomainError(f"{tenant!r} is not a tenant id.")
    return [*FIXED_SECRETS, *(economic_grant_token_ref(t) for t in tenants)]


def _tenant_settings(tenant: str, accounting_email: str | None) -> int:
    settings = build().tenant_settings
    validate_tenant(tenant)
    if accounting_email is not None:
        data = validate(SettingsIn, {"accountingEmail": accounting_email}, ZoneInfo("UTC"))
        # Only the address changes: the accounting defaults set over billing/settings stay.
        settings.put(tenant, replace(settings.get(tenant), accounting_email=data.accountingEmail))
    current = settings.get(tenant)
    print(f"Tenant {tenant}: accounting e-mail {current.accounting_email or '(none)'}")
    return 0


def _import_directory(tenant: str, path: Path) -> int:
    container = build()
    entries, problems = read_directory_file(path, container.settings.default_timezone)
    # Report field rules and missing references together, so one pass shows every bad row.
    problems += container.directory.check_import(validate_tenant(tenant), entries)
    if not problems:
        problems = container.directory.import_entries(tenant, entries)
    if problems:
        print(f"error: nothing imported from {path}; {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    counts = Counter(type(entry).__name__.lower() for _, entry in entries)
    summary = ", ".join(f"{counts[kind]} {kind}s" for kind in ("customer", "contract", "ticket"))
    print(f"Imported {summary} into tenant {tenant}.")
    return 0


def _selection(text: str | None) -> bool | list[str]:
    if text is None:
        return False
    return True if text.strip().lower() == "all" else [part.strip() for part in text.split(",") if part.strip()]


def _economic_customers(args: argparse.Namespace) -> int:
    links = []
    for pair in args.link:
        customer_id, _, number = pair.partition("=")
        links.append({"customerId": customer_id.strip(), "customerNumber": number.strip()})
    request = validate(
        CustomerSyncIn,
        {
            "importNew": _selection(args.import_new),
            "updateLinked": _selection(args.update_linked),
            "link": links,
            "dryRun": args.dry_run,
        },
        ZoneInfo("UTC"),
    )
    sync = build().customer_sync
    tenant = validate_tenant(args.tenant)
    acting = bool(request.importNew or request.updateLinked or request.link)
    report = sync.apply(tenant, request) if acting else sync.compare(tenant)
    print(format_report(report))
    return 0


def _economic_sync(tenant: str) -> int:
    result = build().invoice_sync.run(validate_tenant(tenant), trigger="cli")
    print(
        f"Tenant {tenant}: {result.waiting} exported draft(s) were waiting; "
        f"{result.pages} page(s) of booked invoices read."
    )
    for booked in result.booked:
        print(
            f"  draft {booked.draft:>6} -> booked invoice {booked.invoice_number} "
            f"({booked.date}, net {booked.net_amount})"
        )
    for number in result.missing:
        print(f"  draft {number:>6}: deleted in e-conomic without being booked (flagged)")
    for number in result.still_missing:
        print(f"  draft {number:>6}: still missing in e-conomic")
    for number in result.found_again:
        print(f"  draft {number:>6}: in e-conomic again (flag removed)")
    for draft, invoice_draft in result.upgraded:
        print(f"  draft {draft:>6}: order upgraded to e-conomic invoice draft {invoice_draft}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"{result.still_waiting} draft(s) still waiting to be booked; watermark {result.watermark_after}.")
    return 0


def _describe(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
    return (
        f"{key.key_id}  {key.name!r}  rights={','.join(sorted(key.rights))}  "
        f"limit={key.limit}/{key.period_seconds}s  created={key.created_at:%Y-%m-%d %H:%M}  {state}"
        + (f"  email={key.email}" if key.email else "")
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.group == "secrets" and args.command == "names":
            for ref in _secret_refs(args.tenant):
                print(f"{ref.key_vault_name:<40} {ref.setting_name:<40} to {ref.purpose}")
            return 0
        load_local_settings(Path(args.settings), os.environ)
        if args.group == "secrets":
            return _check_secrets(build().secrets, _secret_refs(args.tenant))
        if args.group == "billing" and args.command == "settings":
            return _tenant_settings(args.tenant, args.accounting_email)
        if args.group == "billing":
            return _import_directory(args.tenant, args.file)
        if args.group == "economic" and args.command == "customers":
            return _economic_customers(args)
        if args.group == "economic":
            return _economic_sync(args.tenant)
        if args.group == "work":
            return _reindex(args.tenant, dry_run=args.dry_run)
        keys = build().keys
        if args.command == "create":
            key, raw = keys.create(
                args.tenant,
                name=args.name,
                rights=args.rights.split(","),
                limit=args.limit,
                period_seconds=args.period,
                email=args.email,
            )
            print(f"Created {_describe(key)}")
            print("Store the key now; it is shown only this once:")
            print(raw)
        elif args.command == "list":
            found = keys.list(args.tenant)
            for key in found:
                print(_describe(key))
            if not found:
                print(f"No keys for tenant {args.tenant}.")
        elif args.command == "revoke":
            print(f"Revoked {_describe(keys.revoke(args.key_id))}")
    except DomainError as error:
        details = "; ".join(f"{e.field} {e.message}" for e in error.errors)
        print(f"error: {error.message}{' ' + details if details else ''}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _reindex(tenant: str, *, dry_run: bool) -> int:
    report = reindex(build().storage.table(TABLES["work"]), validate_tenant(tenant), dry_run=dry_run)
    verb = "would index" if report.dry_run else "indexed"
    print(f"{report.records} records, {report.already} indexed before, {verb} {report.indexed}")
    print(f"listing reads the index: {'yes' if report.marked else 'not yet (run without --dry-run)'}")
    return 0


def _check_secrets(secrets: Secrets, refs: list[SecretRef]) -> int:
    failed = 0
    for ref in refs:
        try:
            secrets.api_key_pepper() if ref == API_KEY_PEPPER else secrets.store.get(ref)
            print(f"ok       {secrets.store.where(ref)}")
        except DomainError as error:
            failed += 1
            print(f"missing  {error.message}" if isinstance(error, SecretMissing) else f"error    {error.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

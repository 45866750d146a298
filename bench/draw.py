"""The expert draw on PostgreSQL: a pool of 100,000 experts, avoidance against 50 bidders, target < 100 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trading_bench .venv/bin/python -m bench.draw     (make bench-draw)

The database named by DATABASE_URL is DROPPED and re-created (its name must contain "bench"), migrated and
seeded with bulk inserts (untimed): the specialty tree, the pool (employers, specialties, penalties, declared
interests, unavailability), 300 earlier committees (for the "too often" and "busy" rules), a lot at its opening
with 50 enrolled bidders, and the venues.

Each round then times one whole `evaluation.services.draw_run` (its transaction included): the eligible lists
(one query per line, every avoidance rule in it), the snapshot and commitment, the audit entries, the selection
and the insert of the drawn rows. The queries are counted with CaptureQueriesContext. Baselines, in the same
rounds and alternating order: (a) the eligible lists alone (`eligible_ids_by_line`), (b) a plain
`SELECT expert_id` of the specialty links of each line's specialties (their ids known), without any avoidance:
the floor for fetching that many ids through the ORM. Results: docs/performance.md, "Expert draw".
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from urllib.parse import urlparse

TARGET_MS = 100.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/trading_bench"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if parsed.scheme not in {"postgres", "postgresql"} or "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: DATABASE_URL must be PostgreSQL and name a database containing 'bench'")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str, data_dir: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "trading.settings",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-secret-key"),
            "SEALING_KEY": os.environ.get("SEALING_KEY", "YmVuY2gtb25seS1zZWFsaW5nLWtleS0zMi1ieXRlcyE="),
            "PLATFORM_SIGNING_KEY": os.environ.get("PLATFORM_SIGNING_KEY", "YmVuY2gtb25seS1zaWduaW5nLWtleS0zMi1ieXRlcyE="),
            "DATA_DIR": data_dir,
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("S3_ENDPOINT", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def code_for(prefix: str, n: int) -> str:
    from trading.codes import credit_code_check_char

    first17 = f"{prefix}{n:09d}"
    return first17 + credit_code_check_char(first17)


def seed(experts: int, bidders: int, rng: random.Random) -> dict:
    from bidding.models import Enrolment
    from evaluation.models import Draw, DrawLine, DrawnExpert, DrawRequest, DrawVenue, Venue
    from experts.models import Expert, ExpertInterest, ExpertUnavailability, Specialty
    from tests import factories
    from trading.models import Lot, LotStatus, Organisation
    from trading.rules import LOCAL

    now = datetime(2026, 11, 24, 10, 0, tzinfo=LOCAL)
    window = (datetime(2026, 11, 26, 9, 0, tzinfo=LOCAL), datetime(2026, 11, 26, 17, 0, tzinfo=LOCAL))
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published", issued=datetime(2026, 11, 2, 9, tzinfo=LOCAL))

    # 50 bidders, enrolled and unsealed: the lot is at its opening.
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"投标人{i}", credit_code=code_for("91450104", i), kind=Organisation.Kind.BIDDER)
        for i in range(bidders)
    )
    Enrolment.objects.bulk_create(
        Enrolment(
            lot=lot,
            bidder=org,
            enrolled_by=parties.bidders[0],
            enrolled_at=now - timedelta(days=10),
            contact_name="联系人",
            contact_phone="13800000000",
            unsealed_at=lot.bid_deadline,
        )
        for org in orgs
    )
    Lot.objects.filter(pk=lot.pk).update(status=LotStatus.OPENING, enrolments_unsealed_at=lot.bid_deadline)

    # Specialties: 5 categories × 10 × 5 = 250 leaves (A0101 … E1005).
    specialties = []
    for letter in "ABCDE":
        top = Specialty.objects.create(code=letter, name=letter)
        for mid in range(1, 11):
            second = Specialty.objects.create(code=f"{letter}{mid:02d}", name=f"{letter}{mid:02d}", parent=top)
            specialties += Specialty.objects.bulk_create(
                Specialty(code=f"{second.code}{leaf:02d}", name=f"{second.code}{leaf:02d}", parent=second) for leaf in range(1, 6)
            )

    # Employers: 2,000 ordinary ones plus the bidders, the tenderee and the supervising department.
    employers = [code_for("91450103", i) for i in range(2000)]
    conflict = [o.credit_code for o in orgs] + [
        parties.tenderee.organisation.credit_code,
        parties.supervisor.organisation.credit_code,
    ]
    lot.project.supervising_department = parties.supervisor.organisation
    lot.project.save(update_fields=["supervising_department"])
    log(f"{experts} experts")
    pool = []
    for i in range(experts):
        roll = rng.random()
        status, until = "active", None
        if roll < 0.02:
            status, until = "suspended", (now + timedelta(days=rng.randint(-60, 60))).date()
        elif roll < 0.03:
            status = "blacklisted"
        pool.append(
            Expert(
                name=f"专家{i}",
                number=f"E{i:06d}",
                employer_credit_code=rng.choice(conflict) if rng.random() < 0.01 else rng.choice(employers),
                status=status,
                status_until=until,
                region_code="450102",
            )
        )
    pool = Expert.objects.bulk_create(pool, batch_size=5000)
    ids = [e.pk for e in pool]
    through = Expert.specialties.through
    links = []
    for expert_id in ids:
        for specialty in rng.sample(specialties, rng.choice((1, 2, 2, 3))):
            links.append(through(expert_id=expert_id, specialty_id=specialty.pk))
    through.objects.bulk_create(links, batch_size=10000)
    ExpertInterest.objects.bulk_create(
        (
            ExpertInterest(
                expert_id=rng.choice(ids),
                kind="relative",
                organisation_credit_code=rng.choice(conflict if rng.random() < 0.2 else employers),
            )
            for _ in range(5000)
        ),
        batch_size=5000,
    )
    ExpertUnavailability.objects.bulk_create(
        (
            ExpertUnavailability(
                expert_id=rng.choice(ids), start=(s := now + timedelta(hours=rng.randint(-240, 240))), end=s + timedelta(days=2)
            )
            for _ in range(5000)
        ),
        batch_size=5000,
    )

    # 300 earlier committees (5 confirmed members each) over the last 60 days, some overlapping the window.
    main = Venue.objects.create(name="本级主场", kind="main", seats=20)
    secondary = Venue.objects.create(name="异地副场", kind="secondary", seats=20)
    project = lot.project
    past_lots = Lot.objects.bulk_create(
        Lot(
            project=project,
            seq=100 + i,
            name=f"历史标段{i}",
            transaction_code=f"HIST{i:026d}",
            estimated_price=1,
            status=LotStatus.AWARDED,
        )
        for i in range(300)
    )
    requests = []
    for i, past in enumerate(past_lots):
        start = now - timedelta(days=rng.randint(0, 60)) if i >= 30 else window[0] + timedelta(hours=rng.randint(-4, 4))
        requests.append(
            DrawRequest(
                lot=past,
                status="fixed",
                window_start=start,
                window_end=start + timedelta(hours=8),
                created_by=parties.staff,
                created_at=start,
            )
        )
    requests = DrawRequest.objects.bulk_create(requests)
    lines = DrawLine.objects.bulk_create(DrawLine(request=r, position=0, specialty_code="A01", count=5) for r in requests)
    DrawVenue.objects.bulk_create(DrawVenue(request=r, venue=main, seats=5) for r in requests)
    draws = Draw.objects.bulk_create(
        Draw(
            request=r,
            commitment="0" * 64,
            seed_sealed=b"",
            snapshot=b"",
            snapshot_sha256="0" * 64,
            created_by=parties.staff,
            created_at=r.created_at,
        )
        for r in requests
    )
    frequent = rng.sample(ids, 200)  # a core of experts who sit often: some hit the limit
    members = []
    for r, line, d in zip(requests, lines, draws, strict=True):
        chosen = set()
        while len(chosen) < 5:
            chosen.add(rng.choice(frequent) if rng.random() < 0.5 else rng.choice(ids))
        for seat, expert_id in enumerate(sorted(chosen), start=1):
            members.append(
                DrawnExpert(
                    draw=d,
                    line=line,
                    position=seat - 1,
                    expert_id=expert_id,
                    status="confirmed",
                    venue=main,
                    seat=seat,
                    invited_at=r.created_at,
                    respond_by=r.created_at + timedelta(minutes=30),
                    responded_at=r.created_at,
                )
            )
    DrawnExpert.objects.bulk_create(members)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: statistics and visibility map
    return {
        "staff": parties.staff,
        "lot": lot,
        "venues": (main, secondary),
        "now": now,
        "window": window,
        "specialties": list(Specialty.objects.values_list("pk", "code")),
    }


LINES = [("A01", 3), ("A02", 2), ("B03", 2)]


def new_request(ctx: dict, round_no: int):
    from evaluation import services
    from evaluation.models import DrawRequest

    DrawRequest.objects.filter(lot=ctx["lot"]).exclude(status="cancelled").update(status="cancelled")  # scaffolding
    main, secondary = ctx["venues"]
    return services.draw_request_create(
        lot=ctx["lot"],
        actor=ctx["staff"],
        lines=[{"specialty_code": c, "count": n} for c, n in LINES],
        venues=[{"venue": main, "seats": 4}, {"venue": secondary, "seats": 3}],
        window_start=ctx["window"][0],
        window_end=ctx["window"][1],
        backups_per_line=2,
        now=ctx["now"],
    )


def plain_ids(ctx: dict) -> list[list[int]]:
    """The baseline: the specialty links of the lines' specialties (ids resolved beforehand), no avoidance at all."""
    from experts.models import Expert

    through = Expert.specialties.through
    lines = []
    for code, _ in LINES:
        ids = [pk for pk, c in ctx["specialties"] if c.startswith(code)]
        lines.append(sorted(set(through.objects.filter(specialty_id__in=ids).values_list("expert_id", flat=True))))
    return lines


def timed(function):
    """Milliseconds and the number of queries. Queries are counted with an execute wrapper rather than
    CaptureQueriesContext inside the timed call: the latter renders every statement with its parameters (the
    draw's 90 KB snapshot included), which would add its own cost to what is measured. `check_query_count`
    confirms the two counts agree."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        result = function()
        elapsed = (time.perf_counter() - start) * 1000
    return elapsed, count, result


def captured_count(function) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        function()
    return len([q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")])


def explain(ctx: dict, request) -> str:
    """EXPLAIN ANALYZE of the eligible query as eligible_ids_by_line runs it (all lines at once)."""
    from django.db import connection

    from evaluation.selectors import eligible_experts

    ids = [pk for pk, c in ctx["specialties"] if any(c.startswith(code) for code, _ in LINES)]
    qs = eligible_experts(request, now=ctx["now"]).filter(specialties__in=ids).values_list("specialties", "pk")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.draw", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--bidders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of one line's eligible query to stderr")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    log(f"recreate {urlparse(url).path.lstrip('/')}, migrate")
    recreate_database(url)
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(url, data_dir)
        from django.db import connection

        from evaluation import services
        from evaluation.selectors import eligible_ids_by_line

        rng = random.Random(20261125)  # the pool is the same on every run
        started = time.perf_counter()
        ctx = seed(args.experts, args.bidders, rng)
        log(f"seeded in {time.perf_counter() - started:.0f} s")
        draw_ms, draw_queries, eligible_ms, eligible_queries, plain_ms, plain_queries, sizes, plain_sizes = ([] for _ in range(8))
        # One untimed warm-up of each (its statements listed by CaptureQueriesContext), then the rounds.
        warm = new_request(ctx, -1)
        captured = captured_count(lambda: services.draw_run(request=warm, actor=ctx["staff"], now=ctx["now"]))
        plain_ids(ctx)
        for round_no in range(args.rounds):
            request = new_request(ctx, round_no)
            steps = [
                ("plain", lambda: plain_ids(ctx)),
                ("eligible", lambda request=request: eligible_ids_by_line(request, now=ctx["now"])),
                ("draw", lambda request=request: services.draw_run(request=request, actor=ctx["staff"], now=ctx["now"])),
            ]
            if round_no % 2:
                steps = [steps[1], steps[0], steps[2]]
            for name, step in steps:
                ms, queries, result = timed(step)
                if name == "plain":
                    plain_ms.append(ms)
                    plain_queries.append(queries)
                    plain_sizes = [len(ids) for ids in result]
                elif name == "eligible":
                    eligible_ms.append(ms)
                    eligible_queries.append(queries)
                    sizes = [len(ids) for _, ids in result]
                else:
                    draw_ms.append(ms)
                    draw_queries.append(queries)
        if args.explain:
            log("EXPLAIN ANALYZE, first line:\n" + explain(ctx, request))
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server = cursor.fetchone()[0]
    results = {
        "experts": args.experts,
        "bidders": args.bidders,
        "rounds": args.rounds,
        "lines": [
            {"specialty": c, "count": n, "eligible": s, "holding": p}
            for (c, n), s, p in zip(LINES, sizes, plain_sizes, strict=True)
        ],
        "draw_ms": draw_ms,
        "eligible_ms": eligible_ms,
        "plain_ms": plain_ms,
        "draw_queries": sorted(set(draw_queries)),
        "eligible_queries": sorted(set(eligible_queries)),
        "plain_queries": sorted(set(plain_queries)),
        "draw_queries_captured": captured,
        "postgresql": server,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    med = statistics.median
    print("\n## Results\n")
    print(
        f"- pool {args.experts:,} experts, {args.bidders} bidders, {args.rounds} rounds, PostgreSQL {server}, Python {results['python']}"
    )
    lines_text = ", ".join(
        f"{line['specialty']} ×{line['count']}: {line['eligible']:,} eligible of {line['holding']:,}" for line in results["lines"]
    )
    print(f"- lines (+2 backups each): {lines_text}")
    print("\n| what | median ms | min ms | max ms | queries | target |")
    print("|---|---:|---:|---:|---:|---|")
    verdict = "met" if med(draw_ms) < TARGET_MS else "MISSED"
    print(
        f"| draw_run (eligible lists + commit + select + insert + audit, one transaction) | {med(draw_ms):.1f} | {min(draw_ms):.1f} "
        f"| {max(draw_ms):.1f} | {'/'.join(map(str, results['draw_queries']))} | < {TARGET_MS:.0f} ms {verdict} |"
    )
    print(
        f"| eligible lists alone (every avoidance rule) | {med(eligible_ms):.1f} | {min(eligible_ms):.1f} | {max(eligible_ms):.1f} "
        f"| {'/'.join(map(str, results['eligible_queries']))} | - |"
    )
    print(
        f"| baseline: plain SELECT id of the specialty holders, no avoidance | {med(plain_ms):.1f} | {min(plain_ms):.1f} "
        f"| {max(plain_ms):.1f} | {'/'.join(map(str, results['plain_queries']))} | - |"
    )
    ratio = [d / p for d, p in zip(draw_ms, plain_ms, strict=True)]
    eligible_ratio = [e / p for e, p in zip(eligible_ms, plain_ms, strict=True)]
    results["draw_over_baseline"] = ratio
    print(
        f"\nPer round, against the baseline of the same round: draw_run {med(ratio):.2f}x "
        f"({min(ratio):.2f}-{max(ratio):.2f}), eligible lists {med(eligible_ratio):.2f}x "
        f"({min(eligible_ratio):.2f}-{max(eligible_ratio):.2f}). Quartiles of draw_run: "
        + ", ".join(f"{q:.1f}" for q in statistics.quantiles(draw_ms, n=4))
        + " ms"
    )
    print(f"\nQueries of one draw_run as CaptureQueriesContext lists them (warm-up, BEGIN and COMMIT excluded): {captured}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if med(draw_ms) < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

"""Secret redaction: what it costs a recorded message, what it replaces in real archives, what it catches.

1. False positives: the redactor over every message and tool call of the example archive and of the
   open dev set (``../shared/dev-eval/realmem``), none of which holds a real secret: every
   redaction there is a false positive (target 0). Each is listed by session, message and kind.
2. Cost: the time to scan one message (each text is scanned once), and what redaction adds to
   ``record_message``: sessions of the dev set are recorded message by message with redaction on
   and off, interleaved, and the medians compared (target: adds < 0.2 ms p50).
3. Recall: the labelled set of ``secret_cases.py`` (secrets in prose, shell, .env, JSON and logs):
   the share caught (target >= 98%), and the look-alikes left unchanged (target: all).

    python benchmarks/redaction.py
    python benchmarks/redaction.py --data DIR --record-sessions 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from secret_cases import labelled_secrets, look_alikes

from ollm_recall import ChatRecordingService
from ollm_recall.archive.redaction import Redactor
from ollm_recall.archive.session import Session

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "dev-eval" / "realmem"


def load_sessions(folders: list[Path]) -> list[tuple[str, Session]]:
    sessions = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            try:
                session = Session.from_bytes(path.read_bytes(), path.name)
                sessions.append((f"{path.parent.name}/{path.name}", session))
            except Exception:  # noqa: BLE001 - a file that is not a session is not part of the set
                continue
    return sessions


def false_positives(sessions: list[tuple[str, Session]]) -> tuple[int, int, list[str], list[float]]:
    """(messages, tool calls, findings, microseconds per message scan) over the archives."""
    redactor = Redactor()
    findings, scan_us, messages, calls = [], [], 0, 0
    for where, session in sessions:
        for index, message in enumerate(session.messages):
            started = time.perf_counter()
            kinds = redactor.redact_message(message)[1]
            scan_us.append((time.perf_counter() - started) * 1e6)
            messages += 1
            findings += [f"{where} messages[{index}]: {kind}" for kind in kinds]
        for index, call in enumerate(session.tool_calls):
            calls += 1
            found = redactor.redact_tool_call(call)[1]
            findings += [f"{where} toolCalls[{index}].{f.where}: {f.kind}" for f in found]
    return messages, calls, findings, scan_us


def record_cost(sessions: list[Session], count: int) -> tuple[float, float, int]:
    """Median ms of ``record_message`` with redaction off and on, recording the same messages."""
    off_ms, on_ms = [], []
    with tempfile.TemporaryDirectory() as work:
        for number, session in enumerate(sessions[:count]):
            services = {
                "off": ChatRecordingService(Path(work) / "off", redactor=None),
                "on": ChatRecordingService(Path(work) / "on", redactor=Redactor()),
            }
            ids = {name: service.create_session(model=session.model) for name, service in services.items()}
            for message in session.messages:
                order = ("off", "on") if number % 2 else ("on", "off")
                for name in order:
                    started = time.perf_counter()
                    services[name].record_message(ids[name], message)
                    elapsed = (time.perf_counter() - started) * 1000
                    (off_ms if name == "off" else on_ms).append(elapsed)
            for service in services.values():
                service.close()
    return statistics.median(off_ms), statistics.median(on_ms), len(on_ms)


def labelled_recall() -> tuple[int, int, list[str], list[str]]:
    redactor = Redactor()
    cases = labelled_secrets()
    missed = []
    for case in cases:
        result = redactor.redact_text(case.text)
        if case.secret in result.text or f"[REDACTED:{case.kind}]" not in result.text:
            missed.append(f"{case.kind} in {case.surrounding}")
    changed = [text[:60] for text in look_alikes() if redactor.redact_text(text).text != text]
    return len(cases) - len(missed), len(cases), missed, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the dev set (its archives/ folder)")
    parser.add_argument(
        "--record-sessions",
        type=int,
        default=60,
        help="dev-set sessions recorded message by message for the cost (default 60)",
    )
    args = parser.parse_args()
    folders = [REPO / "examples" / "sessions"]
    if (args.data / "archives").is_dir():
        folders.append(args.data / "archives")
    else:
        print(f"note: no dev set at {args.data}; the example archive only", file=sys.stderr)
    sessions = load_sessions(folders)
    messages, calls, findings, scan_us = false_positives(sessions)
    off, on, recorded = record_cost([s for _, s in sessions if len(s.messages) >= 4], args.record_sessions)
    caught, total, missed, changed = labelled_recall()
    print(f"{'measure':<52} {'value':>14}  target")
    print(f"{'sessions / messages / tool calls scanned':<52} {f'{len(sessions)} / {messages} / {calls}':>14}")
    print(f"{'redactions there (all false positives)':<52} {len(findings):>14}  0")
    print(
        f"{'scan per message p50 / p90 (us)':<52} "
        f"{f'{statistics.median(scan_us):.0f} / {statistics.quantiles(scan_us, n=10)[-1]:.0f}':>14}"
    )
    print(f"{'record_message p50, redaction off / on (ms)':<52} {f'{off:.3f} / {on:.3f}':>14}")
    print(f"{'added by redaction, p50 (ms)':<52} {on - off:>14.3f}  < 0.2  ({recorded} messages)")
    print(f"{'labelled secrets caught':<52} {f'{caught} / {total} = {caught / total:.1%}':>14}  >= 98%")
    kept = f"{len(look_alikes()) - len(changed)} / {len(look_alikes())}"
    print(f"{'look-alikes left unchanged':<52} {kept:>14}  all")
    for line in findings[:20]:
        print(f"  false positive: {line}")
    for line in missed:
        print(f"  missed: {line}")
    for line in changed:
        print(f"  look-alike changed: {line!r}")


if __name__ == "__main__":
    main()

"""A second query set from the dev set, in another style: each question replaced by its evidence.

RealMem's questions are the opening messages of new chats ("Is the Lagos PDF ready?"), where meaning
beats words. Its evidence fields are statements that name things ("The chosen approach for finding
the AI project manager is 'Option 1: AI-Powered WhatsApp Business API Integrations'"), the style of
question where full-text search is strong and a fusion tuned on the first style can rank below words
alone. Same archives, gold sessions and cutoffs; queries without evidence are left out. The folder
written is a data folder for ``retrieval.py`` and ``ranker_training.py --also``:

    python benchmarks/evidence_queries.py benchmarks/out/realmem-evidence
    python benchmarks/retrieval.py --data benchmarks/out/realmem-evidence
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from retrieval import DEFAULT_DATA


def write_evidence_set(data: Path, out: Path) -> int:
    """Write ``out/queries.jsonl`` (and ``out/archives``, a link to the data's) and return the count."""
    out.mkdir(parents=True, exist_ok=True)
    archives = out / "archives"
    if archives.is_symlink() or archives.exists():
        if archives.resolve() != (data / "archives").resolve():
            raise SystemExit(f"{archives} exists and is not a link to {data / 'archives'}")
    else:
        archives.symlink_to((data / "archives").resolve(), target_is_directory=True)
    lines = []
    for line in (data / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        query = json.loads(line) if line.strip() else None
        if query and query.get("evidence"):
            lines.append(
                json.dumps({**query, "query": " ".join(query["evidence"]), "id": f"{query['id']}-evidence"})
            )
    (out / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the dev set")
    args = parser.parse_args()
    count = write_evidence_set(args.data, args.out)
    print(f"{count} queries written to {args.out / 'queries.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

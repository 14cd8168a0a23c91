"""Programming sessions."""

from .dsl import A, Chat, T, U

CHATS = [
    Chat(
        "2026-01-08T09:12",
        "qwen2.5-coder:7b",
        [
            U(
                "In Python asyncio, how do I run 20 HTTP requests concurrently but give up on the whole batch after 10 seconds?"
            ),
            A(
                "Wrap the gather in a timeout. On Python 3.11+ the cleanest way is `asyncio.timeout`:\n\n```python\nimport asyncio\nimport httpx\n\nasync def fetch_all(urls):\n    async with httpx.AsyncClient() as client:\n        async with asyncio.timeout(10):\n            return await asyncio.gather(*(client.get(u) for u in urls))\n```\n\nIf the 10 seconds run out, every pending request is cancelled and `TimeoutError` is raised out of the `async with`. On older versions use `asyncio.wait_for(asyncio.gather(...), 10)`."
            ),
            U("And if I want the results that did finish instead of losing everything?"),
            A(
                "Then don't cancel the batch as a whole: use `asyncio.wait` with a timeout, which returns two sets.\n\n```python\ntasks = [asyncio.create_task(client.get(u)) for u in urls]\ndone, pending = await asyncio.wait(tasks, timeout=10)\nfor task in pending:\n    task.cancel()\nresults = [t.result() for t in done if not t.exception()]\n```\n\nRemember to cancel the pending ones, otherwise they keep running in the background. If you also want a per-request limit, set `httpx.Timeout(5.0)` on the client."
            ),
            U("Perfect, and how many concurrent connections does httpx open by default?"),
            A(
                "`httpx.AsyncClient` uses `Limits(max_connections=100, max_keepalive_connections=20)` by default. For 20 requests to one host that is plenty; if the server rate-limits you, pass `limits=httpx.Limits(max_connections=5)` or guard the calls with an `asyncio.Semaphore(5)`."
            ),
        ],
    ),
    Chat(
        "2026-01-19T20:40",
        "qwen2.5-coder:7b",
        [
            U(
                "Rust says `borrowed value does not live long enough` when I return a &str from a function that builds a String inside. What's the idiomatic fix?"
            ),
            A(
                "The `String` is dropped when the function returns, so a reference into it would dangle. Return the owned value instead:\n\n```rust\nfn greeting(name: &str) -> String {\n    format!(\"Hello, {name}!\")\n}\n```\n\nIf the function sometimes returns a borrowed input unchanged and sometimes builds a new string, `Cow<'_, str>` avoids the allocation in the first case:\n\n```rust\nuse std::borrow::Cow;\nfn normalise(s: &str) -> Cow<'_, str> {\n    if s.contains('\\t') { Cow::Owned(s.replace('\\t', \"    \")) } else { Cow::Borrowed(s) }\n}\n```"
            ),
            U("When is adding a lifetime parameter the right answer then?"),
            A(
                "When the returned reference really points into one of the inputs. `fn first_word<'a>(s: &'a str) -> &'a str` is fine because the result borrows from `s`, which outlives the call. A lifetime annotation never extends how long a value lives; it only tells the compiler which input the output borrows from."
            ),
        ],
    ),
    Chat(
        "2026-02-03T14:05",
        "llama3.2:3b",
        [
            U(
                "I did `git rebase -i` and squashed the wrong commits, then force-pushed. Can I get the old branch back?"
            ),
            A(
                "Yes, as long as it was less than ~90 days ago. Your local reflog remembers where the branch pointed before the rebase:\n\n```bash\ngit reflog show feature/login\n# find the entry just before 'rebase (start)'\ngit branch feature/login-backup feature/login@{5}\n```\n\nCheck `git log feature/login-backup` looks right, then reset and force-push it back:\n\n```bash\ngit checkout feature/login\ngit reset --hard feature/login-backup\ngit push --force-with-lease\n```\n\n`--force-with-lease` refuses to overwrite the remote if someone pushed in between."
            ),
            U("thanks, ORIG_HEAD would have worked too?"),
            A(
                "Right after the rebase, yes: `git reset --hard ORIG_HEAD` undoes it. But ORIG_HEAD is overwritten by the next reset, merge or rebase, so the reflog is the safer habit."
            ),
        ],
    ),
    Chat(
        "2026-02-11T10:30",
        "gemma3:4b",
        [
            U("Regex to match ISO dates like 2026-02-11 but not 2026-13-45?"),
            A(
                "A pattern that checks ranges (not leap years):\n\n```regex\n\\b\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])\\b\n```\n\nIt still accepts 2026-02-31. If you need real validation, match loosely and parse: in Python `datetime.date.fromisoformat(text)` raises `ValueError` for impossible dates."
            ),
            U("in javascript?"),
            A(
                "`/\\b\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])\\b/g` works the same. To validate fully, build `new Date(text + 'T00:00:00Z')` and check that `toISOString().slice(0, 10) === text`, because JavaScript silently rolls 02-31 over to March."
            ),
        ],
    ),
    Chat(
        "2026-03-05T16:20",
        "qwen2.5-coder:7b",
        [
            U(
                "pandas: I have daily sales per store, columns date, store, revenue. I want a 7-day rolling mean per store."
            ),
            A(
                'Sort, group, then roll on the group:\n\n```python\ndf = df.sort_values(["store", "date"])\ndf["rev_7d"] = (\n    df.groupby("store")["revenue"]\n      .transform(lambda s: s.rolling(7, min_periods=1).mean())\n)\n```\n\nIf some days are missing, a row-based window of 7 is not 7 days. Use a time-based window instead: set the date as index and use `rolling("7D")`:\n\n```python\ndf = df.set_index("date")\ndf["rev_7d"] = df.groupby("store")["revenue"].transform(lambda s: s.rolling("7D").mean())\n```'
            ),
            U("the time based one complains the index is not monotonic"),
            A(
                'Each group must be sorted by date. Sort by `["store", "date"]` before `set_index("date")`, and make sure `date` is a real datetime: `df["date"] = pd.to_datetime(df["date"])`. Duplicated dates within a store also break it; aggregate them first with `groupby(["store", "date"]).sum()`.'
            ),
        ],
    ),
    Chat(
        "2026-03-14T11:02",
        "phi4:14b",
        [
            U("SQL: running total of payments per customer ordered by payment date, Postgres."),
            A(
                "A window function does it in one pass:\n\n```sql\nSELECT customer_id,\n       paid_at,\n       amount,\n       SUM(amount) OVER (\n         PARTITION BY customer_id\n         ORDER BY paid_at\n         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW\n       ) AS running_total\nFROM payments\nORDER BY customer_id, paid_at;\n```\n\nSpell out `ROWS BETWEEN ...`: the default frame is `RANGE`, which lumps together payments with the same timestamp."
            ),
            U("and only show the first payment where the running total passes 1000?"),
            A(
                "Wrap it and filter on the crossing row:\n\n```sql\nWITH t AS (\n  SELECT customer_id, paid_at, amount,\n         SUM(amount) OVER (PARTITION BY customer_id ORDER BY paid_at\n                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total\n  FROM payments\n)\nSELECT customer_id, paid_at, total\nFROM t\nWHERE total >= 1000 AND total - amount < 1000;\n```"
            ),
        ],
    ),
    Chat(
        "2026-04-02T22:48",
        "qwen2.5-coder:7b",
        [
            U(
                "Review this backup script please, it sometimes deletes the old backup even when the new one failed."
            ),
            T(
                "read_file",
                {"path": "scripts/backup.sh"},
                "#!/bin/bash\ntar czf /backups/home-new.tgz /home/sam\nrm /backups/home.tgz\nmv /backups/home-new.tgz /backups/home.tgz\n",
                "Read 4 lines",
            ),
            A(
                'The script never stops on errors: if `tar` fails, bash carries on and runs `rm`. Add strict mode and only swap when tar succeeded:\n\n```bash\n#!/usr/bin/env bash\nset -euo pipefail\ntmp=/backups/home-new.tgz\ntar czf "$tmp" /home/sam\nmv -f "$tmp" /backups/home.tgz\n```\n\n`set -e` exits on the first failing command, `-u` on unset variables, `-o pipefail` makes a pipeline fail if any part fails. `mv -f` replaces the old archive atomically, so you never have a moment with no backup.'
            ),
            U("tar exits 1 when a file changed while reading, will set -e kill it then?"),
            A(
                "Yes, GNU tar returns 1 for 'file changed as we read it', which `set -e` treats as failure. Accept 1 but not 2:\n\n```bash\ntar czf \"$tmp\" /home/sam || [ $? -eq 1 ]\n```"
            ),
        ],
    ),
    Chat(
        "2026-04-21T13:37",
        "mistral-nemo:12b",
        [
            U(
                "docker compose: my app container starts before postgres is ready and crashes. depends_on doesn't help."
            ),
            A(
                'Plain `depends_on` only waits for the container to start, not for Postgres to accept connections. Give the database a healthcheck and make the app wait for it:\n\n```yaml\nservices:\n  db:\n    image: postgres:16\n    healthcheck:\n      test: ["CMD-SHELL", "pg_isready -U app -d app"]\n      interval: 2s\n      timeout: 3s\n      retries: 30\n  app:\n    build: .\n    depends_on:\n      db:\n        condition: service_healthy\n```\n\nStill add a retry loop in the app itself: the database can restart later too.'
            ),
        ],
    ),
    Chat(
        "2026-05-09T09:55",
        "qwen2.5-coder:7b",
        [
            U("Minimal pyproject.toml for a package with a console script, using setuptools."),
            A(
                '```toml\n[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "tidy-notes"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["click>=8"]\n\n[project.scripts]\ntidy-notes = "tidy_notes.cli:main"\n```\n\nWith a `tidy_notes/` package next to it, `pip install -e .` gives you the `tidy-notes` command. No `setup.py` is needed any more.'
            ),
            U("how do I include a data file like templates/default.md?"),
            A(
                'Put it inside the package folder and declare it:\n\n```toml\n[tool.setuptools.package-data]\ntidy_notes = ["templates/*.md"]\n```\n\nRead it at run time with `importlib.resources.files("tidy_notes") / "templates" / "default.md"`, not with a path relative to `__file__`, so it also works from a wheel or zip.'
            ),
        ],
    ),
    Chat(
        "2026-09-17T15:10",
        "qwen2.5-7b-instruct-q4_k_m",
        provider="openai",
        turns=[
            U(
                "TypeScript: function that takes an object and a list of keys and returns an object with only those keys, typed properly."
            ),
            A(
                'Use a generic constrained to the object\'s keys, and `Pick` for the return type:\n\n```ts\nfunction pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {\n  const out = {} as Pick<T, K>;\n  for (const key of keys) {\n    out[key] = obj[key];\n  }\n  return out;\n}\n\nconst user = { id: 1, name: "Ana", email: "ana@example.org" };\nconst slim = pick(user, ["id", "name"]); // { id: number; name: string }\n```\n\nPassing a key that does not exist is a compile error.'
            ),
        ],
    ),
]

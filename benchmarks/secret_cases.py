"""A labelled set of secrets in realistic surroundings, and look-alikes that must stay as they are.

The secrets are made here from a seeded generator in each format's shape (prefix, alphabet, length),
so none is real and the set is the same on every run. Used by ``benchmarks/redaction.py`` (recall of
the redactor) and by the tests (which hold it to the target).
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class Case:
    """A text holding one secret, the secret, and the kind the redactor should name."""

    text: str
    secret: str
    kind: str
    surrounding: str
    form: str = ""
    """Which of the kind's forms (``github-fine-grained``); the kind itself when it has one."""


def _pick(rng: random.Random, alphabet: str, length: int) -> str:
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _jwt(rng: random.Random) -> str:
    header = _b64url({"alg": "HS256", "typ": "JWT"})
    payload = _b64url({"sub": str(rng.randrange(10**6)), "name": "Jane Doe", "iat": 1760000000})
    return f"{header}.{payload}.{_pick(rng, URLSAFE, 43)}"


def _pem(rng: random.Random, label: str) -> str:
    body = "\n".join(_pick(rng, string.ascii_letters + string.digits + "+/", 64) for _ in range(6))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def _slack(prefix: str, rng: random.Random, numbers: int) -> str:
    return prefix + "-" + "".join(f"{rng.randrange(10**11, 10**12)}-" for _ in range(numbers))


def _password(rng: random.Random) -> str:
    return _pick(rng, ALNUM, 6) + rng.choice("!#%&*+-") + _pick(rng, ALNUM, 5)


GENERATORS: dict[str, tuple[str, Callable[[random.Random], str], str]] = {
    # name: (kind, secret maker, variable name it is usually kept in)
    "aws-access-key": ("aws-access-key", lambda r: "AKIA" + _pick(r, UPPER_DIGITS, 16), "AWS_ACCESS_KEY_ID"),
    "aws-secret-key": ("aws-secret-key", lambda r: _pick(r, ALNUM + "/+", 40), "AWS_SECRET_ACCESS_KEY"),
    "github-classic": ("github-token", lambda r: "ghp_" + _pick(r, ALNUM, 36), "GITHUB_TOKEN"),
    "github-oauth": ("github-token", lambda r: "gho_" + _pick(r, ALNUM, 36), "GH_TOKEN"),
    "github-app": ("github-token", lambda r: "ghs_" + _pick(r, ALNUM, 36), "GITHUB_TOKEN"),
    "github-fine-grained": (
        "github-token",
        lambda r: "github_pat_" + _pick(r, ALNUM, 22) + "_" + _pick(r, ALNUM, 59),
        "GITHUB_PAT",
    ),
    "gitlab": ("gitlab-token", lambda r: "glpat-" + _pick(r, URLSAFE, 20), "GITLAB_TOKEN"),
    "openai-classic": ("openai-key", lambda r: "sk-" + _pick(r, ALNUM, 48), "OPENAI_API_KEY"),
    "openai-project": ("openai-key", lambda r: "sk-proj-" + _pick(r, URLSAFE, 120), "OPENAI_API_KEY"),
    "anthropic": (
        "anthropic-key",
        lambda r: "sk-ant-api03-" + _pick(r, URLSAFE, 93) + "AA",
        "ANTHROPIC_API_KEY",
    ),
    "slack-bot": ("slack-token", lambda r: _slack("xoxb", r, 2) + _pick(r, ALNUM, 24), "SLACK_BOT_TOKEN"),
    "slack-user": (
        "slack-token",
        lambda r: _slack("xoxp", r, 3) + _pick(r, "abcdef0123456789", 32),
        "SLACK_TOKEN",
    ),
    "slack-webhook": (
        "slack-webhook",
        lambda r: (
            "https://hooks.slack.com/services/T"
            + _pick(r, UPPER_DIGITS, 8)
            + "/B"
            + _pick(r, UPPER_DIGITS, 10)
            + "/"
            + _pick(r, ALNUM, 24)
        ),
        "SLACK_WEBHOOK_URL",
    ),
    "google": ("google-api-key", lambda r: "AIza" + _pick(r, URLSAFE, 35), "GOOGLE_API_KEY"),
    "stripe-live": ("stripe-key", lambda r: "sk_live_" + _pick(r, ALNUM, 24), "STRIPE_SECRET_KEY"),
    "stripe-restricted": ("stripe-key", lambda r: "rk_live_" + _pick(r, ALNUM, 24), "STRIPE_KEY"),
    "huggingface": ("huggingface-token", lambda r: "hf_" + _pick(r, ALNUM, 34), "HF_TOKEN"),
    "npm": ("npm-token", lambda r: "npm_" + _pick(r, ALNUM, 36), "NPM_TOKEN"),
    "sendgrid": (
        "sendgrid-key",
        lambda r: "SG." + _pick(r, URLSAFE, 22) + "." + _pick(r, URLSAFE, 43),
        "SENDGRID_API_KEY",
    ),
    "jwt": ("jwt", _jwt, "ID_TOKEN"),
}

SURROUNDINGS: dict[str, Callable[[str, str], str]] = {
    "prose": lambda name, s: f"I rotated it yesterday but the old one still works: {s} - can you check why?",
    "shell": lambda name, s: f"$ export {name}={s}\n$ python deploy.py --region eu-west-1\nDeploying...",
    "dotenv": lambda name, s: f"# .env for staging\nDEBUG=false\n{name}={s}\nLOG_LEVEL=info\n",
    "json": lambda name, s: json.dumps(
        {"service": "billing", "credentials": {name.lower(): s}, "retries": 3}, indent=2
    ),
    "log": lambda name, s: f"2026-03-14T09:21:07Z ERROR client: request rejected (401) using {s} for /v1/x",
}


def _password_cases(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(3):
        pw = _password(rng)
        cases += [
            Case(
                f"postgres://app:{pw}@db.internal:5432/orders is what the service uses",
                pw,
                "url-password",
                "prose",
            ),
            Case(f"$ mysql -h db -u root --password={pw} orders < dump.sql", pw, "password", "shell"),
            Case(f"DB_PASSWORD={pw}\nDB_HOST=10.0.0.12\n", pw, "password", "dotenv"),
            Case(json.dumps({"user": "svc", "password": pw}), pw, "password", "json"),
            Case(
                f"2026-03-14 09:21:07 WARN connecting with redis://default:{pw}@cache:6379/0",
                pw,
                "url-password",
                "log",
            ),
        ]
    token = _pick(rng, ALNUM, 32)
    cases.append(
        Case(
            f'curl -H "Authorization: Bearer {token}" https://api.example.com/v2/me',
            token,
            "bearer-token",
            "shell",
        )
    )
    secret = _pick(rng, ALNUM + "_-", 40)
    cases.append(
        Case(f"client_secret: {secret}\nredirect_uri: https://app.local/cb", secret, "secret", "dotenv")
    )
    return cases


def _key_block_cases(rng: random.Random) -> list[Case]:
    cases = []
    for label, where in (
        ("RSA PRIVATE KEY", "prose"),
        ("OPENSSH PRIVATE KEY", "shell"),
        ("EC PRIVATE KEY", "dotenv"),
        ("PRIVATE KEY", "log"),
    ):
        block = _pem(rng, label)
        cases.append(
            Case(
                f"Here is the key from the server, is it the right format?\n{block}\nThanks!",
                block,
                "private-key",
                where,
            )
        )
    return cases


def labelled_secrets(seed: int = 7) -> list[Case]:
    """Every format in every surrounding, plus passwords, bearer tokens and private key blocks."""
    rng = random.Random(seed)
    cases = []
    for form, (kind, make, name) in GENERATORS.items():
        for surrounding, template in SURROUNDINGS.items():
            secret = make(rng)
            cases.append(Case(template(name, secret), secret, kind, surrounding, form))
    return cases + _password_cases(rng) + _key_block_cases(rng)


def look_alikes(seed: int = 11) -> list[str]:
    """Text that holds no secret but looks like it might: it must come back unchanged."""
    rng = random.Random(seed)
    hexdigits = "0123456789abcdef"
    sha1 = "".join(rng.choice(hexdigits) for _ in range(40))
    sha256 = "".join(rng.choice(hexdigits) for _ in range(64))
    image = base64.b64encode(bytes(rng.randrange(256) for _ in range(3000))).decode()
    return [
        f"commit {sha1}\nAuthor: Jane <jane@example.com>\n\n    Fix the retry loop",
        f"sha256sum dist/app.tar.gz\n{sha256}  dist/app.tar.gz",
        "request id 123e4567-e89b-12d3-a456-426614174000 failed; "
        "uuid4() gives f47ac10b-58cc-4372-a567-0e02b2c3d479",
        f"![chart](data:image/png;base64,{image})",
        "password = getpass.getpass('Password: ')\ntoken = tokenizer.encode(text)\nmax_tokens=4096",
        "def check(password: str) -> bool:\n    return bcrypt.checkpw(password.encode(), stored_hash)",
        "export DATABASE_URL=postgres://user:password@localhost:5432/dev  # the docker-compose default",
        "api_key = os.environ['OPENAI_API_KEY']\nsecret_key = settings.SECRET_KEY",
        "OPENAI_API_KEY=<your-key-here>\nGITHUB_TOKEN=${GITHUB_TOKEN}\nAWS_SECRET_ACCESS_KEY=****",
        "$Password = Read-Host -Prompt 'Enter the admin password' -AsSecureString",
        "GOOGLE_APPLICATION_CREDENTIALS = 'path/to/your/service-account.json'",
        "The sk-learn style of naming, desk-top-layout-manager, and risk-adjusted-return-metrics.",
        "token_count = 1532\nsecret_sauce = 'butter'\npassword_hint = 'first pet'",
        "ssh-keygen -t ed25519 -C 'me@laptop' writes ~/.ssh/id_ed25519 and id_ed25519.pub",
        "eyJ is how every base64 JSON object starts; this sentence is not a token.",
        "docker pull nginx@sha256:" + sha256,
        "The AKIA prefix marks AWS access key ids; AKIAEXAMPLE is too short to be one.",
        "git checkout -b feature/tokenizer-refactor && git push origin HEAD",
        "Use `Bearer <token>` in the Authorization header, e.g. Bearer YOUR_ACCESS_TOKEN.",
        "ghp_ tokens are GitHub classic personal access tokens; fine-grained ones start github_pat_.",
    ]

"""One typed configuration object, read from ``BATON_*`` environment variables and CLI flags.

Each setting is a typed field with a default and a docstring right below it; ``setting_docs`` reads those
docstrings, so ``baton serve --help`` documents a field added here without further edits.
"""

from __future__ import annotations

import ast
import base64
import inspect
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from itertools import pairwise
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///baton.db"
_ROOT_PATHS = ("api", "health", "api-docs", "swagger-ui")
"""First path segments the server's other parts answer: no base path of the HTTP triggers may take them."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    """Where runs live: ``sqlite:///path.db`` (the default, ``./baton.db``) or ``postgresql://...``."""
    host: str = "127.0.0.1"
    """Address ``baton serve`` listens on."""
    port: int = 8080
    """Port ``baton serve`` listens on."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted; larger ones get 413."""
    script_timeout_ms: int = 1000
    """Wall-clock bound on one inline script (INLINE, SWITCH javascript)."""
    script_memory_bytes: int = 32 * 1024 * 1024
    """Heap bound on the JavaScript engine running inline scripts."""
    sweep_interval_ms: int = 200
    """How often the sweeper looks for due timers (expired leases, WAIT tasks)."""
    max_poll_timeout_ms: int = 30_000
    """Upper bound on a worker's long-poll ``timeout``."""
    max_poll_count: int = 1000
    """Upper bound on a worker's batch-poll ``count``."""
    max_wait_for_seconds: int = 300
    """Upper bound on a sync execute's ``waitForSeconds``."""
    load_examples: bool = False
    """Register the bundled example workflows at start (kept if they exist)."""
    definition_cache_seconds: float = 2.0
    """How long a resolved definition (with its task definitions) is reused by starts in this process."""
    server_task_lease_seconds: int = 30
    """Lease of a task the server runs itself (HTTP, EVENT, SUB_WORKFLOW, START_WORKFLOW): if the server
    running it dies, another (or the restarted one) takes it up again after this. HTTP calls are cut off
    before it runs out."""
    executor_concurrency: int = 32
    """How many server-run tasks (HTTP calls, webhook posts, workflow starts) one process runs at once."""
    outbox_relay_after_ms: int = 2000
    """A signal to another run (a child's result for its parent, a child to terminate, a failure workflow
    to start) not acted on this long after its decision is taken up by any server's relay."""
    retention_days: float = 0.0
    """Finished runs (by end time) older than this many days are deleted with their tasks; 0 keeps them forever."""
    retention_interval_ms: int = 60_000
    """How often the retention loop looks for finished runs to delete (when ``retention_days`` is set)."""
    jq_timeout_ms: int = 1000
    """Wall-clock bound on one jq query (JSON_JQ_TRANSFORM); its sandbox process is killed when it runs out."""
    jq_memory_bytes: int = 256 * 1024 * 1024
    """Address-space bound (RLIMIT_AS) of a jq sandbox process, about 30 MiB of which is Python and libjq."""
    jq_max_output_bytes: int = 4 * 1024 * 1024
    """Largest JSON a jq query's results may encode to."""
    sandbox_processes: int = 2
    """Sandbox processes evaluating scripts, and as many evaluating jq, each kind with one spare besides."""
    max_steps_per_decision: int = 2000
    """Tasks one decision may schedule or run inline (worker tasks aside) before it fails the run as runaway."""
    max_fork_width: int = 20_000
    """Branches a dynamic fork may have; a wider one fails its fork task."""
    max_loop_iterations: int = 10_000
    """Iterations a DO_WHILE may run; the next one fails the loop task."""
    max_subworkflow_depth: int = 32
    """Sub-workflows nested in each other at most; a SUB_WORKFLOW task that would go deeper fails."""
    decision_loop_budget: int = 500
    """Tasks a decision made on the event loop may make or change (each task of its run counting 1/16, about
    10 ms in all) before it is made in a decision thread instead."""
    max_json_depth: int = 128
    """Deepest nesting of arrays and objects accepted in a request body (or JSON query parameter); deeper gets 400."""
    body_read_timeout_ms: int = 30_000
    """Longest a request body may take to arrive once its headers are read; a slower one gets 408 and the
    connection is closed."""
    http_trigger_base_path: str = "/workflows"
    """Where HTTP_ENDPOINT steps are served: a step's ``path`` ``orders/{id}`` answers ``<base>/orders/42``."""
    http_trigger_timeout_seconds: float = 30.0
    """How long a request that starts or resumes a run waits for its HTTP_RESPONSE when the step names no
    ``requestTimeoutSeconds``; then it is answered 408."""
    max_http_trigger_timeout_seconds: float = 300.0
    """Upper bound on an HTTP_ENDPOINT's ``requestTimeoutSeconds`` (a longer one is cut down to it)."""
    run_cache_bytes: int = 64 * 1024 * 1024
    """Bytes (by encoded JSON length) each per-process cache of runs may hold: the copies of runs kept to decide
    without reading them, and the decoded tasks; a run larger than this is read for each decision instead."""
    webhook_secret: str = field(default="", repr=False)  # kept out of any printed Settings
    """Signs outgoing webhooks (``X-HMAC-Signature``) whose subscription has no secret of its own; empty: they are
    sent ``UNSIGNED``, as Ballerine does. Prefer ``BATON_WEBHOOK_SECRET`` to the flag, which ``ps`` shows."""
    webhook_retry_window_ms: int = 24 * 60 * 60 * 1000
    """How long a webhook delivery is retried (from when its event was recorded, or redelivered) before it is
    given up as ``failed``."""
    webhook_backoff_initial_ms: int = 1000
    """The wait after a webhook delivery's first failed attempt; each later one doubles it."""
    webhook_backoff_max_ms: int = 10 * 60 * 1000
    """The longest wait between two attempts of a webhook delivery."""
    webhook_timeout_ms: int = 10_000
    """Longest one webhook POST may take in all (connecting, sending, the answer), as an HTTP task's default."""
    webhook_concurrency: int = 8
    """How many webhook deliveries one process attempts at once (each run's to a subscriber one at a time)."""
    webhook_poll_interval_ms: int = 500
    """How often the webhook sender looks for deliveries due (a retry's time come, another server's events)."""
    webhook_environment: str = "production"
    """The ``environment`` field of every webhook body (Ballerine's environment name)."""
    key_requests_per_second: float = 0.0
    """Requests a second each access key (or, without one, each client address) may make to the API surfaces, on
    average, counted in each process; one more gets 429 with ``Retry-After``. 0 (the default): no limit, since one
    server's clients often share one key (the first ADMIN key, a fleet of workers) and a benchmark's rate is not
    abuse; set it where keys are handed to parties who should not crowd each other out."""
    key_request_burst: int = 0
    """Requests a key may make at once above its average (its token bucket's size); 0: one second's worth of
    ``key_requests_per_second``."""
    key_max_long_polls: int = 1000
    """Long polls (batch polls with a ``timeout`` above 0) one key may hold open at once in a process; one more gets
    429. Each holds a connection and a waiter; 1000 is far above a worker fleet's pollers. 0: no limit."""
    trigger_max_header_bytes: int = 16 * 1024
    """Largest total size of a request's headers (names and values) an HTTP-endpoint trigger accepts; larger gets
    431. 0: no limit but the HTTP server's own."""
    trigger_max_path_bytes: int = 4096
    """Longest path, with its query string, as sent (percent-encoded), an HTTP-endpoint trigger accepts; longer
    gets 414. 0: no limit but the HTTP server's own."""
    outbound_allow_networks: str = ""
    """Comma-separated networks (CIDRs, e.g. ``127.0.0.0/8``) that HTTP tasks, webhooks and EVENT webhook sinks may
    reach although they are loopback, link-local or cloud-metadata addresses, refused otherwise."""
    secrets_key: str = field(default="", repr=False)
    """Base64 of 32 random bytes (``openssl rand -base64 32``): the AES-256-GCM key secrets are stored encrypted
    with. Every server on one database needs the same key. Without it the secrets routes answer 503, and a task
    that names a secret fails."""

    auth: bool = True
    """Require credentials (an access key, or a token made from one) on every route but ``/health``, the API
    document and ``POST /api/token``; ``--no-auth`` lets every request act as an ADMIN, says so at start and in
    each response's ``X-Baton-Auth: off`` header."""
    admin_key_id: str = ""
    """With ``admin_key_secret``: the ADMIN key made at start if it does not exist (scripts, tests); otherwise the
    first start on an empty database makes one, prints it once and writes it to ``credentials_file``."""
    admin_key_secret: str = field(default="", repr=False)
    """The secret of ``admin_key_id``. Prefer ``BATON_ADMIN_KEY_SECRET`` to the flag, which ``ps`` shows."""
    credentials_file: str = ""
    """Where the first start writes the ADMIN key it made (mode 0600), read by the ``baton`` CLI and the Python
    SDK (which prefer a key in ``BATON_KEY_ID`` / ``BATON_KEY_SECRET``); empty: ``~/.config/baton/credentials.json``."""
    token_secret: str = field(default="", repr=False)
    """Signs the tokens ``POST /api/token`` gives; empty: a random one made once and kept in the database, shared by
    every server on it. Prefer ``BATON_TOKEN_SECRET`` to the flag."""
    token_lifetime_seconds: int = 1800
    """How long a token from ``POST /api/token`` is accepted; then it answers 401 ``EXPIRED_TOKEN``."""
    access_cache_seconds: float = 2.0
    """How long a server trusts what it read of a key (its status, its application's roles) before reading it
    again: a key revoked on another server stops working here within this time (on this server at once)."""

    def __post_init__(self) -> None:
        base = self.http_trigger_base_path.strip().strip("/")
        if not base or base.split("/")[0] in _ROOT_PATHS or any(c in base for c in "{}?#"):
            raise ValueError(f"http_trigger_base_path: {self.http_trigger_base_path!r} must be a path of its own")
        parse_networks(self.outbound_allow_networks)
        if self.token_secret and len(self.token_secret) < 32:
            raise ValueError("token_secret: must be at least 32 characters (HS256 wants a key of 32 bytes or more)")
        if self.token_lifetime_seconds <= 0:
            raise ValueError("token_lifetime_seconds: must be a positive number of seconds")
        if self.secrets_key:
            parse_secrets_key(self.secrets_key)

    @property
    def allowed_networks(self) -> tuple[Network, ...]:
        """``outbound_allow_networks`` parsed."""
        return parse_networks(self.outbound_allow_networks)

    @property
    def trigger_base_path(self) -> str:
        """``http_trigger_base_path`` as a mount's prefix: one leading slash, none trailing."""
        return "/" + self.http_trigger_base_path.strip().strip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``BATON_<FIELD>`` variables, then the non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"BATON_{f.name.upper()}"
            raw = env.get(name)
            if raw is None:
                continue
            try:
                values[f.name] = parse_setting(str(f.type), raw)
            except ValueError:
                raise ValueError(f"{name}: not a valid {f.type}: {raw!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (a bare address is its own /32 or /128); ValueError naming the setting and the bad one."""
    networks: list[Network] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"outbound_allow_networks (BATON_OUTBOUND_ALLOW_NETWORKS): {text!r} is not a network"
                " such as 127.0.0.0/8"
            ) from None
    return tuple(networks)


SECRETS_KEY_BYTES = 32


def parse_secrets_key(text: str) -> bytes:
    """``secrets_key`` as the key's bytes; a ValueError naming the setting (never its value) when it is not
    base64 of 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != SECRETS_KEY_BYTES:
        raise ValueError(
            f"secrets_key (BATON_SECRETS_KEY): must be base64 of {SECRETS_KEY_BYTES} bytes, such as the output of"
            " `openssl rand -base64 32`"
        )
    return key


def parse_setting(type_name: str, raw: str) -> Any:
    """A setting's value from its text (an environment variable or a flag), by the field's type name."""
    if type_name == "bool":
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(raw)
    if type_name == "int":
        return int(raw.replace("_", ""))
    if type_name == "float":
        return float(raw)
    return raw


@cache
def setting_docs() -> dict[str, str]:
    """Each field's docstring (the string literal right below it in ``Settings``), whitespace collapsed.

    Read once from the class's source; a field without one (or a process without the source) gets "".
    """
    try:
        tree = ast.parse(inspect.getsource(Settings))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for statement, following in pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs

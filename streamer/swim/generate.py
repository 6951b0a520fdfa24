"""Ask a model for a stream operator; extract, sandbox, verify and cache it. Also model-in-the-loop operators.

The model is reached through ``streamer.openai.Client.chat_completions_stream`` (a typed ``ChatStream``
over our own SSE stack), so any OpenAI-compatible server works with ``base_url``. Model output is never run
outside ``streamer.swim.sandbox``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
from attrs import define, field

from .._env import resolve_api_key
from ..errors import GenerationFailed, ModelNotConfigured, OperatorRejected, StreamError, UnexpectedEOF
from .sandbox import Limits, SandboxedOperator, Verdict, compile_operator, verify_operator

__all__ = [
    "ChatAnswer",
    "GeneratedOperator",
    "ModelConfig",
    "ModelOperator",
    "OperatorCache",
    "ToolCall",
    "ask_model",
    "build_messages",
    "coalesce_latest",
    "direct_reference",
    "extract_source",
    "generate_operator",
    "parse_answer",
]

DEFAULT_MODEL = "gpt-4o-mini"
MAX_ANSWER_CHARS = 64_000

CONTRACTS = {
    "accumulate": (
        "def func(acc: dict, new_value: float, params: dict) -> tuple",
        "return (acc, result): acc is a dict of plain JSON data (numbers, strings, lists, dicts) "
        "carried to the next update; result is this update's output",
    ),
    "map": ("def func(new_value: float, params: dict) -> float", "return a finite number"),
    "filter": ("def func(new_value: float, params: dict) -> bool", "return True or False (a real bool)"),
}

RULES = (
    "Rules: one top-level function named func; you may `import math` or `import statistics` and nothing "
    "else; no names or attributes starting with an underscore; no eval, exec, open, getattr, type, "
    "classes, generators, async, with, global or str.format; no side effects; no printing."
)


@define(frozen=True, slots=True)
class ModelConfig:
    """Where the model lives: ``model``, ``base_url`` and the key (never shown in repr)."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, model: str | None = None, base_url: str | None = None) -> ModelConfig:
        """Read ``OPENAI_API_KEY`` (or ./.env), ``OPENAI_BASE_URL``, ``STREAMER_MODEL``; fail in one line."""
        key = resolve_api_key(None, required=False)
        base = base_url or os.environ.get("OPENAI_BASE_URL") or None
        if key is None and base is None:
            raise ModelNotConfigured(
                "no model configured: set OPENAI_API_KEY, or pass --base-url of an OpenAI-compatible server"
            )
        return cls(model or os.environ.get("STREAMER_MODEL") or DEFAULT_MODEL, base, key)


@define(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for: name and parsed JSON arguments."""

    name: str
    arguments: dict[str, Any]


@define(frozen=True, slots=True)
class ChatAnswer:
    """What one streamed chat completion said."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None


def _client(config: ModelConfig) -> Any:
    from ..openai import Client

    return Client(config.api_key, base_url=config.base_url)


def ask_model(
    config: ModelConfig,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    on_text: Callable[[str], None] | None = None,
    client: Any = None,
) -> ChatAnswer:
    """Stream one chat completion (a ``ChatStream``); its text and tool calls. It must end in [DONE].

    ``client`` is a ``streamer.openai.Client`` (one is made from ``config`` and closed if not given).
    """
    body: dict[str, Any] = {"model": config.model, "messages": messages, "temperature": 0}
    if tools:
        body["tools"] = tools
    own = client is None
    client = client or _client(config)
    size = 0
    finish: str | None = None
    try:
        with client.chat_completions_stream(**body) as stream:
            while stream.next():
                piece, ok = stream.content_delta()
                if ok:
                    size += len(piece)
                    if size > MAX_ANSWER_CHARS:
                        raise GenerationFailed(f"the model's answer exceeds {MAX_ANSWER_CHARS} characters")
                    if on_text is not None:
                        on_text(piece)
                reason, ok = stream.finish_reason()
                if ok:
                    finish = reason
            error = stream.err()
            if error is not None:
                if isinstance(error, UnexpectedEOF):
                    raise GenerationFailed(
                        "the model's stream ended before data: [DONE]; the answer may be incomplete"
                    ) from error
                raise error
            text = stream.text()
            calls = stream.tool_calls()
    finally:
        if own:
            client.close()
    parsed = []
    for call in calls:
        name = call.name or ""
        try:
            args = json.loads(call.arguments or "{}")
        except (ValueError, RecursionError):
            raise GenerationFailed(f"tool call {name!r} has arguments that are not JSON") from None
        if not isinstance(args, dict):
            raise GenerationFailed(f"tool call {name!r} has arguments that are not an object")
        parsed.append(ToolCall(name, args))
    return ChatAnswer(text, tuple(parsed), finish)


def build_messages(
    kind: str, description: str, params: dict[str, Any], feedback: list[str] | None = None
) -> list[dict[str, Any]]:
    """The prompt for one operator, plus what was wrong with earlier attempts."""
    signature, ret = CONTRACTS[kind]
    system = (
        f'You write Python stream operators. Answer with a JSON object {{"result": "<python source>"}} '
        f"and nothing else. The operator is a {kind} operator: `{signature}`; {ret}. {RULES}"
    )
    user = f"Description: {description}\nParameters (passed as params): {json.dumps(params, sort_keys=True)}"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    for problem in feedback or []:
        messages.append(
            {"role": "user", "content": f"Your previous answer was refused: {problem}. Try again."}
        )
    return messages


_FENCE = re.compile(r"```[ \t]*(?:python3|python|py|json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_source(answer: str) -> str:
    """Operator source (LF line ends) from a JSON object with ``result``, a fenced block, or bare code."""
    text = answer.replace("\r\n", "\n").strip()
    decoder = json.JSONDecoder()
    for match in itertools.islice(re.finditer(r"\{", text), 64):  # bounded: no quadratic scan of junk
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and "result" in obj:
            if isinstance(obj["result"], str) and obj["result"].strip():
                return _unfence(obj["result"])
            raise GenerationFailed("the JSON answer's `result` is not a string of source code")
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip() + "\n"
    if re.match(r"(def |import |from |\"\"\"|#)", text):
        return text + "\n"
    raise GenerationFailed(
        "cannot find code in the model's answer (no JSON `result`, no fenced block, no bare def): "
        f"{text[:120]!r}"
    )


def _unfence(source: str) -> str:
    source = source.replace("\r\n", "\n")
    fenced = _FENCE.search(source)
    return (fenced.group(1) if fenced else source).strip() + "\n"


def _cache_root() -> Path:
    explicit = os.environ.get("STREAMER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "streamer"


@define(frozen=True, slots=True)
class CacheEntry:
    """A cached operator and its verdict."""

    key: str
    kind: str
    description: str
    params: dict[str, Any]
    model: str
    source: str
    verdict: str
    ok: bool
    created: float


class OperatorCache:
    """Generated operators on disk, one JSON file per (kind, description, params, model)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or _cache_root()) / "operators"

    @staticmethod
    def key(kind: str, description: str, params: dict[str, Any], model: str) -> str:
        """Stable key of an operator request."""
        blob = json.dumps([kind, description, params, model], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` (or a unique prefix of it), if any."""
        matches = sorted(self.root.glob(f"{key}*.json")) if self.root.is_dir() and key.isalnum() else []
        if len(matches) != 1:
            return None
        try:
            data = json.loads(matches[0].read_text())
            return CacheEntry(**data)
        except (ValueError, TypeError, OSError):
            return None

    def put(self, entry: CacheEntry) -> None:
        """Store an entry atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{entry.key}.tmp"
        data = attrs.asdict(entry)
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.root / f"{entry.key}.json")

    def entries(self) -> list[CacheEntry]:
        """Every readable entry, oldest first."""
        if not self.root.is_dir():
            return []
        found = [self.get(p.stem) for p in self.root.glob("*.json")]
        return sorted((e for e in found if e is not None), key=lambda e: e.created)

    def clear(self) -> int:
        """Delete every entry; return how many."""
        n = 0
        if self.root.is_dir():
            for p in self.root.glob("*.json"):
                p.unlink()
                n += 1
        return n


def direct_reference(
    kind: str, description: str, params: dict[str, Any]
) -> tuple[Callable[..., Any], str] | None:
    """A direct operator of the same meaning from ``streamer.swim.operators``, if that module offers one.

    The hook is ``operators.lookup(kind, description, params)`` returning a callable with the operator
    contract of ``kind`` (or ``None``), with an optional ``name`` attribute for messages.
    """
    try:
        from . import operators  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    lookup = getattr(operators, "lookup", None)
    if not callable(lookup):
        return None
    try:
        found = lookup(kind, description, params)
    except (StreamError, ValueError, TypeError, KeyError):
        return None
    if found is None:
        return None
    return found, str(getattr(found, "name", getattr(found, "__name__", "the direct operator")))


@define(frozen=True, slots=True)
class GeneratedOperator:
    """A verified operator: its source, verdict, whether it came from the cache, and the live sandbox."""

    source: str
    verdict: Verdict
    from_cache: bool
    attempts: int
    operator: SandboxedOperator = field(repr=False)


def generate_operator(
    kind: str,
    description: str,
    params: dict[str, Any],
    config: ModelConfig,
    *,
    cache: OperatorCache | None = None,
    regenerate: bool = False,
    max_attempts: int = 3,
    reference: tuple[Callable[..., Any], str] | None = None,
    limits: Limits | None = None,
    on_text: Callable[[str], None] | None = None,
    on_refused: Callable[[int, StreamError], None] | None = None,
    client: Any = None,
) -> GeneratedOperator:
    """Get a verified sandboxed operator: from the cache, or from the model with bounded retries.

    ``on_refused(attempt, error)`` hears why each refused attempt was refused (the model hears it too).
    """
    if reference is None:
        reference = direct_reference(kind, description, params)
    cache = cache if cache is not None else OperatorCache()
    key = OperatorCache.key(kind, description, params, config.model)
    if not regenerate:
        entry = cache.get(key)
        if entry is not None and entry.ok:
            op = compile_operator(kind, entry.source, limits=limits)
            verdict = _verify(op, params, reference)
            return GeneratedOperator(entry.source, verdict, True, 0, op)
    feedback: list[str] = []
    last: StreamError | None = None
    for attempt in range(1, max_attempts + 1):
        answer = ask_model(
            config, build_messages(kind, description, params, feedback), on_text=on_text, client=client
        )
        try:
            source = extract_source(answer.text)
            op = compile_operator(kind, source, limits=limits)
        except (GenerationFailed, OperatorRejected) as exc:
            feedback.append(str(exc))
            last = exc
            if on_refused is not None:
                on_refused(attempt, exc)
            continue
        try:
            verdict = _verify(op, params, reference)
        except OperatorRejected as exc:
            op.close()
            feedback.append(str(exc))
            last = exc
            if on_refused is not None:
                on_refused(attempt, exc)
            _store(cache, key, kind, description, params, config, source, str(exc), False)
            continue
        _store(cache, key, kind, description, params, config, source, verdict.describe(), True)
        return GeneratedOperator(source, verdict, False, attempt, op)
    raise GenerationFailed(f"no usable operator after {max_attempts} attempts; last problem: {last}")


def _verify(
    op: SandboxedOperator, params: dict[str, Any], reference: tuple[Callable[..., Any], str] | None
) -> Verdict:
    if reference is None:
        return verify_operator(op, params)
    return verify_operator(op, params, reference=reference[0], reference_name=reference[1])


def _store(
    cache: OperatorCache,
    key: str,
    kind: str,
    description: str,
    params: dict[str, Any],
    config: ModelConfig,
    source: str,
    verdict: str,
    ok: bool,
) -> None:
    cache.put(CacheEntry(key, kind, description, params, config.model, source, verdict, ok, time.time()))


# ------------------------------------------------------------------------------------ model in the loop


def parse_answer(kind: str, text: str) -> Any:
    """Strictly parse a per-update answer: a number (map), a bool (filter), {acc, result} (accumulate)."""
    raw = text.strip()
    fenced = _FENCE.search(raw)
    if fenced:
        raw = fenced.group(1).strip()
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise GenerationFailed(f"the model's answer is not JSON: {raw[:80]!r}") from None
    if kind == "map":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise GenerationFailed(f"expected a finite number, got {raw[:80]!r}")
        return float(value)
    if kind == "filter":
        if not isinstance(value, bool):
            raise GenerationFailed(f"expected true or false, got {raw[:80]!r}")
        return value
    if not isinstance(value, dict) or set(value) != {"acc", "result"} or not isinstance(value["acc"], dict):
        raise GenerationFailed(f'expected {{"acc": {{...}}, "result": ...}}, got {raw[:80]!r}')
    return value["acc"], value["result"]


class ModelOperator:
    """Apply a free-text operation to each update by asking the model (about one update per round trip)."""

    def __init__(
        self, kind: str, description: str, params: dict[str, Any], config: ModelConfig, client: Any = None
    ):
        if kind not in CONTRACTS:
            raise ValueError(f"unknown operator kind {kind!r}")
        self.kind = kind
        self.description = description
        self.params = params
        self.config = config
        self.client = client
        self.acc: dict[str, Any] = {}

    def messages(self, value: float) -> list[dict[str, Any]]:
        """The prompt for one update."""
        shape = {
            "map": "a single JSON number",
            "filter": "true or false",
            "accumulate": 'a JSON object {"acc": <new state object>, "result": <this update\'s result>}',
        }[self.kind]
        state = f"\nCurrent state (acc): {json.dumps(self.acc)}" if self.kind == "accumulate" else ""
        return [
            {
                "role": "system",
                "content": f"Apply the operation to the value. Answer with {shape} and nothing else.",
            },
            {
                "role": "user",
                "content": f"Operation: {self.description}\nParameters: {json.dumps(self.params)}\n"
                f"Value: {value!r}{state}",
            },
        ]

    def apply(self, value: float) -> Any:
        """Ask once for this update; raise GenerationFailed if the answer does not parse."""
        answer = ask_model(self.config, self.messages(value), client=self.client)
        parsed = parse_answer(self.kind, answer.text)
        if self.kind == "accumulate":
            self.acc, result = parsed
            return result
        return parsed


@define(frozen=True, slots=True)
class Outcome:
    """One model-in-the-loop result: the value asked about, its answer or error, updates skipped before it."""

    value: float
    result: Any
    error: StreamError | None
    skipped: int


def coalesce_latest(values: Iterable[float], apply: Callable[[float], Any]) -> Iterator[Outcome]:
    """Run ``apply`` on a background thread; updates arriving while it runs collapse to the latest one.

    Nothing queues without bound: at most one pending value is kept, and each outcome says how many
    updates were dropped in favour of it. A failed call yields an outcome with ``error`` set; the
    stream goes on.
    """
    lock = threading.Condition()
    pending: list[float] = []
    skipped = [0]
    finished = [False]
    results: list[Outcome] = []

    stopped = threading.Event()

    def feed() -> None:
        for v in values:
            if stopped.is_set():
                break
            with lock:
                if pending:
                    skipped[0] += 1
                    pending[0] = v
                else:
                    pending.append(v)
                lock.notify_all()
        with lock:
            finished[0] = True
            lock.notify_all()

    threading.Thread(target=feed, daemon=True, name="coalesce-feed").start()
    try:
        while True:
            with lock:
                while not pending and not finished[0]:
                    lock.wait()
                if not pending:
                    return
                value = pending.pop()
                dropped, skipped[0] = skipped[0], 0
            try:
                results.append(Outcome(value, apply(value), None, dropped))
            except StreamError as exc:
                results.append(Outcome(value, None, exc, dropped))
            yield results.pop()
    finally:
        stopped.set()  # the feeder stops pulling from the source at its next value

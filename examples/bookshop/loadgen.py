"""Load for the bookshop: add books and read them back, and write down every answer.

The record is the proof of a hot migration: every write the service
acknowledged (HTTP 201, with the id and the payload sent) must be in the new
database at the end, and every read of the old service must have succeeded.
One JSON object per line in `--out`, flushed as it happens:

    {"t": 1700000000.1, "op": "write", "url": "...", "status": 201, "id": 7, "payload": {...}}
    {"t": ..., "op": "write", "url": "...", "status": 503, "error": "writes are blocked: ..."}
    {"t": ..., "op": "read", "url": "...", "status": 200, "id": 7}

Traffic moves to another service when the `--control` file holds its base
URL (the operator's "traffic switch"). SIGTERM or SIGINT ends it cleanly;
`--max-seconds` bounds it in any case. Standard library only.

    python examples/bookshop/loadgen.py --url http://127.0.0.1:5000 --out acks.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

AUTHORS = ["Tove Jansson", "Ōe Kenzaburō", "Olga Tokarczuk", "New Author ✍"]


class Stop:
    requested = False


def _request(method: str, url: str, body: dict[str, Any] | None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError) as exc:
        return 0, {"error": str(exc)}


def _payload(rng: random.Random, n: int) -> dict[str, Any]:
    return {"title": f"Load book {n} {rng.choice(['☕', 'ß', '漢字', ''])}",
            "author": rng.choice(AUTHORS), "price": rng.choice([0.1 + 0.2, rng.uniform(1, 99), 1e-7]),
            "description": rng.choice([None, "", f"payload {n} ✓"])}


def _log(out: TextIO, **entry: Any) -> None:
    out.write(json.dumps({"t": time.time(), **entry}, ensure_ascii=False) + "\n")
    out.flush()


def _target(url: str, control: Path | None) -> str:
    if control is not None and control.exists():
        wanted = control.read_text().strip()
        if wanted:
            return wanted
    return url


def run(url: str, out_path: Path, control: Path | None, max_seconds: float, pause: float) -> None:
    rng = random.Random(11)
    acked: list[int] = []
    deadline = time.monotonic() + max_seconds
    with out_path.open("a", encoding="utf-8") as out:
        n = 0
        while not Stop.requested and time.monotonic() < deadline:
            base = _target(url, control)
            n += 1
            payload = _payload(rng, n)
            status, body = _request("POST", f"{base}/books", payload)
            if status == 201:
                acked.append(body["id"])
                _log(out, op="write", url=base, status=status, id=body["id"], payload=payload)
            else:
                _log(out, op="write", url=base, status=status, error=(body or {}).get("error"))
            if acked:
                book = rng.choice(acked)
                status, body = _request("GET", f"{base}/books/{book}", None)
                _log(out, op="read", url=base, status=status, id=book)
            time.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="base URL of the service to load")
    parser.add_argument("--out", required=True, type=Path, help="JSON lines record")
    parser.add_argument("--control", type=Path, help="a file whose content, once present, is the URL to use")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--pause", type=float, default=0.002, help="seconds between iterations")
    args = parser.parse_args()

    def stop(signum: int, frame: object) -> None:
        Stop.requested = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run(args.url.rstrip("/"), args.out, args.control, args.max_seconds, args.pause)


if __name__ == "__main__":
    main()

"""The users of bench/load_bench.py: each signs in once, then browses the staff pages.

Run by load_bench.py (`locust -f bench/load_locustfile.py --headless ...`), which seeds the
database and passes, through the environment:

    LOAD_USERS        comma-separated usernames, one per simulated user (all share one password)
    LOAD_PASSWORD     their password
    LOAD_CREATORS     number of seeded creators (ids c00000 ...), for pages and searches
    LOAD_AUDIT        number of seeded audit entries (seq 1 ...), for deep audit pages
    LOAD_WAIT_MIN / LOAD_WAIT_MAX  think time between two pages, in seconds
    LOAD_RECORD       a file that receives one line per request: page, status, response time (ms)

Every request carries an `X-Bench-Page` header naming the page, so that the gunicorn access log
(which load_bench.py configures to record it with the server's own request time) can be grouped
the same way as locust's client-side figures. A page answers 200 or it counts as an error:
redirects are not followed (a redirect to the login page is a lost session, not a success).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import threading

from locust import HttpUser, between, events, task

USERNAMES = [u for u in os.environ.get("LOAD_USERS", "").split(",") if u]
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
CREATORS = int(os.environ.get("LOAD_CREATORS", "12000"))
AUDIT_ENTRIES = int(os.environ.get("LOAD_AUDIT", "100000"))
WAIT_MIN = float(os.environ.get("LOAD_WAIT_MIN", "1"))
WAIT_MAX = float(os.environ.get("LOAD_WAIT_MAX", "3"))

_next_user = itertools.count()
_lock = threading.Lock()
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
_record = open(os.environ["LOAD_RECORD"], "a", buffering=1) if os.environ.get("LOAD_RECORD") else None  # noqa: SIM115


@events.request.add_listener
def _record_request(name: str, response_time: float, response=None, exception=None, **_kw) -> None:
    """Every request as it completes, in order, for load_bench.py's client-side percentiles
    (locust's own stats round response times into buckets)."""
    if _record is not None:
        status = getattr(response, "status_code", 0) or 0
        if exception is not None and status in (200, 302):
            status = 599  # a response the user counted as a failure (see `_page`)
        _record.write(f"{name}\t{status}\t{response_time:.3f}\n")


def _creator() -> str:
    return f"c{random.randrange(CREATORS):05d}"


class Staff(HttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        with _lock:
            n = next(_next_user)
        if not USERNAMES:
            raise RuntimeError("LOAD_USERS is empty: run this through bench/load_bench.py")
        username = USERNAMES[n % len(USERNAMES)]
        page = self.client.get(
            "/accounts/login/", name="sign in (form)", headers=self._named("sign in (form)")
        )
        token = _CSRF.search(page.content)
        with self.client.post(
            "/accounts/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1).decode() if token else "",
            },
            headers={"Referer": page.url, **self._named("sign in")},
            name="sign in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # A successful sign-in redirects; a refusal renders the form again with a 200.
            if response.status_code != 302:
                response.failure(f"sign-in of {username} answered {response.status_code}")

    @staticmethod
    def _named(name: str, htmx: bool = False) -> dict[str, str]:
        return {"X-Bench-Page": name, **({"HX-Request": "true"} if htmx else {})}

    def _page(self, name: str, url: str, params: dict | None = None, htmx: bool = False) -> None:
        with self.client.get(
            url,
            params=params or {},
            name=name,
            headers=self._named(name, htmx),
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {response.request.path_url}")

    @task(3)
    def overview(self) -> None:
        self._page("overview", "/")

    @task(3)
    def creators_paged(self) -> None:
        self._page("creators (paged)", "/creators/", {"page": random.randint(1, max(1, CREATORS // 50))})

    @task(2)
    def creators_filtered(self) -> None:
        # As typed into the search box: htmx asks for the rows only.
        params = {"q": _creator()[: random.randint(3, 6)]}
        if random.random() < 0.3:
            params["status"] = random.choice(["active", "erased"])
        self._page("creators (filtered, htmx)", "/creators/", params, htmx=True)

    @task(3)
    def namespaces_paged(self) -> None:
        self._page("namespaces (paged)", "/namespaces/", {"page": random.randint(1, 500)})

    @task(2)
    def namespaces_filtered(self) -> None:
        params = random.choice(
            [
                {"kind": "twin", "page": random.randint(1, 200)},
                {"kind": "legacy-uuid"},
                {"kind": "creator-wide", "page": random.randint(1, 100)},
                {"q": _creator()[: random.randint(4, 6)]},
            ]
        )
        self._page("namespaces (filtered)", "/namespaces/", params)

    @task(3)
    def audit_paged(self) -> None:
        params = {} if random.random() < 0.4 else {"before": random.randint(51, AUDIT_ENTRIES)}
        self._page("audit (paged)", "/audit/", params, htmx="before" in params)

    @task(2)
    def audit_filtered(self) -> None:
        params = random.choice(
            [
                {"action": "twin.delete.*"},
                {"action": "creator.erase.success"},
                {"actor": f"user{random.randrange(40):02d}"},
                {"creator": _creator()},
                {"outcome": "failure"},
                {"target_type": "namespace", "target_id": f"creator_{_creator()}_twin_t007"},
            ]
        )
        self._page("audit (filtered)", "/audit/", params)

    @task(2)
    def jobs(self) -> None:
        params = random.choice(
            [{}, {"page": random.randint(1, 40)}, {"status": "failed"}, {"kind": "refresh_index"}]
        )
        self._page("jobs", "/jobs/", params)

    @task(2)
    def creator_detail(self) -> None:
        self._page("creator detail", f"/creators/{_creator()}/")

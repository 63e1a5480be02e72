"""A simulated learner on the class hub: logs in through the hub's form, starts a server, runs a notebook's code cells
through the Jupyter server's kernels API and websocket, and uses nbgrader's Assignments API.

Messages are built with jupyter_client's Session and carried by websocket-client over the server's JSON websocket
protocol (what JupyterLab speaks). Every wait has a time limit.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

import nbformat
import requests
import websocket
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

HTTP_TIMEOUT = 60  # seconds for one HTTP request (a busy hub answers slowly, never this slowly)
SPAWN_TIMEOUT = 240  # seconds from asking for a server to its being ready
CELL_TIMEOUT = 240  # seconds for one cell, with ten learners sharing two cores
KERNEL_DEATH = ("restarting", "dead")  # the server's status messages when a kernel died


class KernelDied(RuntimeError):
    """The learner's kernel died while a cell ran (the server announced a restart)."""


@dataclass
class Run:
    """What one run of a notebook produced: the error outputs (error messages and stderr) and cells executed."""

    cells: int = 0
    errors: list[str] = field(default_factory=list)


class Learner:
    """One learner, by name, on the hub at ``url``."""

    def __init__(self, url: str, name: str, password: str):
        self.url, self.name, self.password = url, name, password
        self.web = requests.Session()
        self.token = ""
        self.kernel_id = ""
        self.socket: websocket.WebSocket | None = None
        self.session = Session(username=name, key=secrets.token_bytes(16))  # the server signs what it forwards

    # --- the hub --------------------------------------------------------------------------------------------------
    def log_in(self) -> None:
        """The login form, as a browser fills it (with its _xsrf cookie); then an API token for the scripted rest."""
        self.web.get(f"{self.url}/hub/login", timeout=HTTP_TIMEOUT).raise_for_status()
        xsrf = self.web.cookies["_xsrf"]
        reply = self.web.post(f"{self.url}/hub/login", data={"username": self.name, "password": self.password,
                                                              "_xsrf": xsrf}, allow_redirects=False,
                              timeout=HTTP_TIMEOUT)
        assert reply.status_code == 302, f"{self.name} could not log in: {reply.status_code} {reply.text[:300]}"
        xsrf = self.web.cookies["_xsrf"]  # logging in issues a new one, bound to the session
        token = self.web.post(f"{self.url}/hub/api/users/{self.name}/tokens", json={"note": "load test",
                              "expires_in": 3600}, headers={"X-XSRFToken": xsrf}, timeout=HTTP_TIMEOUT)
        token.raise_for_status()
        self.token = token.json()["token"]
        self.web.headers["Authorization"] = f"token {self.token}"

    def start_server(self) -> None:
        """Ask the hub for this learner's server and wait until it is ready."""
        reply = self.web.post(f"{self.url}/hub/api/users/{self.name}/server", timeout=HTTP_TIMEOUT)
        assert reply.status_code in (201, 202), f"{self.name}: the hub refused a server: {reply.text[:300]}"
        deadline = time.monotonic() + SPAWN_TIMEOUT
        while time.monotonic() < deadline:
            server = self.hub_api(f"users/{self.name}").get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}'s server was not ready within {SPAWN_TIMEOUT} s")

    def hub_api(self, path: str) -> dict:
        reply = self.web.get(f"{self.url}/hub/api/{path}", timeout=HTTP_TIMEOUT)
        reply.raise_for_status()
        return reply.json()

    # --- the learner's Jupyter server ---------------------------------------------------------------------------
    def server(self, method: str, path: str, **kwargs) -> requests.Response:
        """A request to this learner's Jupyter server, through the hub's proxy."""
        reply = self.web.request(method, f"{self.url}/user/{self.name}/{path}", timeout=HTTP_TIMEOUT, **kwargs)
        assert reply.ok, f"{self.name}: {method} {path}: {reply.status_code} {reply.text[:500]}"
        return reply

    def read_notebook(self, path: str) -> nbformat.NotebookNode:
        model = self.server("GET", f"api/contents/{path}", params={"content": "1", "type": "notebook"}).json()
        return nbformat.from_dict(model["content"])

    def write_notebook(self, path: str, nb: nbformat.NotebookNode) -> None:
        self.server("PUT", f"api/contents/{path}", json={"type": "notebook", "format": "json", "content": nb})

    def start_kernel(self) -> None:
        """A python3 kernel, connected and answering kernel_info."""
        self.kernel_id = self.server("POST", "api/kernels", json={"name": "python3"}).json()["id"]
        self.connect()

    def restart_kernel(self) -> None:
        """The learner presses Restart: the same kernel id, a fresh process, reconnected. While the server is still
        restarting a dead kernel on its own, a restart is refused (500): the learner presses again a second later."""
        self.close()
        deadline = time.monotonic() + CELL_TIMEOUT
        while not self.web.post(f"{self.url}/user/{self.name}/api/kernels/{self.kernel_id}/restart",
                                timeout=HTTP_TIMEOUT).ok:
            assert time.monotonic() < deadline, f"{self.name}: the kernel could not be restarted in {CELL_TIMEOUT} s"
            time.sleep(1)
        self.connect()

    def connect(self) -> None:
        ws_url = self.url.replace("http", "ws", 1) + f"/user/{self.name}/api/kernels/{self.kernel_id}/channels"
        self.socket = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"],
                                                  timeout=CELL_TIMEOUT)
        deadline = time.monotonic() + CELL_TIMEOUT
        while True:  # a kernel just started may miss the first request: ask until it answers
            request = self.send("kernel_info_request", {})
            try:
                self.wait_for(request, deadline=min(deadline, time.monotonic() + 5))
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def send(self, msg_type: str, content: dict) -> str:
        message = self.session.msg(msg_type, content)
        message["channel"] = "shell"
        self.socket.send(json.dumps(message, default=json_default))
        return message["header"]["msg_id"]

    def wait_for(self, request: str, deadline: float, run: Run | None = None) -> dict:
        """Read messages until the reply to ``request`` and the kernel's return to idle; error outputs go to ``run``.

        Raises KernelDied when the server announces the kernel's death, TimeoutError past ``deadline``.
        """
        reply, idle = None, False
        while reply is None or not idle:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                message = json.loads(self.socket.recv())
            except websocket.WebSocketTimeoutException:
                raise TimeoutError(f"{self.name}: no reply within the time limit") from None
            msg_type, content = message["header"]["msg_type"], message["content"]
            if msg_type == "status" and content["execution_state"] in KERNEL_DEATH:
                raise KernelDied(f"{self.name}'s kernel: {content['execution_state']}")
            if message["parent_header"].get("msg_id") != request:
                continue
            if message["channel"] == "shell":
                reply = content
            elif msg_type == "status":
                idle = content["execution_state"] == "idle"
            elif run is not None and msg_type == "error":
                run.errors.append(f"{content['ename']}: {content['evalue']}")
            elif run is not None and msg_type == "stream" and content["name"] == "stderr":
                run.errors.append(f"stderr: {content['text']}")
        return reply

    def execute(self, cells: list[str], on_sent=None) -> Run:
        """Run ``cells`` in order on the kernel; ``on_sent(index)`` is called as each is sent."""
        run = Run()
        for index, source in enumerate(cells):
            request = self.send("execute_request", {"code": source, "silent": False, "store_history": True,
                                                    "allow_stdin": False, "stop_on_error": True})
            if on_sent:
                on_sent(index)
            reply = self.wait_for(request, time.monotonic() + CELL_TIMEOUT, run)
            run.cells += 1
            if reply["status"] != "ok":
                run.errors.append(f"cell {index}: {reply['status']}")
                break
        return run

    def nbgrader(self, action: str, course_id: str, assignment_id: str) -> list | dict:
        """An action of nbgrader's Assignments panel: fetch or submit an assignment."""
        return self.server("POST", f"assignments/{action}", json={"course_id": course_id,
                                                                  "assignment_id": assignment_id}).json()

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]

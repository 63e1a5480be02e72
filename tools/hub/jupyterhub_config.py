# JupyterHub for a class, on this machine only (make hub; tests/hub/ runs it under load). A DEMO setup: every learner's
# server runs as the same system user (SimpleLocalProcessSpawner), so learners are not isolated from each other. For a
# real class use The Littlest JupyterHub or Zero to JupyterHub with the course image (tools/hub/environment.yml) and
# copy the pieces marked "also on a real hub".
#
# Settings from the environment (make hub sets them; the load test sets its own):
#   NNLIB_HUB_DIR       state: jupyterhub.sqlite, cookie secret, homes/<learner>/, exchange/, course/
#                       (default build/hub)
#   NNLIB_HUB_PORT      the public port, on 127.0.0.1 (default 8000); the hub's and the proxy's own ports are free
#                       ports chosen at start
#   NNLIB_HUB_PASSWORD  the learners' shared password (at least 8 characters; make hub makes one up and prints it)
#   NNLIB_HUB_TOKEN     optional: an API token for a service "class-monitor" that may list learners, read their
#                       servers' state (pids) and start or stop them (the load test uses it)
# Options: https://jupyterhub.readthedocs.io/en/stable/reference/api/app.html
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import sync_lessons  # noqa: E402

STATE = Path(os.environ.get("NNLIB_HUB_DIR", ROOT / "build" / "hub")).resolve()
COURSE_ID = "nnlib-course"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free on the loopback interface now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


# Loopback only: the public proxy, the hub, the proxy's API and every learner's server.
c.JupyterHub.bind_url = f"http://{LOOPBACK}:{os.environ.get('NNLIB_HUB_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://{LOOPBACK}:{free_port()}"
c.ConfigurableHTTPProxy.api_url = f"http://{LOOPBACK}:{free_port()}"
c.Spawner.ip = LOOPBACK
# configurable-http-proxy from npm, installed into STATE/proxy/node_modules by make (never globally).
c.ConfigurableHTTPProxy.command = [str(STATE / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# Any name, one shared password (jupyterhub's demo authenticator).
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["NNLIB_HUB_PASSWORD"]
c.Authenticator.allow_all = True

# Each learner's home is STATE/homes/<name>, their server runs from this very environment (the hub's venv: the
# course, nbgrader and jupyterhub-singleuser) and opens on their copy of the lessons.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
# Kernels talk to their server over Unix sockets in the learner's runtime folder, not TCP: many servers picking free
# TCP ports at once collide (a kernel then dies with "Address already in use"), and no other local user can connect.
c.Spawner.args = ["--KernelManager.transport=ipc"] + (["--allow-root"] if os.getuid() == 0 else [])  # root: CI
c.Spawner.default_url = "/lab/tree/lessons"
# Starting many servers at once on a small machine is slow: generous, but bounded.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
LEARNER_CONFIG = STATE / "learner-config"
# The kernels' Unix sockets live in a short private path (a socket's path has at most 107 bytes).
RUNTIME = Path(tempfile.gettempdir()) / f"nnlib-hub-{os.getuid()}"
RUNTIME.mkdir(mode=0o700, exist_ok=True)
c.Spawner.environment = {
    "JUPYTER_RUNTIME_DIR": lambda spawner: str(RUNTIME / spawner.user.name),  # jupyterhub calls it per learner
    "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    "JUPYTER_CONFIG_PATH": str(LEARNER_CONFIG),  # the learners' nbgrader configuration, written below
    "OPENBLAS_NUM_THREADS": "1",  # one BLAS thread per kernel: a class shares the cores
}


def give_lessons(spawner) -> None:
    """Also on a real hub: before a server starts, the learner's lessons/ is brought up to date, never overwriting
    the learner's edits (tools/hub/sync_lessons.py: nbgitpuller's rules)."""
    plan = sync_lessons.sync(ROOT / "lessons", Path(spawner.home_dir) / "lessons")
    spawner.log.info("lessons for %s: %s", spawner.user.name, plan.summary())


c.Spawner.pre_spawn_hook = give_lessons

# nbgrader's exchange: the instructor releases to and collects from STATE/exchange (tools/hub/instructor.py); the
# learners fetch and submit there from JupyterLab's Assignments panel (nbgrader's server extension).
LEARNER_CONFIG.mkdir(parents=True, exist_ok=True)
# A learner needs nbgrader's Assignments panel and Validate button, not the instructor's formgrader and course list;
# nor the language server (a second process per learner). Less to start: a server starts faster, in less memory.
(LEARNER_CONFIG / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
    "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
    "jupyter_lsp": False}}}, indent=1), encoding="utf-8")
(LEARNER_CONFIG / "nbgrader_config.py").write_text(f"""\
# Written by tools/hub/jupyterhub_config.py: the learners' side of nbgrader's exchange.
import os
c = get_config()
c.Exchange.root = {str(STATE / "exchange")!r}
c.CourseDirectory.course_id = {COURSE_ID!r}
# Demo hub: every learner is the same system user, so the learner's hub name is the student id.
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
""", encoding="utf-8")

if os.environ.get("NNLIB_HUB_TOKEN"):
    c.JupyterHub.services = [{"name": "class-monitor", "api_token": os.environ["NNLIB_HUB_TOKEN"]}]
    c.JupyterHub.load_roles = [{
        "name": "class-monitor",
        "scopes": ["list:users", "read:users", "admin:server_state", "servers", "access:servers"],
        "services": ["class-monitor"],
    }]

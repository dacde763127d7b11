"""deploy/: the image definition repo2docker reads, and the Helm values in step with the one-machine hub.

The hub itself runs in tests/browser/test_jupyterhub.py. Docker cannot run here, so the image is
checked as far as repo2docker goes without building it: which build pack it picks, which Python,
and that the repository is in place before environment.yml's ``-e .`` is installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
#: Where repo2docker puts the repository in the image (its REPO_DIR, the user's home).
IMAGE_REPO = "/home/jovyan"


def load_config(path: Path):
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


@pytest.fixture(scope="module")
def hub_config():
    return load_config(DEPLOY / "jupyterhub_config.py")


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((DEPLOY / "z2jh-values.yaml").read_text())


def test_repo2docker_builds_the_image_from_environment_yml():
    done = subprocess.run([str(Path(sys.executable).parent / "repo2docker"), "--no-build", "--debug", str(REPO)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    # The conda build pack, at environment.yml's Python (a range would fall back to its default).
    assert "Python version unspecified" not in output
    python = re.search(r"^\s*- python=(\d+\.\d+)\s*$", (REPO / "environment.yml").read_text(), re.MULTILINE).group(1)
    assert f"Building conda environment for python={python}" in output
    # environment.yml ends with `-e .`: the whole repository is copied before it is installed.
    copy = output.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = output.index('env update -p ${NB_PYTHON_PREFIX} --file "environment.yml"')
    assert copy < install
    assert "ARG REPO_DIR=${HOME}" in output  # the repository lands in the user's home (IMAGE_REPO)


def test_helm_values_serve_what_the_one_machine_hub_serves(hub_config, values):
    singleuser = values["singleuser"]
    assert singleuser["defaultUrl"] == hub_config.Spawner.default_url
    # The default URL names a notebook of the repository, which is the image's IMAGE_REPO.
    notebook = hub_config.Spawner.default_url.removeprefix("/voila/render/")
    assert (REPO / notebook).is_file()
    assert Path(hub_config.Spawner.notebook_dir) == (REPO / notebook).parent.parent
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == hub_config.JupyterHub.authenticator_class
    environment = hub_config.Spawner.environment
    assert singleuser["extraEnv"]["SER_NUM_THREADS"] == environment["SER_NUM_THREADS"]
    # The students' servers read the same config folders, there from the image's copy of the repository.
    in_image = singleuser["extraEnv"]["JUPYTER_CONFIG_PATH"].split(":")
    here = environment["JUPYTER_CONFIG_PATH"].split(":")
    assert [str(Path(p).relative_to(IMAGE_REPO)) for p in in_image] == [str(Path(p).relative_to(REPO)) for p in here]


def test_helm_values_cull_as_the_one_machine_hub_does(hub_config, values):
    (culler,) = [service for service in hub_config.JupyterHub.services if service["name"] == "idle-culler"]
    options = dict(arg.removeprefix("--").split("=") for arg in culler["command"] if arg.startswith("--"))
    assert values["cull"]["enabled"] is True
    assert values["cull"]["timeout"] == int(options["timeout"])
    assert values["cull"]["every"] == int(options["cull-every"])
    (role,) = [role for role in hub_config.JupyterHub.load_roles if "idle-culler" in role.get("services", [])]
    assert {"list:users", "read:users:activity", "read:servers", "delete:servers"} <= set(role["scopes"])


def test_students_servers_cull_kernels_of_closed_pages():
    """What lets the hub's culler stop a server: its kernels go once their page has closed."""
    config = load_config(DEPLOY / "singleuser" / "jupyter_server_config.py")
    voila = json.loads((REPO / "config" / "voila.json").read_text())
    assert config.MappingKernelManager.cull_idle_timeout == voila["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert config.MappingKernelManager.cull_connected is False  # an open page keeps its kernel
    limit = config.ServerApp.tornado_settings["websocket_max_message_size"]
    assert limit == voila["Voila"]["tornado_settings"]["websocket_max_message_size"]
    assert config.ServerApp.jpserver_extensions["jupyterlab"] is False  # the dashboard page only

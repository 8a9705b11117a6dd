"""prefect.yaml: its deployments, and one deployed run end to end against a real Prefect server.

The server test follows the README's "Scheduling retraining" commands: start a server, create
the process work pool, ``prefect --no-prompt deploy --all``, ``prefect deployment run``,
``prefect worker start --run-once``. The server, the CLI and the worker run as subprocesses with
their own PREFECT_HOME; this test process's environment is not changed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrypoints.serve import DEFAULT_CRON, DEFAULT_TIMEZONE
from tests.conftest import PROJECT_ROOT, make_aclimdb
from tests.prefect_servers import free_port, isolated_env, stop_group, wait_until_healthy

POOL = "imdb-rnn"


FLOW = "compare-architectures"


WORKER_SECONDS = 150


def yaml_deployments() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {deployment["name"]: deployment for deployment in config["deployments"]}


@dataclass
class PrefectServer:
    api_url: str
    env: dict[str, str]  # for the CLI and the worker: isolated home, PREFECT_API_URL set
    logs: Path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``prefect ARGS`` from the project root, as the README does; fail on non-zero."""
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so a timeout also stops the flow run a worker started
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(process)
            output, _ = process.communicate()
            pytest.fail(f"prefect {' '.join(args)} ran over {timeout} s:\n{output[-4000:]}")
        assert process.returncode == 0, f"prefect {' '.join(args)} failed:\n{output[-4000:]}"
        return subprocess.CompletedProcess(process.args, process.returncode, output, "")

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET (or POST ``body`` as JSON) ``{api_url}{path}`` and decode the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api_url + path, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    base = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log = base / "server.log"
    env = isolated_env(base / "home")
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-ui"]
    with log.open("w") as log_file:
        server = subprocess.Popen(
            command,
            cwd=base,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_healthy(server, api_url, log)
        # `{{ $PWD }}` in prefect.yaml is the directory of the shell running `prefect deploy`;
        # a subprocess started with cwd= keeps its parent's PWD, so set it as a shell would.
        cli_env = {**env, "PREFECT_API_URL": api_url, "PWD": str(PROJECT_ROOT)}
        yield PrefectServer(api_url, cli_env, log)
    finally:
        stop_group(server)


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer) -> dict[str, dict[str, Any]]:
    """The README's setup: the process pool, then every deployment in prefect.yaml."""
    prefect_server.cli("work-pool", "create", POOL, "--type", "process")
    prefect_server.cli("--no-prompt", "deploy", "--all")
    found = prefect_server.api("/deployments/filter", {})
    return {deployment["name"]: deployment for deployment in found}


def test_prefect_yaml_has_a_manual_and_a_weekly_deployment_of_the_flow():
    deployments = yaml_deployments()
    assert set(deployments) == {"compare", "weekly-retrain"}
    for deployment in deployments.values():
        assert deployment["entrypoint"] == "flows/compare.py:compare_architectures"
        assert deployment["work_pool"]["name"] == POOL
        assert deployment["concurrency_limit"]["limit"] == 1
    assert not deployments["compare"].get("schedules")
    weekly = deployments["weekly-retrain"]
    # `imdb-rnn serve` offers the same schedule as its default.
    assert weekly["schedules"] == [
        {"cron": DEFAULT_CRON, "timezone": DEFAULT_TIMEZONE, "active": True}
    ]


def test_deployment_parameters_are_valid_flow_parameters():
    from flows.compare import compare_architectures

    for name, deployment in yaml_deployments().items():
        validated = compare_architectures.validate_parameters(deployment["parameters"])
        execution = validated["training"].execution(validated["execution"])
        assert execution.retrain is (name == "weekly-retrain")
        assert validated["data_dir"] == "data"  # relative to the project root (the pull step)


@pytest.mark.server
def test_deploy_records_the_schedule_pull_step_and_concurrency_limit(deployed):
    assert set(deployed) == {"compare", "weekly-retrain"}
    weekly, compare = deployed["weekly-retrain"], deployed["compare"]

    [schedule] = weekly["schedules"]
    assert schedule["schedule"]["cron"] == "0 3 * * 1"
    assert schedule["schedule"]["timezone"] == "UTC"
    assert schedule["active"] is True and weekly["paused"] is False
    assert weekly["parameters"] == {"execution": {"retrain": True}}
    assert compare["schedules"] == [] and compare["parameters"] == {}

    for deployment in (weekly, compare):
        assert deployment["work_pool_name"] == POOL
        assert deployment["entrypoint"] == "flows/compare.py:compare_architectures"
        # Runs start in this checkout, whatever directory the worker runs in.
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}
        ]
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
        assert deployment["job_variables"]["env"]["TF_CPP_MIN_LOG_LEVEL"] == "3"


@pytest.mark.server
@pytest.mark.slow
def test_a_worker_runs_the_compare_deployment_to_the_end(prefect_server, deployed, tmp_path):
    dataset = make_aclimdb(tmp_path / "reviews")
    data_dir = tmp_path / "data"
    parameters = {
        "source": {"source": str(dataset.root)},
        "preprocess": {"vocab_size": 60, "maxlen": 30},
        "model": {"embedding_dim": 8, "units": 8},
        "training": {"epochs": 1, "architectures": ["lstm"], "batch_size": 8},
        "claims": {"enabled": False},
        "data_dir": str(data_dir),
    }
    created = prefect_server.cli(
        "deployment", "run", f"{FLOW}/compare", "--params", json.dumps(parameters)
    ).stdout
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", created).group(1)

    worker = prefect_server.cli(
        "worker", "start", "--pool", POOL, "--run-once", timeout=WORKER_SECONDS
    ).stdout

    flow_run = prefect_server.api(f"/flow_runs/{flow_run_id}")
    assert flow_run["state_type"] == "COMPLETED", worker[-4000:]
    assert flow_run["deployment_id"] == deployed["compare"]["id"]

    [artifact] = prefect_server.api(
        "/artifacts/filter",
        {
            "artifacts": {
                "key": {"any_": ["rnn-comparison"]},
                "flow_run_id": {"any_": [flow_run_id]},
            }
        },
    )
    table = artifact["data"] if isinstance(artifact["data"], list) else json.loads(artifact["data"])
    assert [row["model"] for row in table] == ["lstm", "tfidf_logreg", "nbsvm"]
    assert (data_dir / "reports" / "latest" / "report.html").is_file()

    # The first run of a fresh data folder has no champion to beat, so its model is promoted.
    champion_file = data_dir / "models" / "champion" / "champion.json"
    assert champion_file.is_file(), worker[-4000:]
    champion = json.loads(champion_file.read_text(encoding="utf-8"))
    assert champion["architecture"] == "lstm"
    assert flow_run["name"] in champion["run_id"]


def _commented_example() -> dict[str, Any]:
    """The commented "Your own data" deployment of prefect.yaml, uncommented."""
    text = (PROJECT_ROOT / "prefect.yaml").read_text(encoding="utf-8")
    block = text[text.index("  # - name: tickets") :]
    lines = [line.replace("  # ", "  ", 1) for line in block.splitlines() if line.startswith("  #")]
    anchors = text[: text.index("deployments:")]
    document = yaml.safe_load(anchors + "deployments:\n" + "\n".join(lines))
    [deployment] = document["deployments"]
    return deployment


def test_the_commented_own_data_deployment_is_a_valid_deployment_of_the_flow():
    from flows.compare import compare_architectures

    deployment = _commented_example()

    assert deployment["entrypoint"] == "flows/compare.py:compare_architectures"
    assert deployment["work_pool"]["name"] == POOL
    validated = compare_architectures.validate_parameters(deployment["parameters"])
    assert validated["table"].label_column == "queue"
    assert validated["table"].split_column == "split"
    assert validated["preprocess"].drop_test_duplicates is True


def _topics_table(path: Path) -> Path:
    """60 short texts of three topics, with words that tell the topic."""
    words = {
        "sport": "match goal team score",
        "food": "recipe taste dinner salt",
        "tech": "laptop screen battery code",
    }
    lines = ["body,topic"]
    for number in range(20):
        for topic, vocabulary in words.items():
            picked = " ".join(vocabulary.split()[(number + k) % 4] for k in range(3))
            lines.append(f"{picked} note{number},{topic}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.server
@pytest.mark.slow
def test_a_worker_runs_a_deployment_on_a_table_of_three_classes(prefect_server, deployed, tmp_path):
    data_dir = tmp_path / "data"
    parameters = {
        "source": {"source": str(_topics_table(tmp_path / "topics.csv"))},
        "table": {"text_column": "body", "label_column": "topic"},
        "preprocess": {"vocab_size": 40, "maxlen": 8},
        "model": {"embedding_dim": 8, "units": 8},
        "training": {"epochs": 1, "architectures": ["gru"], "batch_size": 8},
        "claims": {"enabled": False},
        "data_dir": str(data_dir),
    }
    created = prefect_server.cli(
        "deployment", "run", f"{FLOW}/compare", "--params", json.dumps(parameters)
    ).stdout
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", created).group(1)

    worker = prefect_server.cli(
        "worker", "start", "--pool", POOL, "--run-once", timeout=WORKER_SECONDS
    ).stdout

    flow_run = prefect_server.api(f"/flow_runs/{flow_run_id}")
    assert flow_run["state_type"] == "COMPLETED", worker[-4000:]
    metrics = json.loads((data_dir / "reports" / "latest" / "metrics.json").read_text())
    # NBSVM is a two-class model: a three-class run compares the GRU with the TF-IDF baseline.
    assert [model["model"] for model in metrics["models"]] == ["gru", "tfidf_logreg"]
    for model in metrics["models"]:
        assert model["classes"] == ["food", "sport", "tech"]
        assert len(model["confusion_matrix"]) == 3
        assert sum(map(sum, model["confusion_matrix"])) == 12  # 20 % of 60 held out
    champion = json.loads((data_dir / "models" / "champion" / "champion.json").read_text())
    assert champion["classes"] == ["food", "sport", "tech"]


@pytest.mark.parametrize(
    ("parameters", "field", "allowed"),
    [
        # The server checks them against the flow's parameter schema and names field and bound.
        (
            {"preprocess": {"maxlen": 0}},
            "'preprocess.maxlen'",
            "less than or equal to the minimum of 0",
        ),
        ({"training": {"epochs": 0}}, "'training.epochs'", "0 is less than the minimum of 1"),
        (
            {"table": {"test_fraction": 1.5}},
            "'table.test_fraction'",
            "1.5 is greater than or equal to the maximum of 1.0",
        ),
        (
            {"preprocess": {"validation_fraction": 1.5}},
            "'preprocess.validation_fraction'",
            "1.5 is greater than or equal to the maximum of 1.0",
        ),
    ],
)
def test_a_deployment_run_with_invalid_parameters_is_refused_before_it_starts(
    prefect_server, deployed, parameters, field, allowed
):
    command = [sys.executable, "-m", "prefect", "deployment", "run", f"{FLOW}/compare"]
    refused = subprocess.run(
        [*command, "--params", json.dumps(parameters)],
        cwd=PROJECT_ROOT,
        env=prefect_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert field in output and allowed in output, output[-3000:]
    runs = prefect_server.api(
        "/flow_runs/filter",
        {"flow_runs": {"deployment_id": {"any_": [deployed["compare"]["id"]]}}},
    )
    assert all(json.dumps(parameters) not in json.dumps(run["parameters"]) for run in runs)

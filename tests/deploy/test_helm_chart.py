"""The Helm chart lints, renders valid Kubernetes objects and carries the worker conventions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

CHART = Path(__file__).resolve().parents[2] / "helm" / "distillguard"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
# Newest Kubernetes the installed kubernetes-validate ships schemas for (1.37 for 1.37.x).
K8S_VERSION = kubernetes_validate.utils.latest_version()
RELEASE = "dg"
NAMESPACE = "detect"


def run_helm(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def render(helm: str, *extra: str) -> list[dict]:
    out = run_helm(
        helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--kube-version", K8S_VERSION, *extra,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def values_args(path: Path | None) -> list[str]:
    return ["-f", str(path)] if path else []


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str) -> dict:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def worker_container(sts: dict) -> dict:
    (c,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "worker"]
    return c


@pytest.fixture(scope="module")
def default_docs(helm_bin):
    return render(helm_bin)


@pytest.fixture(scope="module")
def sasl_docs(helm_bin):
    return render(helm_bin, "-f", str(CHART / "ci" / "sasl-tls-values.yaml"))


@pytest.fixture(scope="module")
def minimal_docs(helm_bin):
    return render(helm_bin, "-f", str(CHART / "ci" / "minimal-values.yaml"))


def test_ci_value_sets_exist():
    names = {p.name for p in CI_VALUES}
    assert {"sasl-tls-values.yaml", "minimal-values.yaml"} <= names


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "default")
def test_lint_strict(helm_bin, values):
    proc = run_helm(
        helm_bin, "lint", "--strict", str(CHART), "--kube-version", K8S_VERSION,
        *values_args(values), check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "default")
def test_rendered_manifests_are_valid_kubernetes(helm_bin, values):
    docs = render(helm_bin, *values_args(values))
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Service", "ConfigMap"} <= kinds
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except SchemaNotFoundError:
            # Only CRDs may lack a built-in schema; they are checked field by field elsewhere.
            assert doc["kind"] == "ServiceMonitor", f"no schema for {doc['apiVersion']} {doc['kind']}"
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} invalid for {K8S_VERSION}: {exc}")


def test_validator_is_not_vacuous(default_docs):
    """A typo in a StatefulSet field must be caught by the same validation call."""
    sts = yaml.safe_load(yaml.safe_dump(one(default_docs, "StatefulSet")))
    sts["spec"]["podManagmentPolicy"] = sts["spec"].pop("podManagementPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, K8S_VERSION, strict=True)


def test_statefulset_defaults(default_docs):
    sts = one(default_docs, "StatefulSet")
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["replicas"] == 2
    headless = [s for s in by_kind(default_docs, "Service") if s["spec"].get("clusterIP") == "None"]
    assert len(headless) == 1
    assert spec["serviceName"] == headless[0]["metadata"]["name"]
    assert headless[0]["spec"]["publishNotReadyAddresses"] is True

    (vct,) = spec["volumeClaimTemplates"]
    assert vct["metadata"]["name"] == "data"
    assert vct["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert vct["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in vct["spec"]  # "" -> cluster default

    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 120
    assert all(v["name"] != "data" for v in pod["volumes"])  # data comes from the PVC template
    c = worker_container(sts)
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/var/lib/distillguard"]["name"] == "data"
    env = env_of(c)
    assert env["DISTILLGUARD_DATA_DIR"]["value"] == "/var/lib/distillguard"
    assert env["DISTILLGUARD_WEB_HOST"]["value"] == "0.0.0.0"  # app default 127.0.0.1: unreachable
    assert "DISTILLGUARD_MODEL_KEY" not in env and "DISTILLGUARD_WEB_TOKEN" not in env
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == "kafka:9092"
    assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "PLAINTEXT"
    assert not any(k.startswith("KAFKA_SASL") or k.startswith("KAFKA_SSL") for k in env)
    # static membership: group.instance.id = pod name
    assert env["DISTILLGUARD_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    # soft anti-affinity by default
    anti = pod["affinity"]["podAntiAffinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" in anti
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti


def test_probes_hit_health_and_ready_on_http_port(default_docs):
    c = worker_container(one(default_docs, "StatefulSet"))
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 6066}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    # unauthenticated endpoints: no Authorization header even with a web token configured
    assert "httpHeaders" not in c["livenessProbe"]["httpGet"]


def test_security_context_non_root_read_only(default_docs):
    sts = one(default_docs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    sc = worker_container(sts)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # read-only root fs needs a writable /tmp
    mounts = {m["mountPath"]: m["name"] for m in worker_container(sts)["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in vols[mounts["/tmp"]]


def test_policy_configmap_is_mounted_and_referenced(default_docs):
    cm = one(default_docs, "ConfigMap")
    policy = yaml.safe_load(cm["data"]["policy.yaml"])
    assert policy["dry_run"] is True  # a fresh install starts advisory-only
    ladder = [r["action"] for r in policy["rules"]]
    assert ladder == ["flag", "throttle", "challenge", "suspend"]

    sts = one(default_docs, "StatefulSet")
    c = worker_container(sts)
    env = env_of(c)
    policy_path = env["DISTILLGUARD_POLICY_FILE"]["value"]
    assert policy_path == "/etc/distillguard/policy.yaml"
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == policy_path)
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    assert mount.get("subPath", "policy.yaml") == "policy.yaml"
    # the pods roll when the policy changes
    assert len(sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]) == 64


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "default")
def test_rendered_policy_loads_in_the_engine(helm_bin, values):
    """The ConfigMap's policy.yaml is accepted by the engine's own loader, with the same rules."""
    from models.policy import Policy

    docs = render(helm_bin, *values_args(values))
    text = one(docs, "ConfigMap")["data"]["policy.yaml"]
    policy = Policy.from_dict(yaml.safe_load(text))
    assert sorted(r.action for r in policy.rules) == sorted(
        r["action"] for r in yaml.safe_load(text)["rules"])
    assert policy.dry_run is yaml.safe_load(text)["dry_run"]


def test_policy_change_changes_checksum(helm_bin, default_docs):
    before = one(default_docs, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    docs = render(helm_bin, "--set", "policy.dry_run=false")
    after = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] != after["checksum/config"]
    assert yaml.safe_load(one(docs, "ConfigMap")["data"]["policy.yaml"])["dry_run"] is False


def test_services_expose_http(default_docs):
    svc = [s for s in by_kind(default_docs, "Service") if s["spec"].get("clusterIP") != "None"]
    assert len(svc) == 1
    (port,) = svc[0]["spec"]["ports"]
    assert port["port"] == 6066 and port["targetPort"] == "http"
    sts = one(default_docs, "StatefulSet")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    for s in by_kind(default_docs, "Service"):
        assert s["spec"]["selector"].items() <= pod_labels.items()


def test_pdb_present_by_default(default_docs):
    pdb = one(default_docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    sts = one(default_docs, "StatefulSet")
    assert pdb["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_optional_objects_off_by_default(default_docs):
    kinds = {d["kind"] for d in default_docs}
    assert "Job" not in kinds
    assert "ServiceMonitor" not in kinds
    assert "ServiceAccount" in kinds


def test_minimal_values(minimal_docs):
    kinds = {d["kind"] for d in minimal_docs}
    assert "PodDisruptionBudget" not in kinds
    assert "ServiceAccount" not in kinds
    sts = one(minimal_docs, "StatefulSet")
    assert sts["spec"]["replicas"] == 1
    assert "volumeClaimTemplates" not in sts["spec"]
    pod = sts["spec"]["template"]["spec"]
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data["emptyDir"]["sizeLimit"] == "2Gi"
    assert pod["serviceAccountName"] == "default"
    assert "affinity" not in pod
    c = worker_container(sts)
    assert c["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert "DISTILLGUARD_GROUP_INSTANCE_ID" not in env_of(c)


def test_sasl_tls_env_from_secrets(sasl_docs):
    sts = one(sasl_docs, "StatefulSet")
    c = worker_container(sts)
    env = env_of(c)
    assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_USERNAME"]["valueFrom"]["secretKeyRef"] == {
        "name": "distillguard-kafka-user", "key": "user"}
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "distillguard-kafka-user", "key": "password"}
    assert "value" not in env["KAFKA_SASL_PASSWORD"]  # never inlined
    assert env["DISTILLGUARD_WEB_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "distillguard-web"
    assert env["DISTILLGUARD_MODEL_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "distillguard-model-key", "key": "hmac"}
    assert env["DISTILLGUARD_DRY_RUN"]["value"] == "false"
    assert env["DISTILLGUARD_EXTRA_FLAG"]["value"] == "1"

    tls_mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/etc/distillguard/tls")
    assert tls_mount["readOnly"] is True
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == tls_mount["name"])
    assert vol["secret"]["secretName"] == "kafka-cluster-ca"
    files = {i["key"]: i["path"] for i in vol["secret"]["items"]}
    assert files == {"ca.crt": "ca.crt", "user.crt": "tls.crt", "user.key": "tls.key"}
    for var, name in [("KAFKA_SSL_CAFILE", "ca.crt"), ("KAFKA_SSL_CERTFILE", "tls.crt"),
                      ("KAFKA_SSL_KEYFILE", "tls.key")]:
        assert env[var]["value"] == f"/etc/distillguard/tls/{name}"

    (vct,) = sts["spec"]["volumeClaimTemplates"]
    assert vct["spec"]["storageClassName"] == "fast-ssd"
    assert vct["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_topics_job_is_a_hook_with_same_kafka_settings(sasl_docs):
    job = one(sasl_docs, "Job")
    ann = job["metadata"]["annotations"]
    assert set(ann["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
    assert set(ann["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"}
    assert job["spec"]["backoffLimit"] == 10
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    (c,) = pod["containers"]
    assert c["args"] == ["create-topics"]
    worker = worker_container(one(sasl_docs, "StatefulSet"))
    assert c["image"] == worker["image"]
    job_env, worker_env = env_of(c), env_of(worker)
    for name in ["KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                 "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CAFILE",
                 "DISTILLGUARD_TOPIC_PARTITIONS", "DISTILLGUARD_REPLICATION_FACTOR"]:
        assert job_env[name] == worker_env[name], name
    assert job_env["DISTILLGUARD_TOPIC_PARTITIONS"]["value"] == "12"
    assert any(m["mountPath"] == "/etc/distillguard/tls" for m in c["volumeMounts"])
    assert c["securityContext"]["runAsNonRoot"] is True


def test_service_monitor(sasl_docs):
    sm = one(sasl_docs, "ServiceMonitor")  # CRD: no built-in schema, so check its key fields
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (ep,) = sm["spec"]["endpoints"]
    assert ep["port"] == "http" and ep["path"] == "/metrics" and ep["interval"] == "15s"
    assert ep["authorization"]["credentials"] == {"name": "distillguard-web", "key": "token"}
    # selects exactly the ClusterIP Service (not the headless one: no double scrape)
    def selected(svc):
        labels = svc["metadata"]["labels"]
        if not sm["spec"]["selector"]["matchLabels"].items() <= labels.items():
            return False
        return all(e["key"] not in labels for e in sm["spec"]["selector"].get("matchExpressions", [])
                   if e["operator"] == "DoesNotExist")
    chosen = [s for s in by_kind(sasl_docs, "Service") if selected(s)]
    assert len(chosen) == 1 and chosen[0]["spec"].get("clusterIP") != "None"
    assert any(p["name"] == ep["port"] for p in chosen[0]["spec"]["ports"])


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--set", "replicas=two"], "replicas"),
        (["--set", "replicaCount=2"], "replicaCount"),  # unknown top-level key (typo)
        (["--set", "image.repo=x"], "repo"),
        (["--set", "kafka.securityProtocol=SASL"], "securityProtocol"),
        (["--set", "persistence.sise=1Gi"], "sise"),
        (["--set", "policy.rules[0].action=ban"], "action"),
        (["--set", "policy.rules[0].min_severty=high"], "min_severty"),
    ],
    ids=["replicas-string", "unknown-top-level", "unknown-image-key", "bad-protocol",
         "unknown-persistence-key", "bad-action", "policy-typo"],
)
def test_schema_rejects_bad_values(helm_bin, bad, message):
    for cmd in (["template", RELEASE], ["lint", "--strict"]):
        proc = run_helm(helm_bin, *cmd, str(CHART), "--kube-version", K8S_VERSION, *bad, check=False)
        assert proc.returncode != 0, f"helm {cmd[0]} accepted {bad}"
        assert message in proc.stdout + proc.stderr


def test_sasl_without_secret_fails_with_message(helm_bin):
    proc = run_helm(helm_bin, "template", RELEASE, str(CHART), "--kube-version", K8S_VERSION,
                    "--set", "kafka.securityProtocol=SASL_SSL", check=False)
    assert proc.returncode != 0
    assert "kafka.auth.existingSecret" in proc.stderr


def test_kube_version_constraint(helm_bin):
    proc = run_helm(helm_bin, "template", RELEASE, str(CHART), "--kube-version", "1.22.0", check=False)
    assert proc.returncode != 0
    assert "kubeVersion" in proc.stderr or "incompatible" in proc.stderr


def test_readme_documents_every_value():
    """Every value of values.yaml appears in the chart README's table (free-form Kubernetes
    objects such as `resources` are documented as a whole)."""
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    free_form = {"policy.", "resources.", "topicsJob.resources.", "podSecurityContext.",
                 "securityContext.", "updateStrategy."}

    def leaves(node, prefix=""):
        if isinstance(node, dict) and node and prefix not in free_form:
            for k, v in node.items():
                yield from leaves(v, f"{prefix}{k}.")
        else:
            yield prefix.rstrip(".")

    missing = [k for k in leaves(values) if f"`{k}`" not in readme]
    assert not missing, f"undocumented values: {missing}"


def render_notes(helm: str, tmp_path: Path, *extra: str) -> str:
    """NOTES.txt as `helm install` would print it (helm template does not render it)."""
    import shutil

    chart = tmp_path / "distillguard"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "NOTES.txt").rename(chart / "notes.txt")
    (chart / "templates" / "zz-notes.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\n'
        'data:\n  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n')
    out = run_helm(helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE,
                   "--kube-version", K8S_VERSION, "--show-only", "templates/zz-notes.yaml", *extra).stdout
    return yaml.safe_load(out)["data"]["notes"]


def test_notes_explain_how_to_reach_the_worker(helm_bin, tmp_path, default_docs):
    notes = render_notes(helm_bin, tmp_path)
    svc = next(s for s in by_kind(default_docs, "Service") if s["spec"].get("clusterIP") != "None")
    sts = one(default_docs, "StatefulSet")
    assert f"port-forward svc/{svc['metadata']['name']} 6066:6066" in notes
    assert "/ready" in notes and "/accounts/" in notes and "/metrics" in notes
    assert f"rollout status statefulset/{sts['metadata']['name']}" in notes
    assert f"exec -it {sts['metadata']['name']}-0 -- distillguard alerts" in notes
    assert "create-topics" in notes  # topics job off: tells how to create topics
    assert "DRY-RUN" in notes
    assert "Authorization" not in notes


def test_notes_with_web_token(helm_bin, tmp_path):
    notes = render_notes(helm_bin, tmp_path, "-f", str(CHART / "ci" / "sasl-tls-values.yaml"))
    assert 'Authorization: Bearer $TOKEN' in notes
    assert "get secret distillguard-web" in notes
    assert "DRY-RUN" not in notes  # config.dryRun=false overrides policy.dry_run

"""deploy/ and the operator tooling: IAM policies allow exactly what the code calls, the
systemd unit verifies, the container definition builds with the Makefile and runs as non-root,
the EventBridge rule follows what the handlers follow, and the HTML report renders in a real
headless Chromium."""
import glob
import json
import os
import re
import shutil
import sys
import subprocess

import botocore.session
import pytest
from conftest import BINARY, ROOT
from fleet import guide_example

POLICY = os.path.join(ROOT, "tests", "policies", "canonical.json")


def actions_the_code_can_call():
    """Every string literal in the product's C sources that is an EC2, SSM or STS operation.
    ratelimit.c is left out: it names actions to classify them, not to call them."""
    session = botocore.session.get_session()
    ops = {svc: set(session.get_service_model(svc).operation_names) for svc in ("ec2", "ssm", "sts")}
    literals = set()
    for f in glob.glob(os.path.join(ROOT, "controller", "*.c")) + \
            glob.glob(os.path.join(ROOT, "reconcile", "*.c")):
        if os.path.basename(f) == "ratelimit.c":
            continue
        literals |= set(re.findall(r'"([A-Z][A-Za-z0-9]+)"', open(f).read()))
    return {f"{svc}:{op}" for svc, names in ops.items() for op in literals & names}


def policy_statements(path):
    return json.load(open(os.path.join(ROOT, "deploy", "iam", path)))["Statement"]


def policy_actions(*paths):
    out = set()
    for path in paths:
        for st in policy_statements(path):
            assert st["Effect"] == "Allow"
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert not any("*" in a for a in acts), "no wildcards: least privilege"
            out |= set(acts)
    return out


def statement_with(path, action):
    return [st for st in policy_statements(path) if action in st["Action"]]


def test_iam_policies_allow_exactly_what_the_code_calls():
    called = actions_the_code_can_call()
    assert {"ec2:AssociateVpcCidrBlock", "ec2:DescribeVpcs", "ssm:SendCommand",
            "sts:AssumeRole", "sts:GetCallerIdentity"} <= called  # real calls are found
    # AssumeRoleWithWebIdentity is granted by the role's trust policy, not by an IAM policy
    web_identity = {"sts:AssumeRoleWithWebIdentity"}
    ssm = {a for a in called if a.startswith("ssm:")}
    member = {a for a in called if not a.startswith(("sts:", "ssm:"))}
    assert policy_actions("member-role-policy.json") == member
    assert policy_actions("controller-role-policy.json") == called - web_identity - ssm
    assert policy_actions("guest-config-policy.json") == ssm  # only with guest_config: ssm


def test_iam_conditions_hold_under_compromise():
    for path in ("member-role-policy.json", "controller-role-policy.json"):
        for action in ("ec2:CreateTags", "ec2:DeleteTags"):
            (st,) = statement_with(path, action)
            assert st["Condition"] == {"ForAllValues:StringLike": {"aws:TagKeys": ["dualstack:*"]}}
        for action in ("ec2:ModifyInstanceAttribute", "ec2:StopInstances", "ec2:StartInstances"):
            (st,) = statement_with(path, action)
            assert st["Resource"] == "arn:aws:ec2:*:*:instance/*"
            assert st["Condition"] == {
                "StringLike": {"aws:ResourceTag/dualstack:resize-from": "*"}}
        assert not statement_with(path, "ssm:SendCommand")
    (send,) = statement_with("guest-config-policy.json", "ssm:SendCommand")
    docs = {r for r in send["Resource"] if ":document/" in r}
    assert docs == {"arn:aws:ssm:*::document/AWS-RunShellScript",
                    "arn:aws:ssm:*::document/AWS-RunPowerShellScript"}
    # the documents the code sends are exactly those
    guest = open(os.path.join(ROOT, "reconcile", "guest.c")).read()
    assert set(re.findall(r'"(AWS-Run\w+)"', guest)) == {d.rsplit("/", 1)[1] for d in docs}
    (trust,) = policy_statements("member-role-trust-policy.json")
    assert set(trust["Condition"]["StringEquals"]) == {"aws:PrincipalOrgID", "sts:ExternalId"}
    # the tag keys the code writes all fit dualstack:*
    plan_h = open(os.path.join(ROOT, "reconcile", "plan.h")).read()
    for key in re.findall(r'#define TAG_\w+\s+"([^"]+)"', plan_h):
        assert key.startswith("dualstack:"), key


def test_the_binary_parses_json_with_debians_cjson():
    """librdkafka (linked statically) carries a cJSON of its own; deploy/librdkafka.sh gives its
    symbols a prefix, so dualstackd's JSON goes through Debian's libcjson (apt's security
    updates reach it) and librdkafka's start-up cannot change that library's allocation hooks.
    (Before, every cJSON_* call bound to librdkafka's bundled 1.7.14 copy.)"""
    defined = subprocess.run(["nm", "--defined-only", BINARY], capture_output=True, text=True,
                             check=True).stdout
    # (librdkafka's copy keeps local aliases, "t cJSON_Delete.localalias": nothing binds to them)
    assert not re.search(r" [TW] cJSON_", defined), "a cJSON's symbols are the binary's own"
    assert re.search(r" [Tt] rdk_cJSON_Parse", defined)  # librdkafka's own, private copy
    needed = subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True).stdout
    assert "libcjson.so" in needed, needed
    wanted = subprocess.run(["nm", "-D", "--undefined-only", BINARY], capture_output=True,
                            text=True, check=True).stdout
    assert "cJSON_ParseWithLengthOpts" in wanted and "cJSON_InitHooks" in wanted


def test_the_dashboard_shows_only_metrics_the_daemon_has():
    """Every series the Grafana dashboard queries is one the daemon registers: a renamed metric
    would otherwise leave an empty panel nobody notices until an incident."""
    dash = json.load(open(os.path.join(ROOT, "deploy", "grafana", "dualstackd-dashboard.json")))
    queried = {re.sub(r"_(bucket|sum|count)$", "", m) for p in dash["panels"]
               for t in p.get("targets", []) for m in re.findall(r"dualstackd_[a-z0-9_]+",
                                                               t["expr"])}
    source = "".join(open(f).read() for f in glob.glob(os.path.join(ROOT, "controller", "*.c")))
    registered = set(re.findall(r'"(dualstackd_[a-z0-9_]+)"', source))
    assert queried and queried <= registered, queried - registered
    assert {"dualstackd_credentials_refresh_failing", "dualstackd_halted"} <= queried


def test_systemd_unit_verifies(tmp_path):
    unit = open(os.path.join(ROOT, "deploy", "systemd", "dualstackd.service")).read()
    assert "DynamicUser=yes" in unit and "NoNewPrivileges=yes" in unit
    assert "ProtectSystem=strict" in unit and "ReadOnlyPaths=/etc/dualstackd" in unit
    # verify needs the binary it starts: point the copy at the one just built
    path = tmp_path / "dualstackd.service"
    path.write_text(unit.replace("/usr/local/bin/dualstackd", BINARY))
    env = dict(os.environ, MANPATH=os.path.join(ROOT, "docs", "man"))
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr


def make(*args, **kw):
    return subprocess.run(["make", "--no-print-directory", "-C", ROOT, *args],
                          capture_output=True, text=True, timeout=600, **kw)


def test_make_install_puts_everything_where_the_unit_says_and_keeps_existing_config(tmp_path):
    dest, prefix, etc = str(tmp_path), "/opt/ds", "/opt/ds/etc"
    args = [f"DESTDIR={dest}", f"PREFIX={prefix}", f"SYSCONFDIR={etc}"]
    r = make("install", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    root = lambda p: dest + p  # noqa: E731
    assert os.access(root("/opt/ds/bin/dualstackd"), os.X_OK)
    assert os.path.exists(root("/opt/ds/share/man/man1/dualstackd.1"))
    unit = open(root("/opt/ds/lib/systemd/system/dualstackd.service")).read()
    assert "ExecStart=/opt/ds/bin/dualstackd run --config /opt/ds/etc/dualstackd/config.yaml" \
        in unit
    assert "ReadOnlyPaths=/opt/ds/etc/dualstackd" in unit
    config = root("/opt/ds/etc/dualstackd/config.yaml")
    assert oct(os.stat(config).st_mode & 0o777) == "0o640"
    assert "policy: /opt/ds/etc/dualstackd/policy.yaml" in open(config).read()
    # the installed pair is valid as it is (policy path pointed at the staged copy)
    staged = tmp_path / "check.yaml"
    staged.write_text(open(config).read().replace("/opt/ds/etc", dest + "/opt/ds/etc"))
    r = subprocess.run([root("/opt/ds/bin/dualstackd"), "run", "--config", str(staged),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0 and "mode dry-run" in r.stdout, r.stdout + r.stderr
    # an operator's edit survives a second install; uninstall leaves the configuration
    with open(config, "a") as f:
        f.write("# mine\n")
    r = make("install", *args)
    assert r.returncode == 0 and "kept" in r.stdout
    assert open(config).read().endswith("# mine\n")
    r = make("uninstall", *args)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(root("/opt/ds/bin/dualstackd"))
    assert not os.path.exists(root("/opt/ds/lib/systemd/system/dualstackd.service"))
    assert os.path.exists(config)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("dpkg"),
                    reason="installing a package needs root and dpkg (CI has both)")
def test_debian_package_installs_a_user_an_enabled_unit_and_conffiles():
    r = make("deb")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    deb = re.search(r"built (\S+\.deb)", r.stdout).group(1)
    subprocess.run(["dpkg", "--purge", "dualstackd"], capture_output=True)
    try:
        r = subprocess.run(["dpkg", "-i", os.path.join(ROOT, deb)], capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        out = subprocess.run(["/usr/bin/dualstackd", "--version"], capture_output=True,
                             text=True)
        version = open(os.path.join(ROOT, "VERSION")).read().strip()
        assert out.returncode == 0 and out.stdout.startswith(f"dualstackd {version} (commit ")
        files = subprocess.run(["dpkg", "-L", "dualstackd"], capture_output=True,
                               text=True).stdout.split()
        for f in ("/usr/bin/dualstackd", "/usr/share/man/man1/dualstackd.1.gz",
                  "/lib/systemd/system/dualstackd.service", "/etc/dualstackd/config.yaml",
                  "/etc/dualstackd/policy.yaml"):
            assert f in files, f
        assert subprocess.run(["getent", "passwd", "dualstackd"]).returncode == 0
        st = os.stat("/etc/dualstackd/config.yaml")
        import grp
        assert grp.getgrgid(st.st_gid).gr_name == "dualstackd" and st.st_mode & 0o777 == 0o640
        # enabled, not started
        assert os.path.islink("/etc/systemd/system/multi-user.target.wants/dualstackd.service")
        r = subprocess.run(["systemd-analyze", "verify", "/lib/systemd/system/dualstackd.service"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "dualstackd"],
                                   capture_output=True, text=True).stdout
        assert "/etc/dualstackd/config.yaml" in conffiles
    finally:
        subprocess.run(["dpkg", "--purge", "dualstackd"], capture_output=True)
    assert not os.path.exists("/usr/bin/dualstackd")


K8S = os.path.join(ROOT, "deploy", "kubernetes")
K8S_VERSIONS = ("1.29.0", "1.31.0", "1.34.0")  # what EKS supports as of this writing


def k8s_docs():
    import yaml
    kust = yaml.safe_load(open(os.path.join(K8S, "kustomization.yaml")))
    return {name: yaml.safe_load(open(os.path.join(K8S, name))) for name in kust["resources"]}


def test_kubernetes_manifests_validate_offline_and_hold_together(tmp_path):
    """Every manifest of the kustomization against the Kubernetes schemas (strict: unknown
    fields are errors), offline; and what ties them together: probes on /healthz and /readyz,
    a grace period above revoke_timeout_s, IRSA, the policy mounted as a directory (a subPath
    mount never sees ConfigMap updates) and reloaded, the config and policy themselves valid."""
    import kubernetes_validate
    docs = k8s_docs()
    for version in K8S_VERSIONS:
        for name, doc in docs.items():
            kubernetes_validate.validate(doc, version, strict=True)
    # the validator does reject: a misspelled field
    bad = json.loads(json.dumps(docs["deployment.yaml"]))
    bad["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[-1], strict=True)

    dep = docs["deployment.yaml"]["spec"]["template"]
    (c,) = dep["spec"]["containers"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["securityContext"]["readOnlyRootFilesystem"] and dep["spec"]["securityContext"][
        "runAsNonRoot"]
    assert dep["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    sa = docs["serviceaccount.yaml"]
    assert dep["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert docs["poddisruptionbudget.yaml"]["spec"]["maxUnavailable"] == 1
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert all("subPath" not in m for m in mounts.values())
    import yaml
    config = yaml.safe_load(docs["config-secret.yaml"]["stringData"]["config.yaml"])
    assert dep["spec"]["terminationGracePeriodSeconds"] > config["revoke_timeout_s"]
    assert config["watch_policy"] is True and config["listen"].startswith("[::]:")
    assert config["policy"].startswith(mounts["policy"]["mountPath"] + "/")
    assert c["args"][-1].startswith(mounts["config"]["mountPath"] + "/")
    # the ConfigMap's policy and the Secret's config load as the daemon loads them
    policy = tmp_path / "policy.yaml"
    policy.write_text(docs["policy-configmap.yaml"]["data"]["policy.yaml"])
    config["policy"] = str(policy)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    r = subprocess.run([BINARY, "run", "--config", str(cfg), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_container_definition_builds_with_the_makefile_and_runs_as_non_root():
    text = open(os.path.join(ROOT, "deploy", "Containerfile")).read()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].split()[2] == "build"
    assert re.search(r"^RUN .*\n?.*make .*dualstackd", stages[0], re.M)
    assert "COPY --from=build /src/dualstackd" in stages[1]
    user = re.search(r"^USER (\S+)", stages[1], re.M).group(1)
    assert user.split(":")[0] not in ("0", "root")


def test_eventbridge_rule_follows_what_the_handlers_follow():
    src = open(os.path.join(ROOT, "handlers", "ev_cloudtrail.c")).read()
    table = src[src.index("followed[] = {"):src.index("};", src.index("followed[] = {"))]
    followed = set(re.findall(r'"([A-Za-z0-9]+)"', table))
    rule = json.load(open(os.path.join(ROOT, "deploy", "eventbridge", "ec2-events-rule.json")))
    names = next(o["detail"]["eventName"] for o in rule["$or"] if "eventName" in o["detail"])
    assert set(names) == followed


def normalise(text):
    """Ids and action numbers differ per run (and so does the order of route tables)."""
    text = re.sub(r"\b(vpc|subnet|rtb|igw|sg|eni|i|acl|nat|eigw)-[0-9a-f]+", r"\1-X", text)
    text = re.sub(r"^\s*\d+\. ", "", text)
    text = re.sub(r" \(in \d+'s request\)$", " (in N's request)", text)
    return re.sub(r" \[after [0-9,]+\]$", "", text)


def test_readme_walkthrough_output_is_what_plan_prints(moto):
    """The README's walkthrough shows `dualstackd plan` on the guide's example: every line it
    shows must come out of the real command."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    block = readme[readme.index("### Walkthrough"):]
    block = block[block.index("```\n") + 4:]
    shown = [line for line in block[:block.index("```")].splitlines() if line.strip() != "..."]
    assert len(shown) >= 10
    ids = guide_example(moto.client())
    out = subprocess.run([BINARY, "plan", "--policy", POLICY, "--vpc", ids["vpc"]],
                         env=moto.env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = {normalise(line) for line in out.stdout.splitlines()}
    for line in shown:
        assert normalise(line) in got, f"README line not printed: {line}"


def test_demo_runs_as_the_readme_says():
    """The README's first command, minus the dependency install that CI has already done."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "demo.py")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "converged" in r.stdout and "mutating calls: 0" in r.stdout

#!/usr/bin/env python3
"""The container image and the Fargate deployment of docker/, checked for
real. One ctest entry per case (tests/CMakeLists.txt); `--list` prints each
case with its kind:

  static  reads docker/ only: the IAM policies, the task definitions
  moto    deploys docker/cloudformation.yaml into moto_server
  image   builds docker/Dockerfile with podman (the fixture the others need)
  podman  runs the image with podman against moto_server and the fake Twitter
          stream (tests/stream/fake_stream.py) on the host's 127.0.0.1

The running container gets the environment of docker/task-definition.json
(the original example's), the secrets as plain variables as ECS injects them,
and only these for the test's own services: STREAM_URL, the DynamoDB endpoint,
and the task role's credentials from a credentials endpoint like the one ECS
gives a task (AWS_CONTAINER_CREDENTIALS_FULL_URI standing in for ECS's
relative URI, whose address cannot be had here). See harness.py for podman.
"""
import ast
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "stream"))
sys.path.insert(0, os.path.join(HERE, "..", "ddb"))
import harness  # noqa: E402
from harness import DOCKER, IMAGE, Fail, check, eq, fill, log, task_definition  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
V1_PATH = "/1.1/statuses/filter.json"
V2_PATH = "/2/tweets/search/stream"

# Made-up secrets, distinctive so that a leak is found by grep.
TWITTER = {
    "CONSUMERKEY": "ctrCK-9fQ2xLw4Rt8-consumer",
    "CONSUMERSECRETKEY": "ctrCS-Xx7/secret+Value=ZZ",
    "ACCESSTOKEN": "ctrAT-1200000000-AbCdEfToken",
    "ACCESSTOKENSECRET": "ctrATS-Qq/secret+token=YY",
}
BEARER = "ctrBEARER-AAAAAAAAAAAAAAAAAAAAA%2Fsecret%3Dbearer"
TASK_KEY, TASK_SECRET = "ASIACONTAINERTEST001", "CtrTaskRoleSecret/abc+DEF0000000000000001"
TASK_TOKEN, ECS_AUTH = "CtrSessionToken//////////SECRETtoken+zz=", "CtrEcsAuthToken-SECRET-0001"
SECRETS = list(TWITTER.values()) + [BEARER, TASK_SECRET, TASK_TOKEN, ECS_AUTH]

# What the original example's task definition says (mreferre/
# fargate-secrets-management-example, twitterstream-task.json): kept as is.
ORIGINAL = {
    "family": "twitterstream", "container": "twitterstream", "cpu": "256", "memory": "512",
    "executionRoleArn": "arn:aws:iam::AWSACCOUNT:role/twitterstream-task-execution-role",
    "taskRoleArn": "arn:aws:iam::AWSACCOUNT:role/twitterstream-task-role",
    "image": "AWSACCOUNT.dkr.ecr.DEPLOYMENTREGION.amazonaws.com/twitterstream:latest",
    "environment": {"DYNAMODBTABLE": "twitterStream", "AWSREGION": "DEPLOYMENTREGION", "FILTER": "Amazon"},
    "secrets": {"CONSUMERKEY": "arn-CONSUMERKEY", "CONSUMERSECRETKEY": "arn-CONSUMERSECRETKEY",
                "ACCESSTOKEN": "arn-BASEACCESSTOKEN", "ACCESSTOKENSECRET": "arn-ACCESSTOKENSECRET"},
    "logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "twitterstream", "awslogs-region": "DEPLOYMENTREGION",
        "awslogs-stream-prefix": "twitterstream"}},
    "table_keys": [("user", "HASH"), ("date", "RANGE")],
}
HEALTH_COMMAND = ["CMD", "tweetmatch", "health"]


def secret_arn(name):
    return "arn:aws:secretsmanager:%s:%s:secret:%s-AbC123" % (REGION, ACCOUNT, name)


# The placeholders of docker/, as in the original example: the task
# definitions say DEPLOYMENTREGION, the IAM policies REGION (which must not be
# replaced in a task definition: AWSREGION holds it).
SECRET_PLACEHOLDERS = {
    "arn-CONSUMERKEY": secret_arn("CONSUMERKEY"), "arn-CONSUMERSECRETKEY": secret_arn("CONSUMERSECRETKEY"),
    "arn-BASEACCESSTOKEN": secret_arn("ACCESSTOKEN"), "arn-ACCESSTOKENSECRET": secret_arn("ACCESSTOKENSECRET"),
    "arn-BEARERTOKEN": secret_arn("BEARERTOKEN"),
}
TD_PLACEHOLDERS = dict(SECRET_PLACEHOLDERS, AWSACCOUNT=ACCOUNT, DEPLOYMENTREGION=REGION)
IAM_PLACEHOLDERS = dict(SECRET_PLACEHOLDERS, AWSACCOUNT=ACCOUNT, REGION=REGION)


def filled(doc):
    """A task definition with the placeholders replaced."""
    return json.loads(fill(json.dumps(doc), TD_PLACEHOLDERS))


# ---- IAM ----

# Everything a role may do, and on what (placeholders as in docker/iam/).
TASK_ROLE_GRANTS = {
    ("dynamodb:BatchWriteItem", "arn:aws:dynamodb:REGION:AWSACCOUNT:table/twitterStream"),
    ("dynamodb:DeleteItem", "arn:aws:dynamodb:REGION:AWSACCOUNT:table/twitterStream"),
    ("dynamodb:DescribeTable", "arn:aws:dynamodb:REGION:AWSACCOUNT:table/twitterStream"),
    ("dynamodb:PutItem", "arn:aws:dynamodb:REGION:AWSACCOUNT:table/twitterStream"),
}
ECR_REPO = "arn:aws:ecr:REGION:AWSACCOUNT:repository/twitterstream"
LOG_GROUP = "arn:aws:logs:REGION:AWSACCOUNT:log-group:twitterstream:*"
EXECUTION_COMMON = {("ecr:GetAuthorizationToken", "*"), ("ecr:BatchCheckLayerAvailability", ECR_REPO),
                    ("ecr:GetDownloadUrlForLayer", ECR_REPO), ("ecr:BatchGetImage", ECR_REPO),
                    ("logs:CreateLogStream", LOG_GROUP), ("logs:PutLogEvents", LOG_GROUP)}
EXECUTION_V1_GRANTS = EXECUTION_COMMON | {("secretsmanager:GetSecretValue", a) for a in (
    "arn-CONSUMERKEY", "arn-CONSUMERSECRETKEY", "arn-BASEACCESSTOKEN", "arn-ACCESSTOKENSECRET")}
EXECUTION_V2_GRANTS = EXECUTION_COMMON | {("secretsmanager:GetSecretValue", "arn-BEARERTOKEN")}
POLICIES = {
    "twitterstream-iam-policy-task-role.json": TASK_ROLE_GRANTS,
    "twitterstream-iam-policy-task-execution-role.json": EXECUTION_V1_GRANTS,
    "twitterstream-iam-policy-task-execution-role-v2.json": EXECUTION_V2_GRANTS,
}
TRUST = ["ecs-task-role-trust-policy.json", "ecs-task-execution-role-trust-policy.json"]


def as_list(v):
    return v if isinstance(v, list) else [v]


def grants(doc, what):
    """The (action, resource) pairs a permission policy allows. Anything
    that could grant more than it spells out fails: Deny-less NotAction or
    NotResource, wildcards in actions, conditions that are not there."""
    check(isinstance(doc, dict) and doc.get("Version") == "2012-10-17", what + ": Version must be 2012-10-17", doc)
    check(set(doc) <= {"Version", "Statement"}, what + ": unexpected top-level keys", sorted(doc))
    out = set()
    sids = set()
    for st in as_list(doc["Statement"]):
        check(set(st) <= {"Sid", "Effect", "Action", "Resource"}, what + ": a statement may only have Sid, Effect, "
              "Action and Resource (no NotAction, NotResource, Principal or Condition)", st)
        eq(st.get("Effect"), "Allow", what + ": Effect")
        if "Sid" in st:
            check(st["Sid"] not in sids, what + ": two statements with Sid " + st["Sid"])
            sids.add(st["Sid"])
        for a in as_list(st["Action"]):
            check("*" not in a and "?" not in a, what + ": a wildcard action", a)
            for r in as_list(st["Resource"]):
                check(r == "*" or ("*" not in r.rsplit(":", 1)[0] and not r.endswith("/*")),
                      what + ": a resource wildcard wider than a log group's streams", r)
                out.add((a, r))
    return out


def case_policies():
    """docker/iam/: valid JSON; each permission policy grants exactly its
    list and nothing beyond it ("*" only for ecr:GetAuthorizationToken,
    which has no resource); the trust policies let only ECS tasks assume the
    roles. The policies agree with the task definitions (the secrets ECS
    reads, the log group, the table)."""
    iam_dir = os.path.join(DOCKER, "iam")
    names = sorted(os.listdir(iam_dir))
    eq(names, sorted(list(POLICIES) + TRUST), "the files in docker/iam/")
    for name, want in POLICIES.items():
        with open(os.path.join(iam_dir, name), encoding="utf-8") as f:
            try:
                doc = json.load(f)
            except ValueError as e:
                raise Fail("%s is not valid JSON: %s" % (name, e))
        got = grants(doc, name)
        extra, missing = got - want, want - got
        check(not extra, name + ": grants beyond the list", sorted(extra))
        check(not missing, name + ": misses grants the task needs", sorted(missing))
        star = {a for a, r in got if r == "*"}
        eq(star, {"ecr:GetAuthorizationToken"} if "execution" in name else set(), name + ": actions on \"*\"")
    for name in TRUST:
        with open(os.path.join(iam_dir, name), encoding="utf-8") as f:
            doc = json.load(f)
        for st in as_list(doc["Statement"]):
            eq((st["Effect"], st["Principal"], st["Action"]),
               ("Allow", {"Service": "ecs-tasks.amazonaws.com"}, "sts:AssumeRole"), name)
    task_role = json.load(open(os.path.join(iam_dir, TRUST[0])))["Statement"][0]
    eq(task_role.get("Condition"), {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:REGION:AWSACCOUNT:*"},
                                    "StringEquals": {"aws:SourceAccount": "AWSACCOUNT"}},
       "the task role's trust condition (only this account's ECS tasks)")
    # The policies and the task definitions name the same things.
    for td_name, policy in (("task-definition.json", "twitterstream-iam-policy-task-execution-role.json"),
                            ("task-definition-v2.json", "twitterstream-iam-policy-task-execution-role-v2.json")):
        c = task_definition(td_name)["containerDefinitions"][0]
        secrets = {s["valueFrom"] for s in c["secrets"]}
        readable = {r for a, r in POLICIES[policy] if a == "secretsmanager:GetSecretValue"}
        eq(readable, secrets, policy + ": the secrets it reads are those of " + td_name)
        group = c["logConfiguration"]["options"]["awslogs-group"]
        eq(LOG_GROUP, "arn:aws:logs:REGION:AWSACCOUNT:log-group:%s:*" % group, "the log group of " + td_name)
        env = {e["name"]: e["value"] for e in c["environment"]}
        check(all(r.endswith(":table/" + env["DYNAMODBTABLE"]) for _, r in TASK_ROLE_GRANTS),
              "the task role's table is the task definition's DYNAMODBTABLE")
        check(all(r.endswith(":repository/" + c["image"].split("/", 1)[1].split(":")[0])
                  for _, r in EXECUTION_COMMON if r == ECR_REPO), "the ECR repository of the image")
    log("docker/iam: %d policies, each granting exactly its list" % len(POLICIES))


def case_task_definitions():
    """docker/task-definition.json is the original example's task
    definition (same family, names, roles, image, environment, secrets, log
    configuration, size), plus MATCHER_SCRIPT, the health check (the image's
    HEALTHCHECK command) and a stopTimeout longer than the daemon's shutdown
    deadline. docker/task-definition-v2.json differs only in its secret:
    BEARERTOKEN."""
    for name in ("task-definition.json", "task-definition-v2.json"):
        td = task_definition(name)
        for k in ("family", "cpu", "memory", "executionRoleArn", "taskRoleArn"):
            eq(td[k], ORIGINAL[k], "%s: %s" % (name, k))
        eq((td["networkMode"], td["requiresCompatibilities"]), ("awsvpc", ["FARGATE"]), name + ": Fargate")
        eq(len(td["containerDefinitions"]), 1, name + ": containers")
        c = td["containerDefinitions"][0]
        eq((c["name"], c["image"], c["essential"]), (ORIGINAL["container"], ORIGINAL["image"], True),
           name + ": the container")
        env = {e["name"]: e["value"] for e in c["environment"]}
        want_env = dict(ORIGINAL["environment"], MATCHER_SCRIPT="/rules/rule.lua")
        eq(env, want_env, name + ": environment (the original's, plus MATCHER_SCRIPT)")
        eq(c["logConfiguration"], ORIGINAL["logConfiguration"], name + ": logConfiguration")
        secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
        eq(secrets, ORIGINAL["secrets"] if name == "task-definition.json" else {"BEARERTOKEN": "arn-BEARERTOKEN"},
           name + ": secrets")
        hc = c["healthCheck"]
        eq(hc["command"], HEALTH_COMMAND, name + ": healthCheck command")
        check(hc["interval"] >= 5 and hc["timeout"] >= 2 and hc["startPeriod"] >= 30, name + ": healthCheck times",
              hc)
        check(25 < c["stopTimeout"] <= 120, name + ": stopTimeout must exceed the shutdown deadline (25 s) and "
              "be at most Fargate's 120 s", c["stopTimeout"])
        check(set(c) <= {"name", "image", "essential", "environment", "secrets", "healthCheck", "stopTimeout",
                         "logConfiguration"}, name + ": unexpected container settings", sorted(c))
    v1, v2 = task_definition("task-definition.json"), task_definition("task-definition-v2.json")
    for d in (v1, v2):
        d["containerDefinitions"][0].pop("secrets")
    eq(v2, v1, "task-definition-v2.json differs from task-definition.json in more than its secrets")
    log("task definitions: the original's names and environment, plus MATCHER_SCRIPT, healthCheck, stopTimeout")


# ---- CloudFormation into moto ----

def policy_doc(raw):
    """moto returns an inline policy set by CloudFormation as a Python repr."""
    if isinstance(raw, dict):
        return raw
    raw = urllib.parse.unquote(raw) if raw.startswith("%7B") else raw
    try:
        return json.loads(raw)
    except ValueError:
        return ast.literal_eval(raw)


def normal(doc):
    """A policy document with each Action and Resource as a sorted list."""
    doc = json.loads(json.dumps(doc))
    for st in as_list(doc["Statement"]):
        for k in ("Action", "Resource"):
            if k in st:
                st[k] = sorted(as_list(st[k]))
    return doc


def deploy(bearer):
    """Deploys docker/cloudformation.yaml into a fresh moto_server, with the
    README's `aws cloudformation deploy` when the AWS CLI is there (else
    boto3's create_stack), and checks what it made."""
    try:
        import boto3
    except ImportError:
        raise Fail("boto3 is missing: the CloudFormation case talks to moto_server with it (pip install "
                   "'moto[server]' brings both)")
    from moto_ctl import Moto
    params = {"Subnets": "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
              "SecurityGroups": "sg-0a1b2c3d4e5f60001", "Filter": "Amazon"}
    if bearer:
        params["BearerTokenSecretArn"] = secret_arn("BEARERTOKEN")
    else:
        params.update(ConsumerKeySecretArn=secret_arn("CONSUMERKEY"),
                      ConsumerSecretKeySecretArn=secret_arn("CONSUMERSECRETKEY"),
                      AccessTokenSecretArn=secret_arn("ACCESSTOKEN"),
                      AccessTokenSecretSecretArn=secret_arn("ACCESSTOKENSECRET"))
    tmp = tempfile.mkdtemp(prefix="tm-cfn-")
    try:
        with Moto(log_path=os.path.join(tmp, "moto.log")) as m:
            ep = "http://127.0.0.1:%d" % m.port
            creds = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
            kw = dict(endpoint_url=ep, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
            template = os.path.join(DOCKER, "cloudformation.yaml")
            aws = shutil.which("aws")
            if aws:
                args = [aws, "--endpoint-url", ep, "cloudformation", "deploy", "--template-file", template,
                        "--stack-name", "twitterstream", "--capabilities", "CAPABILITY_NAMED_IAM",
                        "--parameter-overrides"] + ["%s=%s" % kv for kv in params.items()]
                r = subprocess.run(args, env=dict(os.environ, **creds), capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL, timeout=120)
                check(r.returncode == 0, "aws cloudformation deploy failed (exit %d)" % r.returncode,
                      r.stdout, r.stderr)
                how = "aws cloudformation deploy"
            else:
                cf = boto3.client("cloudformation", **kw)
                cf.create_stack(StackName="twitterstream", TemplateBody=open(template).read(),
                                Capabilities=["CAPABILITY_NAMED_IAM"],
                                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
                how = "boto3 create_stack (no aws CLI on PATH)"
            cf = boto3.client("cloudformation", **kw)
            deadline = time.time() + 60
            while True:
                stack = cf.describe_stacks(StackName="twitterstream")["Stacks"][0]
                if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.time() > deadline:
                    break
                time.sleep(0.2)
            eq(stack["StackStatus"], "CREATE_COMPLETE", "the stack's status (%s)" % how)
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            check_stack(boto3, kw, outputs, bearer)
            log("%s: stack CREATE_COMPLETE (%s)" % ("v2" if bearer else "v1.1", how))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_stack(boto3, kw, outputs, bearer):
    ddb = boto3.client("dynamodb", **kw)
    t = ddb.describe_table(TableName="twitterStream")["Table"]
    eq([(k["AttributeName"], k["KeyType"]) for k in t["KeySchema"]], ORIGINAL["table_keys"], "the table's key schema")
    eq(sorted((a["AttributeName"], a["AttributeType"]) for a in t["AttributeDefinitions"]),
       [("date", "S"), ("user", "S")], "the table's key types")
    eq(t.get("BillingModeSummary", {}).get("BillingMode"), "PAY_PER_REQUEST", "the table's billing mode")
    if outputs:  # moto fills them for create_stack, not through a change set (aws cloudformation deploy)
        eq(outputs.get("TableName"), "twitterStream", "the TableName output")

    logs = boto3.client("logs", **kw)
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    eq(groups, ["twitterstream"], "the log groups")

    iam = boto3.client("iam", **kw)
    placeholders = IAM_PLACEHOLDERS
    exec_file = "twitterstream-iam-policy-task-execution-role%s.json" % ("-v2" if bearer else "")
    roles = {"twitterstream-task-role": ("twitterstream-iam-policy-task-role.json",
                                         "ecs-task-role-trust-policy.json"),
             "twitterstream-task-execution-role": (exec_file, "ecs-task-execution-role-trust-policy.json")}
    all_roles = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    eq(all_roles, sorted(roles), "the roles the stack made")
    for role, (policy_file, trust_file) in roles.items():
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        eq(names, ["twitterstream-iam-policy-" + role.split("twitterstream-", 1)[1]],
           role + ": its inline policies (exactly one)")
        eq(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], [],
           role + ": its managed policies (none)")
        got = policy_doc(iam.get_role_policy(RoleName=role, PolicyName=names[0])["PolicyDocument"])
        want = json.loads(fill(open(os.path.join(DOCKER, "iam", policy_file)).read(), placeholders))
        eq(normal(got), normal(want), role + ": its policy is docker/iam/" + policy_file)
        trust = policy_doc(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
        want = json.loads(fill(open(os.path.join(DOCKER, "iam", trust_file)).read(), placeholders))
        eq(normal(trust), normal(want), role + ": its trust policy is docker/iam/" + trust_file)
    eq(iam.list_policies(Scope="Local")["Policies"], [], "managed policies made by the stack (none)")

    ecs = boto3.client("ecs", **kw)
    eq([a.rsplit("/", 1)[1] for a in ecs.list_clusters()["clusterArns"]], ["twitterstream_cluster"], "the cluster")
    td = ecs.describe_task_definition(taskDefinition="twitterstream")["taskDefinition"]
    eq(td["family"], "twitterstream", "the task definition's family")
    want = filled(task_definition("task-definition-v2.json" if bearer else "task-definition.json"))
    got_c, want_c = td["containerDefinitions"][0], want["containerDefinitions"][0]
    for k in ("name", "image", "essential", "environment", "secrets", "healthCheck", "stopTimeout",
              "logConfiguration"):
        eq(got_c.get(k), want_c[k], "the deployed container's %s is docker/%s's" % (
            k, "task-definition-v2.json" if bearer else "task-definition.json"))
    svc = ecs.describe_services(cluster="twitterstream_cluster", services=["twitterstream"])["services"]
    eq([(s["serviceName"], s["desiredCount"], s["taskDefinition"].rsplit("/", 1)[1]) for s in svc],
       [("twitterstream", 1, "twitterstream:1")], "the service")

    # What moto does not keep of a task definition or a service, read from the template.
    tpl = template_resources()
    props = tpl["TaskDefinition"]["Properties"]
    eq((props["TaskRoleArn"], props["ExecutionRoleArn"]),
       ({"Fn::GetAtt": ["TaskRole", "Arn"]}, {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}),
       "the template's task definition uses its two roles")
    eq((props["NetworkMode"], props["RequiresCompatibilities"], props["Cpu"], props["Memory"]),
       ("awsvpc", ["FARGATE"], "256", "512"), "the template's task definition is the original's Fargate size")
    svc_props = tpl["Service"]["Properties"]
    eq((svc_props["LaunchType"], svc_props["DeploymentConfiguration"]),
       ("FARGATE", {"MaximumPercent": 100, "MinimumHealthyPercent": 0}),
       "the service: Fargate, never two tasks at once (one stream per credentials)")
    eq(sorted(tpl), ["Cluster", "LogGroup", "Service", "Table", "TaskDefinition", "TaskExecutionRole", "TaskRole"],
       "the template's resources")


def template_resources():
    """docker/cloudformation.yaml's Resources, its short-form tags (!Ref,
    !GetAtt, ...) read as the long form."""
    try:
        import yaml
    except ImportError:
        raise Fail("PyYAML is missing: the case reads docker/cloudformation.yaml with it (moto brings it)")

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        name = "Ref" if suffix == "Ref" else "Fn::" + suffix
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
            if suffix == "GetAtt":
                v = v.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        return {name: v}

    Loader.add_multi_constructor("!", tag)
    with open(os.path.join(DOCKER, "cloudformation.yaml"), encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)["Resources"]


def case_cloudformation():
    """The stack for the v1.1 keys, deployed into moto: the table with the
    original's key schema, the log group, the two roles with exactly their
    docker/iam/ policies (inline, nothing attached), the cluster, the task
    definition with the secrets, and the service. cfn-lint, when present,
    finds nothing."""
    lint = shutil.which("cfn-lint")
    if lint:
        r = subprocess.run([lint, os.path.join(DOCKER, "cloudformation.yaml")], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        check(r.returncode == 0, "cfn-lint docker/cloudformation.yaml", r.stdout, r.stderr)
        log("cfn-lint: clean")
    else:
        log("cfn-lint not on PATH: the template is checked by the deployment only")
    deploy(bearer=False)


def case_cloudformation_v2():
    """The same stack for a v2 bearer token: one secret, and the execution
    role reads only it (docker/iam/...-execution-role-v2.json)."""
    deploy(bearer=True)


# ---- the image ----

def case_image():
    """Builds docker/Dockerfile, unchanged, with podman (the base image made
    first when this week's is missing). The build stage runs the unit suite.
    The runtime image: under 100 MB, a non-root user, ENTRYPOINT
    ["tweetmatch"], CMD ["run"], HEALTHCHECK `tweetmatch health`, STOPSIGNAL
    SIGTERM, only runtime packages, and a binary that runs."""
    pm = harness.Podman()
    pm.run("rm", "-a", "-f", "-t", "0", check_rc=False)  # containers a killed run left (this store's only)
    t0 = time.time()
    log(pm.ensure_base() + " (%.0f s)" % (time.time() - t0))
    t1 = time.time()
    out = pm.build()
    log("podman build -f docker/Dockerfile: %.0f s" % (time.time() - t1))
    check("100% tests passed" in out or "Using cache" in out.split("ctest -R unit")[-1][:400],
          "the build stage did not report the unit suite passing", out[-3000:])
    info = pm.inspect(IMAGE)
    size = info["Size"]
    log("image %s: %.1f MB (%d bytes), %d layers" % (IMAGE, size / 1e6, size, len(info["RootFS"]["Layers"])))
    check(size < 100e6, "the image is %.1f MB, over the 100 MB goal" % (size / 1e6))
    cfg = info["Config"]
    eq(cfg.get("User"), "10001:10001", "USER")
    eq(cfg.get("Entrypoint"), ["tweetmatch"], "ENTRYPOINT")
    eq(cfg.get("Cmd"), ["run"], "CMD")
    eq(cfg.get("StopSignal"), "SIGTERM", "STOPSIGNAL")
    hc = info.get("Healthcheck") or info.get("HealthCheck") or cfg.get("Healthcheck") or {}
    eq(hc.get("Test"), HEALTH_COMMAND, "HEALTHCHECK")
    td = task_definition()["containerDefinitions"][0]["healthCheck"]
    eq({k: hc.get(k) for k in ("Interval", "Timeout", "Retries", "StartPeriod")},
       {"Interval": td["interval"] * 10**9, "Timeout": td["timeout"] * 10**9, "Retries": td["retries"],
        "StartPeriod": td["startPeriod"] * 10**9}, "HEALTHCHECK's times are the task definition's healthCheck")
    check(any(e == "MATCHER_SCRIPT=/rules/rule.lua" for e in cfg.get("Env", [])), "ENV MATCHER_SCRIPT", cfg.get("Env"))
    check("GNUTLS_NO_IMPLICIT_INIT=1" in cfg.get("Env", []), "ENV GNUTLS_NO_IMPLICIT_INIT", cfg.get("Env"))

    r = pm.run("run", "--rm", "--no-healthcheck", "--network=none", "--entrypoint", "sh", IMAGE, "-c",
               "id -un; id -u; readlink /rules/rule.lua; tweetmatch version; "
               "dpkg-query -W -f '${Package}\\n' | sort | tr '\\n' ' '")
    lines = r.stdout.splitlines()
    eq(lines[:3], ["tweetmatch", "10001", "/usr/local/share/tweetmatch/scripts/filter.lua"],
       "the user, and /rules/rule.lua")
    check(lines[3].startswith("tweetmatch "), "tweetmatch version", r.stdout)
    pkgs = set(lines[-1].split())
    dev = sorted(p for p in pkgs if p.endswith("-dev") or p in ("gcc", "cpp", "make", "cmake", "python3",
                                                                 "pkg-config", "binutils", "libc6-dev"))
    check(not dev, "build tools or -dev packages in the runtime image", dev)
    for p in ("ca-certificates", "libcurl4", "liblua5.4-0", "libssl3", "zlib1g"):
        check(p in pkgs, "the runtime image lacks " + p)


# ---- running the image ----

class CredsServer:
    """A stand-in for the ECS task-role credentials endpoint."""

    def __init__(self):
        calls = self.calls = []

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                calls.append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != ECS_AUTH:
                    self.send_response(401)
                    self.end_headers()
                    return
                exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
                exp = exp.strftime("%Y-%m-%dT%H:%M:%SZ")
                body = json.dumps({"RoleArn": "arn:aws:iam::%s:role/twitterstream-task-role" % ACCOUNT,
                                   "AccessKeyId": TASK_KEY, "SecretAccessKey": TASK_SECRET, "Token": TASK_TOKEN,
                                   "Expiration": exp}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def uri(self):
        return "http://127.0.0.1:%d/v2/credentials/container-test" % self.port

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def gated_server(script):
    """fake_stream.Server whose connection scripts may hold {"gate": Event}
    steps: the connection waits there until the test opens the gate."""
    import fake_stream

    class Gated(fake_stream.Server):
        def play(self, c, steps):
            part = []
            for st in steps:
                if "gate" in st:
                    super().play(c, part)
                    part = []
                    st["gate"].wait(120)
                else:
                    part.append(st)
            super().play(c, part)

    return Gated(script).start()


TEXTS = [
    ("Amazon opens a new region in Zurich", True),
    ("#Amazon Prime day: the deals", True),
    ("@amazon where is my parcel?", True),
    ("the amazonian rainforest at dawn", False),
    ("Shopping at AMAZON. Again.", True),
    ("nothing to see here", False),
    ("Amazon で買った 😀 café \"quoted\" and a \\ backslash", True),
    ("Amazons of Greek myth", False),
]


def make_tweets(n, v2, seed):
    """n tweets of distinct authors (the table's key is user + date), each
    text of TEXTS in turn; every fifth v1.1 tweet is extended, the phrase
    only in its full text. Returns the NDJSON lines."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text, _ = TEXTS[i % len(TEXTS)]
        tid = str(1600000000000000000 + seed * 100000 + i)
        user = "ctr%d_%d" % (seed, i)
        if v2:
            out.append(json.dumps({"data": {"id": tid, "text": text, "author_id": str(9000 + i),
                                            "created_at": "2022-10-10T20:%02d:%02d.000Z" % (i // 60, i % 60)},
                                   "includes": {"users": [{"id": str(9000 + i), "username": user}]},
                                   "matching_rules": [{"id": "1", "tag": "tweetmatch"}]}, ensure_ascii=False))
            continue
        t = {"created_at": "Wed Oct 10 20:%02d:%02d +0000 2018" % (i // 60, i % 60), "id": int(tid), "id_str": tid,
             "text": text, "lang": "en", "user": {"id_str": str(9000 + i), "screen_name": user,
                                                  "followers_count": rng.randint(0, 10 ** 6)}}
        if i % 5 == 4:
            t["truncated"] = True
            t["text"] = "A long story about shopping, cut short\u2026"
            t["extended_tweet"] = {"full_text": "A long story about shopping, cut short: " + text}
        out.append(json.dumps(t, ensure_ascii=False))
    return out


def av_plain(v):
    (t, x), = v.items()
    if t == "N":
        return json.loads(x)
    if t in ("L",):
        return [av_plain(e) for e in x]
    if t == "M":
        return {k: av_plain(e) for k, e in x.items()}
    if t == "NULL":
        return None
    return x


def canon(items):
    return sorted(json.dumps(i, sort_keys=True, ensure_ascii=False) for i in items)


class Run:
    """One case's services (moto, the stream, the credentials endpoint) and
    its containers, all removed at the end."""

    def __init__(self, name):
        self.name = name
        self.pm = harness.Podman()
        self.pm.require_image()
        self.tmp = tempfile.mkdtemp(prefix="tm-ctr-%s-" % name)
        os.chmod(self.tmp, 0o755)  # the container's user reads the mounted files
        self.containers = []
        self.servers = []
        self.moto = None
        self.creds = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for c in self.containers:
            if exc[0] is not None:
                r = self.pm.run("logs", c, check_rc=False)
                print("--- logs of %s:\n%s%s" % (c, r.stdout[-4000:], r.stderr[-2000:]))
            self.pm.run("rm", "-f", "-t", "0", c, check_rc=False)
        for s in self.servers:
            s.stop()
        if self.creds:
            self.creds.stop()
        if self.moto:
            self.moto.stop()
        if os.environ.get("TM_CONTAINER_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def file(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".new", "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path + ".new", mode)
        os.rename(path + ".new", path)  # atomically, as a deployment would
        return path

    def start_aws(self):
        import boto3
        from moto_ctl import Moto
        self.moto = Moto(log_path=os.path.join(self.tmp, "moto.log")).start()
        self.endpoint = "http://127.0.0.1:%d" % self.moto.port
        self.ddb = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name=REGION,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        # The original example's table: user (HASH) + date (RANGE).
        self.ddb.create_table(TableName="twitterStream", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "user", "AttributeType": "S"},
                                                    {"AttributeName": "date", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "user", "KeyType": "HASH"},
                                         {"AttributeName": "date", "KeyType": "RANGE"}])
        self.creds = CredsServer()

    def rows(self):
        items, kw = [], {}
        while True:
            r = self.ddb.scan(TableName="twitterStream", **kw)
            items += [{k: av_plain(v) for k, v in it.items()} for it in r["Items"]]
            if "LastEvaluatedKey" not in r:
                return items
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]

    def wait_rows(self, pred, what, timeout=40):
        deadline = time.time() + timeout
        rows = []
        while time.time() < deadline:
            rows = self.rows()
            if pred(rows):
                return rows
            time.sleep(0.3)
        raise Fail("%s: not within %d s; the table holds %d rows" % (what, timeout, len(rows)))

    def task_env(self, td_name, stream_url):
        """The container's environment: the task definition's, its secrets
        as ECS injects them, and the test's endpoints."""
        c = filled(task_definition(td_name))["containerDefinitions"][0]
        env = {e["name"]: e["value"] for e in c["environment"]}
        for s in c["secrets"]:
            env[s["name"]] = BEARER if s["name"] == "BEARERTOKEN" else TWITTER[s["name"]]
        env.update(STREAM_URL=stream_url, AWS_ENDPOINT_URL_DYNAMODB=self.endpoint,
                   AWS_CONTAINER_CREDENTIALS_FULL_URI=self.creds.uri(), AWS_CONTAINER_AUTHORIZATION_TOKEN=ECS_AUTH)
        return env, c

    def start(self, env, mounts=()):
        name = "tm-test-%s-%d" % (self.name, os.getpid())
        args = ["run", "-d", "--name", name, "--network=host"]
        if self.pm.no_timer:
            args += ["--health-interval=disable"]
        for src, dst, mode in mounts:
            args += ["-v", "%s:%s:%s" % (src, dst, mode)]
        env_file = self.file("container.env", "".join("%s=%s\n" % kv for kv in env.items()), 0o600)
        args += ["--env-file", env_file, IMAGE]
        self.pm.run("rm", "-f", "-t", "0", name, check_rc=False)
        self.pm.run(*args)
        self.containers.append(name)
        return name

    def events(self, name):
        r = self.pm.run("logs", name, check_rc=False)
        out = []
        for line in r.stdout.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "?not_json", "line": line}
            out.append(ev if isinstance(ev, dict) else {"event": "?not_an_object", "line": line})
        return out, r.stdout + r.stderr

    def wait_event(self, name, event, timeout=40, **fields):
        deadline = time.time() + timeout
        while True:
            evs, raw = self.events(name)
            for e in evs:
                if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                    return e
            state = self.pm.run("inspect", name, "--format", "{{.State.Status}}", check_rc=False).stdout.strip()
            if time.time() > deadline or state not in ("running", "created", "configured"):
                raise Fail("%s: no %s event %s within %d s (container %s); its log:\n%s" % (
                    name, event, fields or "", timeout, state, raw[-4000:]))
            time.sleep(0.25)

    def expected(self, env, rule_mount, tweets_path):
        """What the image's own `tweetmatch test` makes of the tweets with
        the rule: the items the daemon must have written."""
        mounts = ["-v", "%s:/data/tweets.ndjson:ro" % tweets_path]
        if rule_mount:
            mounts += ["-v", "%s:%s:ro" % rule_mount]
        r = self.pm.run("run", "--rm", "--no-healthcheck", "--network=none", "-e", "FILTER=" + env["FILTER"],
                        *mounts, IMAGE, "test", "--plain", env["MATCHER_SCRIPT"], "/data/tweets.ndjson",
                        check_rc=False)
        check(r.returncode == 0, "tweetmatch test in the image: exit %d" % r.returncode, r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines()]

    def healthy(self, name, timeout=20):
        """The image's HEALTHCHECK, run by podman, and `tweetmatch health`
        saying the stream is connected."""
        deadline = time.time() + timeout
        while True:
            h = self.pm.run("exec", name, "tweetmatch", "health", check_rc=False)
            if h.returncode == 0 and h.stdout.startswith("healthy: connected"):
                break
            check(time.time() < deadline, "tweetmatch health in the container never said 'healthy: connected'",
                  h.returncode, h.stdout, h.stderr)
            time.sleep(0.5)
        r = self.pm.run("healthcheck", "run", name, check_rc=False)
        check(r.returncode == 0, "podman healthcheck run (the image's HEALTHCHECK): exit %d" % r.returncode,
              r.stdout, r.stderr)
        status = self.pm.run("inspect", name, "--format", "{{.State.Health.Status}}").stdout.strip()
        eq(status, "healthy", "the container's health status")
        log("health: %s; podman healthcheck run: %s" % (h.stdout.strip(), status))

    def stop(self, name, stop_timeout):
        """podman stop (SIGTERM, then SIGKILL after the task definition's
        stopTimeout): the daemon must exit 0 by itself, well before."""
        t0 = time.time()
        self.pm.run("stop", "-t", stop_timeout, name, timeout=stop_timeout + 30)
        took = time.time() - t0
        state = json.loads(self.pm.run("inspect", name, "--format", "{{json .State}}").stdout)
        eq((state["ExitCode"], state.get("OOMKilled", False)), (0, False), "exit code after podman stop")
        check(took < stop_timeout - 5, "podman stop took %.1f s: the daemon did not stop on SIGTERM" % took)
        evs, raw = self.events(name)
        for s in SECRETS:
            check(s not in raw and urllib.parse.quote(s, safe="") not in raw, "a secret in the container's log")
        names = [e.get("event") for e in evs]
        check("shutdown" in names, "no shutdown event", raw[-3000:])
        eq(evs[names.index("shutdown")].get("reason"), "signal", "the shutdown's reason")
        eq(names[-1], "stats", "the last log line is the final stats")
        log("stopped in %.1f s, exit 0; final stats: %s" % (took, {k: evs[-1].get(k) for k in (
            "tweets", "matched", "items", "written", "dead_letter", "rule_errors", "bad_input", "reconnects")}))
        return evs


RULE = """-- A user's rule, mounted at MATCHER_SCRIPT: the default rule's item, plus
-- a number and a tag that say which rule wrote it.
local tm = require "tweetmatch"
local phrases = tm.phrases(os.getenv("FILTER") or "")
return {
  match = function(tweet)
    if not tm.track_match(tweet, phrases) then return nil end
    local text = tm.text(tweet)
    return { user = tm.user(tweet), date = tm.created_at(tweet), text = text, id = tm.id(tweet),
             chars = utf8.len(text), rule = "%s" }
  end,
}
"""


def check_final(evs, tweets, items):
    st = evs[-1]
    eq({k: st.get(k) for k in ("tweets", "items", "written", "dead_letter", "rule_errors", "bad_input")},
       {"tweets": tweets, "items": items, "written": items, "dead_letter": 0, "rule_errors": 0, "bad_input": 0},
       "the final stats")
    check("_aws" in st and st["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "tweetmatch",
          "the stats line carries its CloudWatch EMF block", st)


def case_run_v1():
    """The original task, in the image: docker/task-definition.json's
    environment and secrets (v1.1 OAuth keys, verified by the fake stream),
    a user's rule bind-mounted at MATCHER_SCRIPT, the task role's
    credentials from a credentials endpoint. The rows in the table are
    exactly what the image's `tweetmatch test` makes of the tweets; the
    process runs as the image's non-root user; the HEALTHCHECK is healthy
    while it streams; `podman stop` ends it with exit 0 and the final stats
    in its log."""
    with Run("v1") as run:
        run.start_aws()
        tweets = make_tweets(40, v2=False, seed=1)
        limit = json.dumps({"limit": {"track": 3, "timestamp_ms": "1539202764000"}})
        tweets_path = run.file("tweets.ndjson", "\n".join(tweets) + "\n")
        rule_path = run.file("rule.lua", RULE % "mounted")
        oauth = {"mode": "oauth1", "consumer_key": TWITTER["CONSUMERKEY"],
                 "consumer_secret": TWITTER["CONSUMERSECRETKEY"], "token": TWITTER["ACCESSTOKEN"],
                 "token_secret": TWITTER["ACCESSTOKENSECRET"]}
        srv = gated_server({"stream_path": V1_PATH, "auth": oauth, "connections": [[
            {"respond": 200}, {"keepalive": 2}, {"lines": tweets[:20] + [limit], "split": "random", "max_chunk": 700},
            {"keepalive": 1}, {"lines": tweets[20:], "split": "random", "max_chunk": 300}, {"hold": True}]]})
        run.servers.append(srv)
        env, c = run.task_env("task-definition.json", srv.url())
        want = run.expected(env, (rule_path, env["MATCHER_SCRIPT"]), tweets_path)
        check(0 < len(want) < len(tweets), "the test's tweets must be partly matched by FILTER", len(want))
        name = run.start(env, [(rule_path, env["MATCHER_SCRIPT"], "ro")])
        start = run.wait_event(name, "start")
        eq((start["stream_mode"], start["table"], start["region"], start["script"], start["credentials"]),
           ("v1.1", "twitterStream", REGION, "/rules/rule.lua", "ecs"), "the start line")
        run.wait_event(name, "stream_connected")
        rows = run.wait_rows(lambda r: len(r) >= len(want), "%d rows" % len(want))
        eq(canon(rows), canon(want), "the table's rows are the image's `tweetmatch test` items")
        check(all(r["rule"] == "mounted" for r in rows), "rows written by another rule than the mounted one")
        top = run.pm.run("top", name, "user", "huser", "args").stdout.split("\n")[1].split()
        eq(top[:3], ["tweetmatch", "10001", "tweetmatch"], "the daemon's user in and out of the container")
        run.healthy(name)
        status = run.pm.run("exec", name, "cat", "/proc/1/status").stdout
        log("the daemon in the container: " + ", ".join(l.replace("\t", " ").replace("  ", "") for l in
                                                         status.splitlines() if l.startswith(("VmRSS", "VmHWM"))))
        evs = run.stop(name, c["stopTimeout"])
        check_final(evs, len(tweets), len(want))
        reqs = [r for r in srv.records if r["path"] == V1_PATH]
        eq([(r["method"], r["auth_ok"]) for r in reqs], [("POST", True)], "the stream requests (OAuth 1.0a checked)")
        eq(urllib.parse.parse_qs(reqs[0]["body"]).get("track"), ["Amazon"], "the track sent (FILTER)")
        check(run.creds.calls and all(a == ECS_AUTH for _, a in run.creds.calls),
              "the credentials endpoint was not used as ECS's is", run.creds.calls)
        log("%d tweets streamed, %d rows written by the mounted rule" % (len(tweets), len(rows)))


def case_run_v2():
    """docker/task-definition-v2.json: the bearer token, the v2 filtered
    stream with its rules kept in step with FILTER, and the image's own
    default rule (/rules/rule.lua, the bundled filter.lua: nothing
    mounted)."""
    with Run("v2") as run:
        run.start_aws()
        tweets = make_tweets(24, v2=True, seed=2)
        tweets_path = run.file("tweets.ndjson", "\n".join(tweets) + "\n")
        srv = gated_server({"stream_path": V2_PATH, "auth": {"mode": "bearer", "bearer_token": BEARER},
                            "rules": [{"id": "77", "value": "old rule", "tag": "someone else"}],
                            "connections": [[{"respond": 200}, {"lines": tweets, "split": "random"},
                                             {"hold": True}]]})
        run.servers.append(srv)
        env, c = run.task_env("task-definition-v2.json", srv.url())
        want = run.expected(env, None, tweets_path)
        check(0 < len(want) < len(tweets), "the test's tweets must be partly matched by FILTER", len(want))
        name = run.start(env)
        start = run.wait_event(name, "start")
        eq((start["stream_mode"], start["BEARERTOKEN"], start["CONSUMERKEY"]), ("v2", "set", "not set"),
           "the start line")
        rows = run.wait_rows(lambda r: len(r) >= len(want), "%d rows" % len(want))
        eq(canon(rows), canon(want), "the table's rows are the image's `tweetmatch test` items (bundled rule)")
        check("Amazon" in [r["value"] for r in srv.rules], "the v2 rules hold no rule for FILTER", srv.rules)
        run.healthy(name)
        evs = run.stop(name, c["stopTimeout"])
        check_final(evs, len(tweets), len(want))
        check(all(r["auth_ok"] for r in srv.records), "a request without the bearer token",
              [(r["method"], r["path"], r["auth_ok"]) for r in srv.records])
        log("%d tweets streamed, %d rows written by the bundled rule" % (len(tweets), len(rows)))


def case_rules_reload():
    """Changing rules without a new image: a volume on /rules (here a bind
    mount of a folder). A new rule.lua is picked up by the file-change check
    and applies to the next tweets; a broken one is refused (on the file
    change and on SIGHUP, `podman kill --signal HUP`) and the rules in force
    keep running."""
    with Run("reload") as run:
        run.start_aws()
        batches = [make_tweets(16, v2=False, seed=s) for s in (3, 4, 5)]
        gates = [threading.Event(), threading.Event()]
        rules = os.path.join(run.tmp, "rules")
        run.file("rules/rule.lua", RULE % "one")
        os.chmod(rules, 0o755)
        oauth = {"mode": "oauth1", "consumer_key": TWITTER["CONSUMERKEY"],
                 "consumer_secret": TWITTER["CONSUMERSECRETKEY"], "token": TWITTER["ACCESSTOKEN"],
                 "token_secret": TWITTER["ACCESSTOKENSECRET"]}
        srv = gated_server({"stream_path": V1_PATH, "auth": oauth, "connections": [[
            {"respond": 200}, {"lines": batches[0]}, {"gate": gates[0]}, {"lines": batches[1]},
            {"gate": gates[1]}, {"lines": batches[2]}, {"hold": True}]]})
        run.servers.append(srv)
        env, c = run.task_env("task-definition.json", srv.url())
        env["RELOAD_CHECK_SECONDS"] = "1"
        expect = []
        for i, b in enumerate(batches):
            p = run.file("batch%d.ndjson" % i, "\n".join(b) + "\n")
            expect.append(run.expected(env, (os.path.join(rules, "rule.lua"), env["MATCHER_SCRIPT"]), p))
        name = run.start(env, [(rules, os.path.dirname(env["MATCHER_SCRIPT"]), "ro")])
        n0 = len(expect[0])
        run.wait_rows(lambda r: len(r) >= n0, "the first batch's rows")

        run.file("rules/rule.lua", RULE % "two")
        e = run.wait_event(name, "reload", trigger="file changed")
        log("reload on file change: %s" % {k: e.get(k) for k in ("trigger", "track_changed")})
        gates[0].set()
        n1 = n0 + len(expect[1])
        rows = run.wait_rows(lambda r: len(r) >= n1, "the second batch's rows")

        run.file("rules/rule.lua", "return { match = function(t) return { user = end }\n")
        run.wait_event(name, "reload_failed", trigger="file changed")
        run.pm.run("kill", "--signal", "HUP", name)
        run.wait_event(name, "reload_failed", trigger="SIGHUP")
        gates[1].set()
        n2 = n1 + len(expect[2])
        rows = run.wait_rows(lambda r: len(r) >= n2, "the third batch's rows")
        tags = {}
        for r in rows:
            tags.setdefault(r["rule"], set()).add(r["id"])
        ids = [{i["id"] for i in b} for b in expect]
        eq(tags, {"one": ids[0], "two": ids[1] | ids[2]},
           "which rule wrote which rows (the broken rule must not replace rule two)")
        evs = run.stop(name, c["stopTimeout"])
        eq((evs[-1].get("reloads"), evs[-1].get("rule_errors")), (1, 0), "reloads and rule errors in the final stats")
        log("rule one: %d rows, rule two: %d rows; the broken rule was refused twice" % (
            len(tags["one"]), len(tags["two"])))


CASES = {
    "policies": ("static", case_policies),
    "task_definitions": ("static", case_task_definitions),
    "cloudformation": ("moto", case_cloudformation),
    "cloudformation_v2": ("moto", case_cloudformation_v2),
    "image": ("image", case_image),
    "run_v1": ("podman", case_run_v1),
    "run_v2": ("podman", case_run_v2),
    "rules_reload": ("podman", case_rules_reload),
}

if __name__ == "__main__":
    sys.exit(harness.main(CASES, sys.argv))

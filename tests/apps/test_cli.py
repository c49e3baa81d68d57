"""The `mlblueprints` command line, run for real on the catalog (CliRunner in-process; the console
script once, for the clean error block)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from mlblueprints.apps.cli import app, sizing
from mlblueprints.apps.cli.prices import PriceBook
from mlblueprints.blueprints.registry import BLUEPRINTS, SCHEMA_DIR
from mlblueprints.constructs.errors import MlBlueprintsError

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    for command in ("list", "show", "init", "instance", "fit", "cost", "scan", "explain", "doctor"):
        assert command in result.stdout


def test_list_and_show():
    names = {row["name"] for row in _json("list")}
    assert names == set(BLUEPRINTS)
    shown = _json("show", "EC2-Fleet")
    assert shown["name"] == "ec2-fleet" and "instance_type" in shown["schema"]["properties"]
    assert shown["example"]["stacks"]
    table = runner.invoke(app, ["show", "ec2-fleet"]).stdout
    assert "scale_to_zero_after_idle_minutes" in table and "Example" in table


def test_an_unknown_blueprint_is_one_clean_error_from_the_console_script():
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "mlblueprints"), "show", "realtime-endpont"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "'realtime-endpont' is not a blueprint" in done.stderr and "realtime-endpoint" in done.stderr


def test_init_writes_a_config_that_names_its_schema(tmp_path):
    target = tmp_path / "configs" / "stacks.json"
    result = runner.invoke(app, ["init", "serverless-endpoint", "--output", str(target), "--stack", "Mine"])
    assert result.exit_code == 0, result.output
    written = json.loads(target.read_text())
    assert (
        list(written["stacks"]) == ["Mine"]
        and written["stacks"]["Mine"]["blueprint"] == "serverless-endpoint"
    )
    assert (target.parent / written["$schema"]).resolve() == (SCHEMA_DIR / "config.schema.json").resolve()
    # The editor's check: the config against the catalog's schemas (each blueprint's by file name).
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schemas = {path.name: json.loads(path.read_text()) for path in SCHEMA_DIR.glob("*.schema.json")}
    registry = Registry().with_resources(
        (name, Resource.from_contents(schema, default_specification=DRAFT202012))
        for name, schema in schemas.items()
    )  # fmt: skip
    validator = jsonschema.Draft202012Validator(schemas["config.schema.json"], registry=registry)
    validator.validate({k: v for k, v in written.items() if k != "$schema"})
    again = runner.invoke(app, ["init", "serverless-endpoint", "--output", str(target)])
    assert isinstance(again.exception, MlBlueprintsError) and "--force" in str(again.exception)


def test_instance_facts_any_case_and_suggestions():
    facts = _json("instance", "ML.G5.XLARGE")
    assert facts["sagemaker_name"] == "ml.g5.xlarge" and facts["ec2_name"] == "g5.xlarge"
    assert "realtime-inference" in facts["sagemaker_uses"] and "training" in facts["sagemaker_uses"]
    assert (facts["accelerator_name"], facts["accelerator_count"], facts["accelerator_memory_gib"]) == (
        "NVIDIA A10G",
        1,
        24,
    )
    assert "us-east-1" in facts["regions"]["sagemaker_hosting"] and "us-east-1" in facts["regions"]["ec2"]
    trainium = _json("instance", "trn1.32xlarge")
    assert trainium["neuron_sdk"] == "neuronx" and trainium["efa_interfaces"] == 8
    assert trainium["regions"]["hyperpod"] and "NVMe" in trainium["sagemaker_storage"]
    inferentia = _json("instance", "ml.inf2.xlarge")
    assert "training" not in inferentia["sagemaker_uses"]
    result = runner.invoke(app, ["instance", "g5.xlarg"])
    assert isinstance(result.exception, MlBlueprintsError) and "Closest: g5.xlarge" in str(result.exception)


def test_memory_formula():
    # Llama 3 8B's shape: 32 layers, hidden 4096, 8 KV heads of 32 (GQA 4); bf16, 8192 tokens x 4.
    need = sizing.memory_need(8e9, context=8192, batch=4, layers=32, hidden=4096)
    assert need.weights_gib == pytest.approx(8e9 * 2 / 1024**3)
    assert need.kv_cache_gib == pytest.approx(4.0)  # 2 x 32 x 1024 x 32768 x 2 bytes
    assert need.total_gib == pytest.approx((need.weights_gib + 4.0) * 1.2)
    training = sizing.memory_need(7e9, training=True)
    assert training.total_gib == pytest.approx(7e9 * 16 / 1024**3 * 1.2) and training.kv_cache_gib == 0
    estimated = sizing.memory_need(8e9)
    assert 4000 < estimated.hidden < 4800 and 28 <= estimated.layers <= 40  # close to the real 4096 x 32
    assert sizing.parse_parameters("1.5B") == 1.5e9 and sizing.parse_parameters("350m") == 350e6
    with pytest.raises(MlBlueprintsError, match="--params 'eight'"):
        sizing.parse_parameters("eight")
    with pytest.raises(MlBlueprintsError) as caught:
        sizing.memory_need(8e9, dtype="fp64", batch=0)
    assert len(caught.value.problems) == 2


def test_fit_cheapest_first_gpu_and_neuron_side_by_side():
    found = _json(
        "fit", "--params", "8B", "--context", "8192", "--batch", "4", "--layers", "32", "--hidden", "4096"
    )
    names = [row["name"] for row in found["fits"]]
    assert {"ml.g5.xlarge", "ml.inf2.xlarge"} <= set(names)
    assert all(row["total_gib"] >= found["need"]["total_gib"] for row in found["fits"])
    priced = [row["hourly_usd"] for row in found["fits"] if row["hourly_usd"] is not None]
    assert priced == sorted(priced) and names.index("ml.inf2.xlarge") < names.index("ml.g5.xlarge")
    assert {row["accelerator"] for row in found["fits"]} >= {"NVIDIA GPU", "AWS Inferentia", "AWS Trainium"}
    huge = _json("fit", "--params", "2T", "--training")
    assert huge["fits"] == []
    assert "No single instance holds it" in runner.invoke(app, ["fit", "--params", "2T", "--training"]).stdout


def test_snapshot_prices_carry_source_date_and_confirmation():
    book = PriceBook("us-east-1")
    price = book.instance("hosting", "ml.g5.xlarge")
    assert price.hourly > 0 and "foundation-model-benchmarking-tool" in price.source and price.as_of
    assert book.instance("hosting", "ml.g6.xlarge").confirmed is False  # shown with a mark
    assert book.fixed("kms_key_month").hourly == 1.0
    assert PriceBook("eu-west-1").instance("hosting", "ml.g5.xlarge") is None  # the snapshot is us-east-1's


def test_price_list_api_when_credentials_exist():
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    product = {
        "product": {"attributes": {"instanceName": "ml.g5.xlarge"}},
        "publicationDate": "2026-11-20T00:00:00Z",
        "terms": {"OnDemand": {"T": {"priceDimensions": {"D": {"pricePerUnit": {"USD": "1.4080000000"}}}}}},
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [json.dumps(product)]},
            {
                "ServiceCode": "AmazonSageMaker",
                "Filters": [
                    {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.g5.xlarge"},
                    {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
                ],
                "MaxResults": 10,
            },
        )
        price = PriceBook("eu-west-1", pricing_client=client).instance("hosting", "ml.g5.xlarge")
    assert price.hourly == 1.408 and price.source == "AWS Price List API (AmazonSageMaker)"


def test_cost_of_a_blueprint_example():
    report = _json("cost", "realtime-endpoint")
    lines = report["lines"]
    variants = [line for line in lines if line["kind"] == "hosting"]
    assert variants and all(line["count_max"] >= line["count_default"] >= 1 for line in variants)
    assert any(line["kind"] == "kms-key" for line in lines) and any(
        line["kind"] == "endpoint-az" for line in lines
    )
    total = sum(line["hourly_default"] or 0 for line in lines)
    assert report["total"]["hourly_default"] == pytest.approx(total)
    assert report["total"]["monthly_default"] == pytest.approx(total * 730)
    assert report["alternatives"] and report["prices"].startswith("bundled snapshot")


def test_cost_of_a_fleet_counts_its_group():
    report = _json("cost", "ec2-fleet")
    groups = {line["name"]: line for line in report["lines"] if line["kind"] == "ec2"}
    assert groups["g5.12xlarge"]["count_max"] == 4 and groups["p4d.24xlarge"]["count_max"] == 4


def test_explain_rules_of_every_tool():
    nag = _json("explain", "IAM5")
    assert nag["packs"]["AwsSolutions-IAM5"]["info"].startswith(
        "The IAM entity contains wildcard permissions"
    )
    assert any(place["where"].startswith("constructs/") for place in nag["catalog"])
    tower = _json("explain", "ct-ec2-pr-15")
    assert tower["rule"] == "ec2_launch_template_nitro_instance_type_check" and "Nitro" in tower["text"]
    assert any(place["where"].startswith("constructs/ec2/fleet.py:") for place in tower["catalog"])
    assert _json("explain", "ec2_launch_template_imdsv2_check")["catalog"] == []  # complies
    assert "unique primary identifiers" in _json("explain", "E3019")["text"]
    checkov = _json("explain", "CKV_AWS_116")
    assert "Dead Letter Queue" in checkov["text"] and checkov["catalog"]
    result = runner.invoke(app, ["explain", "NOPE-1"])
    assert isinstance(result.exception, MlBlueprintsError)


def test_doctor_checks_the_pinned_toolchain():
    result = runner.invoke(app, ["doctor", "--json"])
    checks = {check["name"]: check for check in json.loads(result.stdout)}
    assert checks["Python"]["ok"] and checks["Node.js for jsii"]["ok"]
    assert checks["CDK CLI"]["found"].startswith("2.1")
    # Exit 1 exactly when a check fails (the machine's own Node 20 first on PATH fails the CLI's check).
    assert result.exit_code == (1 if any(c["ok"] is False for c in checks.values()) else 0)
    if checks["Node.js for the CDK CLI"]["ok"] is False:
        assert "export PATH=" in checks["Node.js for the CDK CLI"]["fix"]


SARIF = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def test_scan_reports_a_deliberate_violation_and_exits_non_zero(tmp_path):
    app_file = tmp_path / "app.py"
    app_file.write_text(
        "import aws_cdk as cdk\nfrom aws_cdk import aws_s3 as s3\n\n"
        "app = cdk.App()\nstack = cdk.Stack(app, 'Leaky')\ns3.Bucket(stack, 'PlainBucket')\napp.synth()\n"
    )
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        ["scan", "--app", str(app_file), "--gates", "aws-solutions,control-tower", "--output-dir", str(out)],
    )
    assert result.exit_code == 1, result.output
    report = json.loads((out / "scan.json").read_text())
    rules = {(f["tool"], f["rule"]) for f in report["findings"] if not f["acknowledged"]}
    assert ("gate", "AwsSolutions-S1") in rules  # no server access logs
    assert any(tool == "checkov" for tool, _ in rules)
    assert not any(rule.startswith("HIPAA") for _, rule in rules)  # only the gates asked for
    sarif = json.loads((out / "scan.sarif").read_text())
    jsonschema.validate(sarif, SARIF)
    assert sum(len(run["results"]) for run in sarif["runs"]) == len(report["findings"])
    assert "Leaky" in (out / "scan.md").read_text()


def test_scan_of_a_blueprint_passes_with_its_acknowledgements(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples' files are found from anywhere
    out = tmp_path / "report"
    (out / "cdk.out").mkdir(parents=True)
    (out / "cdk.out" / "Stale.template.json").write_text('{"Resources": {}}')  # a previous scan's
    result = runner.invoke(app, ["scan", "realtime-endpoint", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "scan.json").read_text())
    assert report["summary"]["failures"] == 0 and report["summary"]["acknowledged"] > 0
    assert "Stale" not in report["stacks"]
    assert all(f["reason"] for f in report["findings"] if f["acknowledged"])
    # checkov's skips (the VPC's default-SG provider) come back as acknowledgements, with their reasons.
    assert any(f["tool"] == "checkov" and f["acknowledged"] for f in report["findings"])
    assert {f["source"] for f in report["findings"]} >= {
        "gate: AwsSolutions",
        "gate: HIPAA.Security",
        "checkov",
    }
    sarif = json.loads((out / "scan.sarif").read_text())
    jsonschema.validate(sarif, SARIF)
    suppressed = [r for run in sarif["runs"] for r in run["results"] if r.get("suppressions")]
    assert len(suppressed) == report["summary"]["acknowledged"]
    assert "## Acknowledged" in (out / "scan.md").read_text()
    bad = runner.invoke(app, ["scan", "--gates", "hipaa,nope"])
    assert isinstance(bad.exception, MlBlueprintsError) and "--gates" in str(bad.exception)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scan", "--config", "{missing}"], "no such config file"),
        (["scan", "--config", "{broken}"], "is not JSON"),
        (["cost", "{listed}"], 'a config is an object with "stacks"'),
        (["scan", "serverless-endpoint", "--config", "{broken}"], "scan one thing at a time"),
        (["scan", "--app", "{failing}"], "the app failed before it synthesized: ValueError: no model"),
        (["scan", "--app", "{empty}"], "synthesized no stack"),
        (["scan", "serverless-endpoint", "--output-dir", "{file}"], "cannot write there"),
        (["cost", "--region", "eu-west-1"], "the bundled prices are us-east-1's only"),
        (["fit", "--params", "8"], "--params '8'"),
        (["fit", "--params", "8B", "--training", "--dtype", "int4"], "training runs in bf16, fp16 or fp32"),
        (
            ["init", "realtime-endpoint", "--stack", "bad name!", "--output", "{new}"],
            "a CloudFormation stack name",
        ),
        (["explain", "AwsSolutions-IAM55"], "did you mean AwsSolutions-IAM5"),
    ],
)
def test_mistakes_are_one_clean_error(args, expected, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    files = {
        "missing": tmp_path / "missing.json",
        "broken": tmp_path / "broken.json",
        "listed": tmp_path / "listed.json",
        "failing": tmp_path / "failing.py",
        "empty": tmp_path / "empty.py",
        "file": tmp_path / "a-file",
        "new": tmp_path / "new.json",
    }
    files["broken"].write_text('{"stacks": {,}}')
    files["listed"].write_text("[]")
    files["failing"].write_text("raise ValueError('no model here')\n")
    files["empty"].write_text("import aws_cdk as cdk\ncdk.App().synth()\n")
    files["file"].write_text("")
    result = runner.invoke(app, [arg.format(**files) for arg in args])
    assert isinstance(result.exception, MlBlueprintsError), (result.output, result.exception)
    assert expected in str(result.exception)


def test_explain_takes_rule_ids_as_scan_prints_them():
    assert _json("explain", "AwsSolutions-IAM5[Resource::*]")["rule"] == "AwsSolutions-IAM5"
    tower = _json("explain", "cdk-validator-cfnguard::lambda_inside_vpc_check")
    assert tower["rule"] == "lambda_inside_vpc_check"
    reasons = [place["reason"] for place in tower["catalog"]]
    assert any("holds no data" in reason for reason in reasons)
    assert not any(
        p["where"].startswith("constructs/compliance/acknowledge.py")
        for p in _json("explain", "IAM5")["catalog"]
    )


def test_fit_keeps_a_16_bit_kv_cache_for_quantized_weights_and_skips_types_no_region_hosts():
    int4 = sizing.memory_need(8e9, dtype="int4", context=8192, batch=4, layers=32, hidden=4096)
    assert int4.kv_cache_gib == pytest.approx(4.0) and int4.weights_gib == pytest.approx(8e9 * 0.5 / 1024**3)
    names = [row["name"] for row in _json("fit", "--params", "8B")["fits"]]
    assert not any(name.startswith("ml.dl1.") for name in names)


def test_cost_of_an_example_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = _json("cost", "training-pipeline")
    assert report["lines"]


def test_cost_lists_hyperpod_groups_without_a_bundled_price():
    report = _json("cost", "hyperpod-cluster")
    groups = [line for line in report["lines"] if line["kind"] == "hyperpod"]
    assert ("ml.trn1.32xlarge", 2) in {(line["name"], line["count_default"]) for line in groups}
    assert all(line["unit_hourly"] is None for line in groups)
    # Left out of the totals, and said so.
    assert {line["item"] for line in groups} <= set(report["unpriced_hourly"])
    assert any("FSx for LUSTRE" in item for item in report["unpriced_hourly"])


def test_the_table_names_what_the_total_leaves_out():
    result = runner.invoke(app, ["cost", "enterprise-search"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "Not in the total, billed by the time they exist without a bundled price: Kendra index" in output


def test_cost_lists_a_kendra_index_as_hourly_without_a_bundled_price():
    report = _json("cost", "enterprise-search")
    (index,) = [line for line in report["lines"] if line["kind"] == "kendra"]
    assert index["name"] == "DEVELOPER_EDITION" and "billed by the hour" in json.dumps(index)


def test_show_names_a_retired_service_and_its_replacement():
    result = runner.invoke(app, ["show", "forecast"])
    assert result.exit_code != 0
    assert "Amazon Forecast is no longer available to new customers" in str(result.exception)

"""Structural rules of infra/terraform, checked on the parsed HCL (terraform validate needs the AWS
provider, which cannot be downloaded here; CI on GitHub runs it).

Each rule is checked twice: the real tree has no violation, and a small bad snippet is caught, so a
rule that silently stopped matching anything would fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.terraform_hcl import (
    ENVS_ROOT,
    MODULES_ROOT,
    REQUIRED_DEFAULT_TAGS,
    all_configurations,
    all_expressions,
    collect,
    internet_ingress,
    load_directory,
    load_text,
    mismatched_module_calls,
    missing_module_files,
    module_directories,
    providers_without_default_tags,
    root_directories,
    undocumented_variables,
    unencrypted_data_stores,
    unresolved_references,
    untagged_resources,
    unused_variables,
)

EXPECTED_MODULES = {
    "network",
    "kms",
    "aurora",
    "elasticache",
    "ecs",
    "alb",
    "waf",
    "cloudfront",
    "s3",
    "secrets",
    "notifications",
    "ecr",
    "observability",
    "backup",
    "platform",
}


@pytest.fixture(scope="module")
def configurations():
    return all_configurations()


@pytest.fixture(scope="module")
def module_configurations():
    return [load_directory(directory) for directory in module_directories()]


@pytest.fixture(scope="module")
def root_configurations():
    return [load_directory(directory) for directory in root_directories()]


def test_the_issue_s_modules_and_the_prod_roots_exist():
    top_level = {path.name for path in MODULES_ROOT.iterdir() if path.is_dir()}
    assert top_level >= EXPECTED_MODULES
    roots = {path.relative_to(ENVS_ROOT).as_posix() for path in root_directories()}
    assert roots == {"prod", "prod/bootstrap"}


@pytest.mark.parametrize("directory", module_directories(), ids=lambda path: path.relative_to(MODULES_ROOT).as_posix())
def test_every_module_has_its_four_files_and_a_readme(directory: Path):
    assert missing_module_files(directory) == []


def test_a_module_without_outputs_or_readme_is_reported(tmp_path: Path, monkeypatch):
    import tests.infra.terraform_hcl as rules

    monkeypatch.setattr(rules, "REPO_ROOT", tmp_path)
    module = tmp_path / "modules" / "half"
    module.mkdir(parents=True)
    for name in ("main.tf", "variables.tf", "versions.tf"):
        (module / name).write_text("")
    assert rules.missing_module_files(module) == [
        "modules/half: missing outputs.tf",
        "modules/half: missing README.md",
    ]


def test_every_variable_has_a_description_and_a_type(configurations):
    assert collect(undocumented_variables, configurations) == []


def test_a_variable_without_description_or_type_is_reported():
    snippet = load_text(
        """
        variable "documented" {
          description = "Fine."
          type        = string
        }
        variable "bare" {}
        variable "untyped" {
          description = "Has no type."
        }
        """,
        MODULES_ROOT / "example",
    )
    violations = undocumented_variables(snippet)
    assert len(violations) == 3
    assert any("bare: no description" in v for v in violations)
    assert any("bare: no type" in v for v in violations)
    assert any("untyped: no type" in v for v in violations)


def test_every_taggable_resource_in_a_module_carries_the_module_tags(module_configurations):
    assert collect(untagged_resources, module_configurations, "var.tags") == []


def test_every_taggable_resource_in_a_root_carries_the_default_tags(root_configurations):
    assert collect(untagged_resources, root_configurations, "local.default_tags") == []


def test_every_environment_s_providers_set_the_default_tags(root_configurations):
    assert collect(providers_without_default_tags, root_configurations) == []
    assert REQUIRED_DEFAULT_TAGS <= {"Project", "Environment", "Owner", "CostCenter", "ManagedBy", "Repository"}


def test_the_platform_passes_the_default_tags_to_every_module():
    platform = load_directory(MODULES_ROOT / "platform")
    calls = list(platform.of_kind("module"))
    assert len(calls) >= 14
    assert [call.address for call in calls if "var.tags" not in str(call.body.get("tags"))] == []
    prod = load_directory(ENVS_ROOT / "prod")
    (call,) = prod.of_kind("module")
    assert "local.default_tags" in str(call.body["tags"])


def test_an_untagged_resource_and_a_provider_without_default_tags_are_reported():
    snippet = load_text(
        """
        locals {
          default_tags = { Project = "dynasty" }
        }
        provider "aws" {
          region = "us-east-1"
        }
        resource "aws_sqs_queue" "forgotten" {
          name = "q"
        }
        resource "aws_sqs_queue" "other_tags" {
          tags = { Name = "q" }
        }
        resource "aws_kms_alias" "untaggable" {
          name = "alias/x"
        }
        """,
        ENVS_ROOT / "example",
    )
    untagged = untagged_resources(snippet, "local.default_tags")
    assert len(untagged) == 2
    assert any("forgotten: no tags" in v for v in untagged)
    assert any("other_tags: tags do not include local.default_tags" in v for v in untagged)
    provider_violations = providers_without_default_tags(snippet)
    assert any("default_tags lacks" in v for v in provider_violations)
    assert any("default_tags is not local.default_tags" in v for v in provider_violations)


def test_no_security_group_admits_the_internet_except_the_alb_on_443(configurations):
    assert collect(internet_ingress, configurations) == []


def test_the_alb_is_the_only_module_with_an_internet_rule_and_it_is_443():
    alb = load_directory(MODULES_ROOT / "alb")
    open_rules = [
        rule
        for rule in alb.resources("aws_vpc_security_group_ingress_rule")
        if rule.body.get("cidr_ipv4") == '"0.0.0.0/0"'
    ]
    assert [rule.address for rule in open_rules] == ["aws_vpc_security_group_ingress_rule.https_from_internet"]
    assert (open_rules[0].body["from_port"], open_rules[0].body["to_port"]) == (443, 443)


@pytest.mark.parametrize(
    ("module", "rule", "flagged"),
    [
        (
            "network",
            """
            resource "aws_vpc_security_group_ingress_rule" "ssh" {
              cidr_ipv4 = "0.0.0.0/0"
              from_port = 22
              to_port   = 22
            }
            """,
            True,
        ),
        (
            "alb",
            """
            resource "aws_vpc_security_group_ingress_rule" "http" {
              cidr_ipv6 = "::/0"
              from_port = 80
              to_port   = 80
            }
            """,
            True,
        ),
        (
            "network",
            """
            variable "allowed" {
              description = "Looks harmless."
              type        = string
              default     = "0.0.0.0/0"
            }
            resource "aws_security_group" "legacy" {
              ingress {
                cidr_blocks = [var.allowed]
                from_port   = 443
                to_port     = 443
              }
            }
            """,
            True,
        ),
        (
            "ecs",
            """
            resource "aws_security_group_rule" "old_style" {
              type        = "ingress"
              cidr_blocks = ["10.0.0.0/8", "0.0.0.0/0"]
              from_port   = 8080
              to_port     = 8080
            }
            """,
            True,
        ),
        (
            "alb",
            """
            resource "aws_vpc_security_group_ingress_rule" "https" {
              cidr_ipv4 = "0.0.0.0/0"
              from_port = 443
              to_port   = 443
            }
            """,
            False,
        ),
    ],
    ids=["ssh-anywhere", "alb-on-80", "open-default-in-inline-ingress", "legacy-rule", "alb-on-443-allowed"],
)
def test_internet_ingress_rule_catches_openings_outside_the_alb_s_443(module, rule, flagged):
    # The inline case hides 0.0.0.0/0 in a variable's default, on 443 but outside the ALB: still an opening.
    violations = internet_ingress(load_text(rule, MODULES_ROOT / module))
    assert bool(violations) is flagged


def test_every_data_store_is_encrypted_with_a_customer_managed_key(configurations):
    assert collect(unencrypted_data_stores, configurations) == []


def test_the_data_store_rule_sees_the_real_stores(configurations):
    """The rule is only as good as what it looks at: the real tree has each kind of store it knows."""
    seen = {block.labels[0] for configuration in configurations for block in configuration.resources()}
    assert {
        "aws_rds_cluster",
        "aws_elasticache_replication_group",
        "aws_dynamodb_table",
        "aws_cloudwatch_log_group",
        "aws_sns_topic",
        "aws_secretsmanager_secret",
        "aws_ecr_repository",
        "aws_backup_vault",
        "aws_s3_bucket",
    } <= seen


def test_unencrypted_or_aws_managed_stores_are_reported():
    snippet = load_text(
        """
        variable "optional_key" {
          description = "A key that may be left out."
          type        = string
          default     = null
        }
        resource "aws_rds_cluster" "plain" {
          storage_encrypted = false
        }
        resource "aws_cloudwatch_log_group" "aws_key" {
          kms_key_id = "alias/aws/logs"
        }
        resource "aws_sns_topic" "maybe" {
          kms_master_key_id = var.optional_key
        }
        resource "aws_s3_bucket" "sse_s3" {
          bucket = "b"
        }
        resource "aws_s3_bucket_server_side_encryption_configuration" "sse_s3" {
          bucket = aws_s3_bucket.sse_s3.id
          rule {
            apply_server_side_encryption_by_default {
              sse_algorithm = "AES256"
            }
          }
        }
        resource "aws_s3_bucket" "no_config" {
          bucket = "c"
        }
        """,
        MODULES_ROOT / "example",
    )
    violations = unencrypted_data_stores(snippet)
    assert any("aws_rds_cluster.plain: storage_encrypted is false" in v for v in violations)
    assert any("aws_rds_cluster.plain: kms_key_id is not a customer-managed key" in v for v in violations)
    assert any("aws_cloudwatch_log_group.aws_key" in v for v in violations)
    assert any("aws_sns_topic.maybe" in v for v in violations)
    assert any("aws_s3_bucket.sse_s3: no default encryption" in v for v in violations)
    assert any("aws_s3_bucket.no_config: no default encryption" in v for v in violations)
    assert len(violations) == 6


def test_every_reference_resolves(configurations):
    """var., local., resource, data and module-output references point at something (validate's first check)."""
    assert collect(unresolved_references, configurations) == []


def test_every_declared_variable_is_used(configurations):
    assert collect(unused_variables, configurations) == []


def test_every_module_call_matches_the_module_s_variables(configurations):
    assert collect(mismatched_module_calls, configurations) == []


def test_the_reference_rules_see_the_references_of_the_platform():
    platform = load_directory(MODULES_ROOT / "platform")
    texts = [text for _, text in all_expressions(platform)]
    assert sum(text.count("module.") for text in texts) > 40
    assert sum(text.count("var.") for text in texts) > 30


def test_dangling_references_and_bad_module_calls_are_reported(tmp_path: Path, monkeypatch):
    import tests.infra.terraform_hcl as rules

    monkeypatch.setattr(rules, "REPO_ROOT", tmp_path)
    child = tmp_path / "modules" / "child"
    child.mkdir(parents=True)
    (child / "main.tf").write_text(
        """
        variable "required" {
          description = "No default."
          type        = string
        }
        variable "optional" {
          description = "Has one."
          type        = string
          default     = "x"
        }
        output "id" {
          description = "An output."
          value       = var.required
        }
        """
    )
    parent = load_text(
        """
        variable "used" {
          description = "Used below."
          type        = string
        }
        variable "forgotten" {
          description = "Never used."
          type        = string
        }
        locals {
          prefix = "p"
        }
        module "child" {
          source  = "../child"
          unknown = var.used
        }
        resource "aws_sqs_queue" "this" {
          name = "${local.prefix}-${local.missing}-${var.undeclared}"
          tags = {
            a = module.child.id
            b = module.child.nope
            c = module.other.id
            d = aws_sns_topic.absent.arn
            e = data.aws_region.absent.region
            f = aws_sqs_queue.this.arn
          }
        }
        """,
        tmp_path / "modules" / "parent",
    )
    unresolved = {violation.rsplit(": ", 1)[-1] for violation in rules.unresolved_references(parent)}
    assert unresolved == {
        "local.missing is not defined",
        "var.undeclared is not declared",
        "module.child has no output nope",
        "module.other is not called here",
        "aws_sns_topic.absent is not declared",
        "data.aws_region.absent is not declared",
    }
    assert [v.rsplit(": ", 1)[-1] for v in rules.unused_variables(parent)] == ["declared but never used"]
    assert any("forgotten" in v for v in rules.unused_variables(parent))
    calls = rules.mismatched_module_calls(parent)
    assert any("passes unknown, which the module does not declare" in v for v in calls)
    assert any("does not pass required, which has no default" in v for v in calls)
    assert not any("optional" in v for v in calls)

"""Parse the Terraform under infra/terraform and check the rules the platform promises.

Each rule is a function from parsed configurations to a list of violations (strings naming the file,
the resource and what is wrong), so the tests can show both that the real tree is clean and that a
rule catches a bad snippet. python-hcl2 keeps HCL's quotes on labels and string literals and writes
expressions as "${...}"; `unquote` and `expression` undo that.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_ROOT = REPO_ROOT / "infra" / "terraform"
MODULES_ROOT = TERRAFORM_ROOT / "modules"
ENVS_ROOT = TERRAFORM_ROOT / "envs"

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")

# The tags every environment's providers put on every resource.
REQUIRED_DEFAULT_TAGS = frozenset({"Project", "Environment", "Owner", "CostCenter", "ManagedBy"})

# AWS resource types used here that have no `tags` argument. Any other aws_ type must carry the tags,
# so a new taggable type is checked by default and a new untaggable one has to be added here.
UNTAGGABLE_TYPES = frozenset(
    {
        "aws_acm_certificate_validation",
        "aws_appautoscaling_policy",
        "aws_backup_selection",
        "aws_backup_vault_lock_configuration",
        "aws_cloudfront_response_headers_policy",
        "aws_cloudwatch_dashboard",
        "aws_config_configuration_recorder",
        "aws_config_configuration_recorder_status",
        "aws_config_delivery_channel",
        "aws_ecr_lifecycle_policy",
        "aws_ecs_cluster_capacity_providers",
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_kms_alias",
        "aws_network_acl_rule",
        "aws_route",
        "aws_route53_record",
        "aws_route_table_association",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_logging",
        "aws_s3_bucket_object_lock_configuration",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_secretsmanager_secret_version",
        "aws_sesv2_configuration_set_event_destination",
        "aws_sesv2_email_identity_mail_from_attributes",
        "aws_sns_sms_preferences",
        "aws_sns_topic_policy",
        "aws_sns_topic_subscription",
        "aws_wafv2_web_acl_association",
        "aws_wafv2_web_acl_logging_configuration",
    }
)

OPEN_IPV4 = "0.0.0.0/0"
OPEN_IPV6 = "::/0"

# The one place the internet may come in: the ALB, on 443 (modules/alb).
INTERNET_INGRESS_ALLOWED_MODULE = "alb"
INTERNET_INGRESS_ALLOWED_PORT = 443

# Buckets that AWS services can only deliver to with SSE-S3, and why. Everything else uses a CMK.
SSE_S3_ONLY_BUCKETS = {
    ("s3", "access_logs"): "S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets",
}

# Data stores and the arguments that must name a customer-managed key (or switch encryption on).
# A dotted path walks into nested blocks.
ENCRYPTION_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "aws_rds_cluster": (("storage_encrypted", "true"), ("kms_key_id", "key")),
    "aws_rds_cluster_instance": (("performance_insights_kms_key_id", "key"),),
    "aws_elasticache_replication_group": (("at_rest_encryption_enabled", "true"), ("kms_key_id", "key")),
    "aws_dynamodb_table": (("server_side_encryption.enabled", "true"), ("server_side_encryption.kms_key_arn", "key")),
    "aws_cloudwatch_log_group": (("kms_key_id", "key"),),
    "aws_sns_topic": (("kms_master_key_id", "key"),),
    "aws_secretsmanager_secret": (("kms_key_id", "key"),),
    "aws_ecr_repository": (
        ("encryption_configuration.encryption_type", "KMS"),
        ("encryption_configuration.kms_key", "key"),
    ),
    "aws_backup_vault": (("kms_key_arn", "key"),),
    "aws_cloudtrail": (("kms_key_id", "key"),),
    "aws_db_instance": (("storage_encrypted", "true"), ("kms_key_id", "key")),
    "aws_ebs_volume": (("encrypted", "true"), ("kms_key_id", "key")),
    "aws_efs_file_system": (("encrypted", "true"), ("kms_key_id", "key")),
}


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def expression(value: Any) -> str:
    """The source text of an attribute: literals unquoted, expressions without their ${ }."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        return unquote(value)
    return str(value)


@dataclass(frozen=True)
class Block:
    """A labelled block (resource, data, variable, provider, module) with the file it came from."""

    kind: str
    labels: tuple[str, ...]
    body: dict[str, Any]
    path: Path

    @property
    def address(self) -> str:
        return ".".join(self.labels)

    def where(self) -> str:
        relative = self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path
        return f"{relative}: {self.kind} {self.address}"


@dataclass
class Configuration:
    """Every .tf file of one directory (a module or a root), parsed."""

    directory: Path
    blocks: list[Block] = field(default_factory=list)
    locals: dict[str, Any] = field(default_factory=dict)

    def of_kind(self, kind: str) -> Iterator[Block]:
        return (block for block in self.blocks if block.kind == kind)

    def resources(self, resource_type: str | None = None) -> Iterator[Block]:
        for block in self.of_kind("resource"):
            if resource_type is None or block.labels[0] == resource_type:
                yield block

    def variable_defaults(self) -> dict[str, Any]:
        return {block.labels[0]: block.body.get("default", _NO_DEFAULT) for block in self.of_kind("variable")}

    @property
    def module_name(self) -> str:
        return self.directory.name


_NO_DEFAULT = object()
_LABEL_DEPTH = {"resource": 2, "data": 2, "variable": 1, "output": 1, "provider": 1, "module": 1}


def _labelled(kind: str, entry: dict[str, Any], depth: int, labels: tuple[str, ...] = ()) -> Iterator[tuple]:
    for label, body in entry.items():
        if label.startswith("__"):
            continue
        if depth == 1:
            yield (*labels, unquote(label)), body
        else:
            yield from _labelled(kind, body, depth - 1, (*labels, unquote(label)))


def parse_text(text: str, path: Path, configuration: Configuration) -> None:
    document = hcl2.loads(text)
    for kind, entries in document.items():
        if kind in _LABEL_DEPTH:
            for entry in entries:
                for labels, body in _labelled(kind, entry, _LABEL_DEPTH[kind]):
                    configuration.blocks.append(Block(kind, labels, body, path))
        elif kind == "locals":
            for entry in entries:
                configuration.locals.update({k: v for k, v in entry.items() if not k.startswith("__")})


@functools.cache
def load_directory(directory: Path) -> Configuration:
    """Parsed once per directory: module calls load their targets again and again. Treat as read-only."""
    configuration = Configuration(directory)
    for path in sorted(directory.glob("*.tf")):
        parse_text(path.read_text(), path, configuration)
    return configuration


def load_text(text: str, directory: Path) -> Configuration:
    """Parse a snippet as if it were main.tf of `directory` (used to show that a rule can fail)."""
    configuration = Configuration(directory)
    parse_text(text, directory / "main.tf", configuration)
    return configuration


def module_directories() -> list[Path]:
    """Every directory under modules/ holding Terraform, nested submodules included."""
    return sorted({path.parent for path in MODULES_ROOT.rglob("*.tf") if ".terraform" not in path.parts})


def root_directories() -> list[Path]:
    return sorted({path.parent for path in ENVS_ROOT.rglob("*.tf") if ".terraform" not in path.parts})


def all_configurations() -> list[Configuration]:
    return [load_directory(directory) for directory in [*module_directories(), *root_directories()]]


def _nested(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body
    for part in dotted.split("."):
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    return value


def _resolve(value: Any, configuration: Configuration) -> Any:
    """Follow a bare `var.x` to its default, so an open CIDR or a null key hidden in a default is seen."""
    text = expression(value) if value is not None else None
    match = re.fullmatch(r"var\.([A-Za-z0-9_]+)", text or "")
    if match:
        default = configuration.variable_defaults().get(match.group(1), _NO_DEFAULT)
        return None if default is _NO_DEFAULT else default
    return value


################################################################################
# Rules
################################################################################


def missing_module_files(directory: Path) -> list[str]:
    return [
        f"{directory.relative_to(REPO_ROOT)}: missing {name}"
        for name in MODULE_FILES
        if not (directory / name).is_file()
    ]


def undocumented_variables(configuration: Configuration) -> list[str]:
    violations = []
    for variable in configuration.of_kind("variable"):
        description = unquote(variable.body.get("description", ""))
        if not isinstance(description, str) or not description.strip():
            violations.append(f"{variable.where()}: no description")
        if "type" not in variable.body:
            violations.append(f"{variable.where()}: no type")
    return violations


def untagged_resources(configuration: Configuration, tags_reference: str) -> list[str]:
    """Every taggable AWS resource sets `tags` from its input: var.tags in a module, local.default_tags in a root."""
    violations = []
    for resource in configuration.resources():
        resource_type = resource.labels[0]
        if not resource_type.startswith("aws_") or resource_type in UNTAGGABLE_TYPES:
            continue
        tags = resource.body.get("tags")
        if tags is None:
            violations.append(f"{resource.where()}: no tags")
        elif tags_reference not in expression(tags):
            violations.append(f"{resource.where()}: tags do not include {tags_reference}")
    return violations


def providers_without_default_tags(configuration: Configuration) -> list[str]:
    violations = []
    declared = configuration.locals.get("default_tags")
    if not isinstance(declared, dict):
        return [f"{configuration.directory.relative_to(REPO_ROOT)}: no locals.default_tags map"]
    missing = REQUIRED_DEFAULT_TAGS - set(declared)
    if missing:
        violations.append(f"{configuration.directory.relative_to(REPO_ROOT)}: default_tags lacks {sorted(missing)}")
    providers = [block for block in configuration.of_kind("provider") if block.labels[0] == "aws"]
    if not providers:
        violations.append(f"{configuration.directory.relative_to(REPO_ROOT)}: no aws provider")
    for provider in providers:
        default_tags = _nested(provider.body, "default_tags")
        if not isinstance(default_tags, dict) or expression(default_tags.get("tags")) != "local.default_tags":
            alias = unquote(provider.body.get("alias", "default"))
            violations.append(f"{provider.where()} ({alias}): default_tags is not local.default_tags")
    return violations


def _ports(body: dict[str, Any]) -> tuple[Any, Any]:
    return expression(body.get("from_port")), expression(body.get("to_port"))


def _opens_internet(cidrs: Any, configuration: Configuration) -> bool:
    resolved = _resolve(cidrs, configuration)
    values = resolved if isinstance(resolved, list) else [resolved]
    for value in values:
        element = _resolve(value, configuration)
        for cidr in element if isinstance(element, list) else [element]:
            if cidr is not None and expression(cidr) in (OPEN_IPV4, OPEN_IPV6):
                return True
    return False


def internet_ingress(configuration: Configuration) -> list[str]:
    """No security group admits 0.0.0.0/0 or ::/0, except the ALB on 443."""
    openings: list[tuple[Block, tuple[Any, Any]]] = []
    for rule in configuration.resources("aws_vpc_security_group_ingress_rule"):
        if _opens_internet(rule.body.get("cidr_ipv4"), configuration) or _opens_internet(
            rule.body.get("cidr_ipv6"), configuration
        ):
            openings.append((rule, _ports(rule.body)))
    for rule in configuration.resources("aws_security_group_rule"):
        if expression(rule.body.get("type")) == "ingress" and (
            _opens_internet(rule.body.get("cidr_blocks"), configuration)
            or _opens_internet(rule.body.get("ipv6_cidr_blocks"), configuration)
        ):
            openings.append((rule, _ports(rule.body)))
    for group in configuration.resources("aws_security_group"):
        for ingress in group.body.get("ingress", []) or []:
            if _opens_internet(ingress.get("cidr_blocks"), configuration) or _opens_internet(
                ingress.get("ipv6_cidr_blocks"), configuration
            ):
                openings.append((group, _ports(ingress)))

    allowed_port = str(INTERNET_INGRESS_ALLOWED_PORT)
    return [
        f"{block.where()}: admits the internet on {ports[0]}-{ports[1]}"
        for block, ports in openings
        if not (configuration.module_name == INTERNET_INGRESS_ALLOWED_MODULE and ports == (allowed_port, allowed_port))
    ]


def _is_customer_managed_key(value: Any, configuration: Configuration) -> bool:
    if value is None:
        return False
    text = expression(value)
    if not text or "alias/aws/" in text:
        return False
    match = re.fullmatch(r"var\.([A-Za-z0-9_]+)", text)
    if match:
        # A key passed in must be required: a default of null or "" would silently fall back to an AWS key.
        default = configuration.variable_defaults().get(match.group(1), _NO_DEFAULT)
        return default is _NO_DEFAULT
    return True


def unencrypted_data_stores(configuration: Configuration) -> list[str]:
    """Every data store is encrypted with a customer-managed KMS key."""
    violations = []
    for resource_type, requirements in ENCRYPTION_RULES.items():
        for resource in configuration.resources(resource_type):
            for path, wanted in requirements:
                value = _nested(resource.body, path)
                if wanted == "key":
                    if not _is_customer_managed_key(value, configuration):
                        violations.append(f"{resource.where()}: {path} is not a customer-managed key")
                elif expression(value) != wanted:
                    actual = expression(value) if value is not None else "unset"
                    violations.append(f"{resource.where()}: {path} is {actual}, not {wanted}")

    encrypted_buckets: dict[str, bool] = {}
    for config in configuration.resources("aws_s3_bucket_server_side_encryption_configuration"):
        bucket = re.match(r"aws_s3_bucket\.([A-Za-z0-9_]+)\.", expression(config.body.get("bucket")))
        default = _nested(config.body, "rule.apply_server_side_encryption_by_default")
        uses_key = (
            isinstance(default, dict)
            and expression(default.get("sse_algorithm")) in ("aws:kms", "aws:kms:dsse")
            and _is_customer_managed_key(default.get("kms_master_key_id"), configuration)
        )
        if bucket:
            encrypted_buckets[bucket.group(1)] = uses_key
    for bucket in configuration.resources("aws_s3_bucket"):
        name = bucket.labels[1]
        if (configuration.module_name, name) in SSE_S3_ONLY_BUCKETS:
            continue
        if not encrypted_buckets.get(name, False):
            violations.append(f"{bucket.where()}: no default encryption with a customer-managed key")
    return violations


def collect(rule: Any, configurations: Iterable[Configuration], *args: Any) -> list[str]:
    return [violation for configuration in configurations for violation in rule(configuration, *args)]


################################################################################
# References: what `terraform validate` would reject first, checked without providers
################################################################################

META_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "for_each", "count"})
_VAR = re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)")
_LOCAL = re.compile(r"\blocal\.([A-Za-z_][A-Za-z0-9_]*)")
_MODULE_OUTPUT = re.compile(r"\bmodule\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")
_DATA = re.compile(r"\bdata\.([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")
_RESOURCE = re.compile(r"(?<![.\w])((?:aws|random)_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_]*)")


def _expressions(value: Any) -> Iterator[str]:
    """Every ${...} expression in a parsed body (keys of nested blocks included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("__"):
                continue
            yield from _expressions(key)
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)
    elif isinstance(value, str) and "${" in value:
        yield value


def all_expressions(configuration: Configuration) -> Iterator[tuple[Block | None, str]]:
    for block in configuration.blocks:
        for text in _expressions(block.body):
            yield block, text
    for text in _expressions(configuration.locals):
        yield None, text


def _label(block: Block | None, configuration: Configuration) -> str:
    return block.where() if block else f"{configuration.directory.relative_to(REPO_ROOT)}: locals"


def unresolved_references(configuration: Configuration) -> list[str]:
    """var., local., resource, data and module-output references that point at nothing."""
    variables = {block.labels[0] for block in configuration.of_kind("variable")}
    resources = {block.labels[:2] for block in configuration.resources()}
    data_sources = {block.labels[:2] for block in configuration.of_kind("data")}
    module_outputs = {}
    for call in configuration.of_kind("module"):
        target = (configuration.directory / unquote(call.body["source"])).resolve()
        module_outputs[call.labels[0]] = {block.labels[0] for block in load_directory(target).of_kind("output")}

    violations = set()
    for block, text in all_expressions(configuration):
        where = _label(block, configuration)
        violations.update(
            f"{where}: var.{name} is not declared" for name in _VAR.findall(text) if name not in variables
        )
        violations.update(
            f"{where}: local.{name} is not defined" for name in _LOCAL.findall(text) if name not in configuration.locals
        )
        for module, output in _MODULE_OUTPUT.findall(text):
            if module not in module_outputs:
                violations.add(f"{where}: module.{module} is not called here")
            elif output not in module_outputs[module]:
                violations.add(f"{where}: module.{module} has no output {output}")
        without_data = _DATA.sub("", text)
        violations.update(
            f"{where}: data.{kind}.{name} is not declared"
            for kind, name in _DATA.findall(text)
            if (kind, name) not in data_sources
        )
        violations.update(
            f"{where}: {kind}.{name} is not declared"
            for kind, name in _RESOURCE.findall(without_data)
            if (kind, name) not in resources
        )
    return sorted(violations)


def unused_variables(configuration: Configuration) -> list[str]:
    used = {name for _, text in all_expressions(configuration) for name in _VAR.findall(text)}
    return [
        f"{block.where()}: declared but never used"
        for block in configuration.of_kind("variable")
        if block.labels[0] not in used
    ]


def mismatched_module_calls(configuration: Configuration) -> list[str]:
    """Each module call passes only variables the module declares, and every one without a default."""
    violations = []
    for call in configuration.of_kind("module"):
        target = load_directory((configuration.directory / unquote(call.body["source"])).resolve())
        declared = target.variable_defaults()
        passed = {key for key in call.body if not key.startswith("__") and key not in META_ARGUMENTS}
        violations += [
            f"{call.where()}: passes {name}, which the module does not declare"
            for name in sorted(passed - set(declared))
        ]
        violations += [
            f"{call.where()}: does not pass {name}, which has no default"
            for name, default in sorted(declared.items())
            if default is _NO_DEFAULT and name not in passed
        ]
    return violations

#!/usr/bin/env bash
# The steps of a production release, one subcommand each, as .github/workflows/cd.yml runs them.
# Needs the AWS CLI v2, docker and jq (all on GitHub's ubuntu runners) and AWS credentials of the
# bootstrap stack's -github-deploy role.
#
#   build-and-push  build the image once, push it, print digest=sha256:... to $GITHUB_OUTPUT
#   record-current  remember each service's running task definition (the rollback target)
#   migrate         run each service's migrations as a one-off ECS task on the new image (expand)
#   deploy          register a task definition revision per service with the image by digest,
#                   update the services, wait, and fail if ECS's circuit breaker rolled any back
#   smoke-test      ask the public API for /healthz and /readyz
#   rollback        put every service back on its recorded task definition
#
# Environment: AWS_REGION, CLUSTER, REPOSITORY, SERVICES, MIGRATING_SERVICES, SUBNETS (comma
# separated), SECURITY_GROUP, API_URL, IMAGE_DIGEST, GIT_SHA; STATE_DIR (default $RUNNER_TEMP).
set -euo pipefail

STATE_DIR="${STATE_DIR:-${RUNNER_TEMP:-/tmp}}"
PREVIOUS="$STATE_DIR/previous-task-definitions"
MIGRATION_TIMEOUT_SECONDS="${MIGRATION_TIMEOUT_SECONDS:-1200}"

registry() {
  local account
  account="$(aws sts get-caller-identity --query Account --output text)"
  echo "${account}.dkr.ecr.${AWS_REGION}.amazonaws.com"
}

# A copy of the task definition in $1 (family or ARN) with every container of our repository
# switched to the image at digest $2, ready for register-task-definition.
render_task_definition() {
  local source="$1" digest="$2" image_base described
  image_base="$(registry)/${REPOSITORY}"
  described="$(aws ecs describe-task-definition --task-definition "$source" --include TAGS --output json)"
  jq --arg base "$image_base" --arg digest "$digest" '
      (.tags // []) as $tags
      | .taskDefinition
      | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
            .registeredAt, .registeredBy, .deregisteredAt)
      | .containerDefinitions |= map(
          if (.image | startswith($base)) then .image = ($base + "@" + $digest) else . end)
      | if ($tags | length) > 0 then . + {tags: $tags} else . end
    ' <<<"$described"
}

register() {
  local rendered="$1"
  aws ecs register-task-definition --cli-input-json "file://$rendered" \
    --query taskDefinition.taskDefinitionArn --output text
}

build_and_push() {
  local registry_host image digest
  registry_host="$(registry)"
  image="${registry_host}/${REPOSITORY}"
  aws ecr get-login-password --region "$AWS_REGION" |
    docker login --username AWS --password-stdin "$registry_host" >/dev/null
  # Tags are immutable: a re-run of the same commit reuses the image it already pushed.
  digest="$(aws ecr describe-images --repository-name "$REPOSITORY" --image-ids "imageTag=${GIT_SHA}" \
    --query 'imageDetails[0].imageDigest' --output text 2>/dev/null || true)"
  if [[ -z "$digest" || "$digest" == "None" ]]; then
    docker build --pull --label "org.opencontainers.image.revision=${GIT_SHA}" -t "${image}:${GIT_SHA}" .
    docker push "${image}:${GIT_SHA}"
    digest="$(docker inspect --format '{{index .RepoDigests 0}}' "${image}:${GIT_SHA}")"
    digest="${digest#*@}"
  fi
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "no image digest for ${GIT_SHA}: $digest" >&2; return 1; }
  echo "image ${image}@${digest}"
  echo "digest=${digest}" >>"${GITHUB_OUTPUT:-/dev/stdout}"
}

record_current() {
  : >"$PREVIOUS"
  local service arn
  for service in $SERVICES; do
    arn="$(aws ecs describe-services --cluster "$CLUSTER" --services "$service" \
      --query 'services[0].taskDefinition' --output text)"
    echo "$service $arn" >>"$PREVIOUS"
  done
  cat "$PREVIOUS"
}

migrate() {
  local service rendered arn task exit_code waited
  for service in $MIGRATING_SERVICES; do
    rendered="$(mktemp)"
    render_task_definition "${CLUSTER}-migrate-${service}" "$IMAGE_DIGEST" >"$rendered"
    arn="$(register "$rendered")"
    echo "migrating ${service} with ${arn}"
    task="$(aws ecs run-task --cluster "$CLUSTER" --task-definition "$arn" --count 1 \
      --capacity-provider-strategy capacityProvider=FARGATE,weight=1 \
      --network-configuration "awsvpcConfiguration={subnets=[${SUBNETS}],securityGroups=[${SECURITY_GROUP}],assignPublicIp=DISABLED}" \
      --started-by "release-${GIT_SHA:-manual}" --query 'tasks[0].taskArn' --output text)"
    waited=0
    until [[ "$(aws ecs describe-tasks --cluster "$CLUSTER" --tasks "$task" \
      --query 'tasks[0].lastStatus' --output text)" == "STOPPED" ]]; do
      sleep 10
      waited=$((waited + 10))
      if ((waited > MIGRATION_TIMEOUT_SECONDS)); then
        aws ecs stop-task --cluster "$CLUSTER" --task "$task" --reason "migration timed out" >/dev/null
        echo "migration of ${service} did not finish in ${MIGRATION_TIMEOUT_SECONDS}s" >&2
        return 1
      fi
    done
    # shellcheck disable=SC2016 # the backquotes are JMESPath literals, not shell
    exit_code="$(aws ecs describe-tasks --cluster "$CLUSTER" --tasks "$task" \
      --query 'tasks[0].containers[?name==`migrate`].exitCode | [0]' --output text)"
    if [[ "$exit_code" != "0" ]]; then
      echo "migration of ${service} failed (exit ${exit_code}); see log group /ecs/${CLUSTER}/migrations" >&2
      return 1
    fi
  done
}

deploy() {
  local service rendered arn expected actual state
  declare -A expected_by_service=()
  # The gRPC services first, the gateway (last in SERVICES) once they serve the new contract.
  for service in $SERVICES; do
    rendered="$(mktemp)"
    render_task_definition "$(awk -v s="$service" '$1 == s {print $2}' "$PREVIOUS")" "$IMAGE_DIGEST" >"$rendered"
    arn="$(register "$rendered")"
    expected_by_service[$service]="$arn"
    aws ecs update-service --cluster "$CLUSTER" --service "$service" --task-definition "$arn" >/dev/null
    echo "deploying ${service}: ${arn}"
  done
  # services-stable returns once each service has settled, whether on the new revision or, after
  # the circuit breaker fired, back on the old one; so check which revision each one runs.
  # shellcheck disable=SC2086 # SERVICES is a space-separated list on purpose
  aws ecs wait services-stable --cluster "$CLUSTER" --services $SERVICES
  for service in $SERVICES; do
    expected="${expected_by_service[$service]}"
    # shellcheck disable=SC2016 # the backquotes are JMESPath literals, not shell
    actual="$(aws ecs describe-services --cluster "$CLUSTER" --services "$service" \
      --query 'services[0].deployments[?status==`PRIMARY`].taskDefinition | [0]' --output text)"
    # shellcheck disable=SC2016
    state="$(aws ecs describe-services --cluster "$CLUSTER" --services "$service" \
      --query 'services[0].deployments[?status==`PRIMARY`].rolloutState | [0]' --output text)"
    if [[ "$actual" != "$expected" || "$state" != "COMPLETED" ]]; then
      echo "${service} did not roll out (${state}, running ${actual}); ECS rolled it back" >&2
      return 1
    fi
  done
}

smoke_test() {
  local path
  for path in /healthz /readyz; do
    curl --fail --silent --show-error --max-time 10 --retry 6 --retry-delay 10 --retry-all-errors \
      "${API_URL}${path}" >/dev/null
    echo "ok ${API_URL}${path}"
  done
}

rollback() {
  if [[ ! -s "$PREVIOUS" ]]; then
    echo "nothing recorded to roll back to" >&2
    return 1
  fi
  local service arn
  local rolled_back=()
  while read -r service arn; do
    echo "rolling ${service} back to ${arn}"
    aws ecs update-service --cluster "$CLUSTER" --service "$service" --task-definition "$arn" >/dev/null
    rolled_back+=("$service")
  done <"$PREVIOUS"
  aws ecs wait services-stable --cluster "$CLUSTER" --services "${rolled_back[@]}"
}

case "${1:-}" in
  build-and-push) build_and_push ;;
  record-current) record_current ;;
  migrate) migrate ;;
  deploy) deploy ;;
  smoke-test) smoke_test ;;
  rollback) rollback ;;
  *)
    echo "usage: $0 build-and-push|record-current|migrate|deploy|smoke-test|rollback" >&2
    exit 2
    ;;
esac

#!/usr/bin/env python3
"""CloudFormation's per-stack limits, checked offline on the generated templates.

Transforms `template.yaml` and every `infra/stacks/*.yaml` under ROOT with
aws-sam-translator (what CloudFormation's SAM transform runs) and checks each
stack against the limits, with headroom below CloudFormation's own:

    resources  <= 400 (CloudFormation: 500)
    body       <= 1 MB, the template as submitted and as transformed
    parameters <= 200
    outputs    <= 200

    infra/stack_limits.py ROOT

Prints one line per stack and, last, a JSON summary; exits 1 when a stack is
over a limit or fails to transform. Needs aws-sam-translator and PyYAML
(infra/test-tools.sh installs both into the project venv).
"""

import copy
import glob
import json
import logging
import os
import sys

import yaml
from samtranslator.translator.transform import transform

MAX_RESOURCES = 400
MAX_BODY_BYTES = 1024 * 1024
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only when a template
    names one by its short name; ours never do."""

    def load(self):
        return {}


def as_packaged(template):
    """What `sam package` would submit: local code and nested templates
    replaced by S3 locations. Counts are unchanged by it."""
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = f"s3://konnecs-artifacts/{logical_id}.zip"
        if kind == "AWS::Serverless::Application" and isinstance(properties.get("Location"), str):
            properties["Location"] = f"https://konnecs-artifacts.s3.amazonaws.com/{logical_id}.template"
    return packaged


def check(path):
    with open(path, "rb") as handle:
        body = handle.read()
    template = yaml.safe_load(body)
    transformed = transform(as_packaged(template), {}, NoManagedPolicies())
    transformed_bytes = len(json.dumps(transformed, separators=(",", ":")).encode())
    resources = transformed.get("Resources", {})
    kinds = {}
    for resource in resources.values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    figures = {
        "path": path,
        "resources": len(resources),
        "parameters": len(transformed.get("Parameters", {})),
        "outputs": len(transformed.get("Outputs", {})),
        "body_bytes": len(body),
        "transformed_bytes": transformed_bytes,
        "functions": kinds.get("AWS::Lambda::Function", 0),
        "nested_stacks": kinds.get("AWS::CloudFormation::Stack", 0),
    }
    problems = []
    if figures["resources"] > MAX_RESOURCES:
        problems.append(f"{figures['resources']} resources > {MAX_RESOURCES}")
    if figures["parameters"] > MAX_PARAMETERS:
        problems.append(f"{figures['parameters']} parameters > {MAX_PARAMETERS}")
    if figures["outputs"] > MAX_OUTPUTS:
        problems.append(f"{figures['outputs']} outputs > {MAX_OUTPUTS}")
    for key in ("body_bytes", "transformed_bytes"):
        if figures[key] > MAX_BODY_BYTES:
            problems.append(f"{key} {figures[key]} > {MAX_BODY_BYTES}")
    figures["problems"] = problems
    return figures


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # The translator warns of metrics it was never asked to publish.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    paths = [os.path.join(root, "template.yaml")]
    paths += sorted(glob.glob(os.path.join(root, "infra", "stacks", "*.yaml")))
    results = []
    failed = False
    for path in paths:
        try:
            figures = check(path)
        except Exception as err:  # a template the transform refuses is a failure too
            figures = {"path": path, "problems": [f"transform failed: {err}"]}
        results.append(figures)
        failed = failed or bool(figures["problems"])
        line = (
            f"{os.path.relpath(path, root)}: {figures.get('resources', '?')} resources, "
            f"{figures.get('functions', '?')} functions, {figures.get('nested_stacks', '?')} nested stacks, "
            f"{figures.get('parameters', '?')} parameters, "
            f"{figures.get('outputs', '?')} outputs, {figures.get('body_bytes', '?')} B "
            f"({figures.get('transformed_bytes', '?')} B transformed)"
        )
        print(line + ("" if not figures["problems"] else "  OVER: " + "; ".join(figures["problems"])))
    print(json.dumps({"stacks": results, "ok": not failed}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

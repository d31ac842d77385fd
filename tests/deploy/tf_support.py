"""Helpers shared by the deployment tests: find terraform and its provider mirror, write the
offline CLI config, and build the override file that points the AWS provider at moto."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
CLI_CONFIG_TEMPLATE = TERRAFORM_DIR / "offline.tfrc.template"
PROVIDER = "registry.terraform.io/hashicorp/aws"

# Where provider mirrors usually live; the first that holds the AWS provider wins.
MIRROR_ROOTS = [
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/opt/terraform/plugins",
]

# Every AWS API the configuration touches, by the provider's endpoint names.
MOTO_SERVICES = [
    "appautoscaling",
    "cloudwatch",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "iam",
    "kms",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "servicediscovery",
    "sts",
]


def find_terraform() -> str | None:
    return shutil.which("terraform")


def _holds_aws_provider(root: Path) -> bool:
    return any(root.glob(f"{PROVIDER}/5.*/*/terraform-provider-aws_*"))


def find_provider_mirror() -> Path | None:
    """Return a filesystem mirror directory holding hashicorp/aws 5.x, or None."""
    env = os.environ.get("TF_PLUGIN_MIRROR")
    candidates = [env] if env else []
    candidates += MIRROR_ROOTS
    for candidate in candidates:
        for root in glob.glob(os.path.expanduser(candidate)):
            if _holds_aws_provider(Path(root)):
                return Path(root)
    # Fallback: look a few levels down the usual install roots.
    for base in ("/opt", "/usr/local", "/usr/share", os.path.expanduser("~")):
        if not os.path.isdir(base):
            continue
        found = subprocess.run(
            ["find", base, "-maxdepth", "6", "-type", "d", "-path", f"*/{PROVIDER}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.split()
        for path in found:
            root = Path(path).parents[2]
            if _holds_aws_provider(root):
                return root
    return None


def write_cli_config(mirror: Path, dest: Path) -> Path:
    """Fill the repository's CLI config template with the mirror path."""
    text = CLI_CONFIG_TEMPLATE.read_text().replace("@MIRROR@", str(mirror))
    dest.write_text(text)
    return dest


def terraform_env(cli_config: Path, data_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    if data_dir is not None:
        env["TF_DATA_DIR"] = str(data_dir)
    return env


def copy_terraform(dest: Path) -> Path:
    """Copy the configuration without local state or provider caches."""
    shutil.copytree(
        TERRAFORM_DIR,
        dest,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"),
    )
    return dest


def moto_override(endpoint: str) -> str:
    """Provider settings that send every call to moto with fake credentials."""
    endpoints = "\n".join(f'    {svc:<16} = "{endpoint}"' for svc in MOTO_SERVICES)
    return f"""# Written by tests/deploy: send the AWS provider to a local moto server.
provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""

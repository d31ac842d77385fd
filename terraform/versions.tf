terraform {
  required_version = ">= 1.5.7"

  required_providers {
    # Pinned to one minor release: CI validates and applies against exactly this provider.
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100.0"
    }
  }
}

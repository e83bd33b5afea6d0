bucket         = "manimfarm-terraform-state"
key            = "prod/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "manimfarm-terraform-locks"
encrypt        = true

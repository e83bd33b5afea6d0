bucket         = "manimfarm-terraform-state"
key            = "staging/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "manimfarm-terraform-locks"
encrypt        = true

"""Dataset models (see issue: datasets). Empty until the datasets work lands."""

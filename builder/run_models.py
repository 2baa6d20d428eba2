"""Training run models (see issue: training runs). Empty until the training work lands."""

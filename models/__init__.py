"""distillguard detection engine."""
